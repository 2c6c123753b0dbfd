"""The event bus: broadcaster over memory:// (one process) or redis:// (many).

Payloads are JSON objects. Publishers call `publish` only after their transaction has
committed, so a subscriber never sees an event for a change that was rolled back; and
`publish` never raises: the change is stored, so a failure to announce it is logged and
subscribers catch up by replaying from the database (see RESUMED).

Every channel is named `<prefix><topic>`: deployments sharing one Redis set different
prefixes (GUICHET_TOPIC_PREFIX) and never hear each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from broadcaster import Broadcast

from guichet.subscriptions.redis_backend import RESUMED_MESSAGE, ReconnectingRedisBackend

log = logging.getLogger("guichet.bus")

# Yielded (this very object: test with `is`) to every subscriber once the bus has lost its
# pub/sub server and connected again: what was published in between may not have arrived,
# so a subscriber replays it from the database after the last id it delivered.
RESUMED: dict[str, Any] = {"resumed": True}

# While the pub/sub server is away, one warning per this many seconds, not one per write.
FAILURE_LOG_INTERVAL_SECONDS = 10.0


def _still_cancelled() -> None:
    """Raise CancelledError if the current task was cancelled during a publish that did not
    say so. redis-py's asyncio client can return normally (or with an error) from a command
    cancelled in flight (seen with redis-py 8.2: about one cancel in 150): a failed publish is
    swallowed, a cancellation never is, or the cancelled task would carry on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


class Bus:
    def __init__(self, url: str, prefix: str = "") -> None:
        self.url = url
        self.prefix = prefix
        self._backend = ReconnectingRedisBackend(url) if url.startswith("redis") else None
        self._broadcast = Broadcast(backend=self._backend) if self._backend else Broadcast(url)
        # topic -> [lock, tasks holding or waiting for it]
        self._topic_locks: dict[str, list[Any]] = {}
        self._last_failure_logged = 0.0
        self.failed_publishes = 0

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        # broadcaster cancels its listener without waiting for it: wait here, so nothing
        # of the bus outlives the process's shutdown.
        listener = getattr(self._broadcast, "_listener_task", None)
        await self._broadcast.disconnect()
        if listener is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def ping(self) -> None:
        """Raises when the pub/sub server cannot be reached."""
        if self._backend is not None:
            await self._backend.ping()

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Announce a committed change. Never raises (a cancellation still propagates): see
        the module's docstring."""
        try:
            await self._broadcast.publish(self.prefix + topic, orjson.dumps(payload).decode())
        except Exception as error:
            _still_cancelled()
            self.failed_publishes += 1
            now = time.monotonic()
            if now - self._last_failure_logged >= FAILURE_LOG_INTERVAL_SECONDS:
                self._last_failure_logged = now
                log.warning(
                    "publishing to the pub/sub failed (%s: %s); subscribers will replay "
                    "from the database (%d failed so far)",
                    type(error).__name__,
                    error,
                    self.failed_publishes,
                )
        _still_cancelled()

    @asynccontextmanager
    async def _topic_lock(self, topic: str) -> AsyncIterator[None]:
        entry = self._topic_locks.setdefault(topic, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._topic_locks[topic]

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Once entered, every event published to the topic is received, or RESUMED
        after an outage of the pub/sub server."""
        channel = self.prefix + topic
        # broadcaster's `subscribe` is not safe for two tasks entering (or leaving) one topic
        # at once: both see no subscriber, both subscribe the backend, the second replaces
        # the first's queue (which then never receives) and leaving raises KeyError. With
        # Redis the backend call awaits, so this happens: one topic changes hands one task
        # at a time.
        subscription = self._broadcast.subscribe(channel)
        async with self._topic_lock(channel):
            subscriber = await subscription.__aenter__()
        try:

            async def payloads() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:
                    if event is None:
                        continue
                    if event.message == RESUMED_MESSAGE:
                        yield RESUMED
                    else:
                        yield orjson.loads(event.message)

            yield payloads()
        finally:
            # Shielded: a cancelled subscriber must still leave, or its queue stays behind.
            await asyncio.shield(self._leave(channel, subscription))

    async def _leave(self, channel: str, subscription: Any) -> None:
        async with self._topic_lock(channel):
            await subscription.__aexit__(None, None, None)
