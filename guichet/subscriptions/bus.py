"""The event bus: broadcaster over memory:// (one process) or redis:// (many).

Payloads are JSON objects. Publishers call `publish` only after their transaction has
committed (see `after_commit`), so a subscriber never sees an event for a change that
was rolled back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from broadcaster import Broadcast

from guichet.subscriptions.redis_backend import SubscribedFirstRedisBackend

# Yielded (this very object: test with `is`) to every subscriber once the bus has lost its
# pub/sub server and connected again: what was published in between may not have arrived,
# so a subscriber replays it from the database after the last id it delivered.
RESUMED: dict[str, Any] = {"resumed": True}


class Bus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._backend = SubscribedFirstRedisBackend(url) if url.startswith("redis") else None
        self._broadcast = Broadcast(backend=self._backend) if self._backend else Broadcast(url)
        # topic -> [lock, tasks holding or waiting for it]
        self._topic_locks: dict[str, list[Any]] = {}

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        await self._broadcast.disconnect()

    async def ping(self) -> None:
        """Raises when the pub/sub server cannot be reached."""
        if self._backend is not None:
            await self._backend.ping()

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await self._broadcast.publish(topic, orjson.dumps(payload).decode())

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
        """Once entered, every event published to the topic is received."""
        # broadcaster's `subscribe` is not safe for two tasks entering (or leaving) one topic
        # at once: both see no subscriber, both subscribe the backend, the second replaces
        # the first's queue (which then never receives) and leaving raises KeyError. With
        # Redis the backend call awaits, so this happens: one topic changes hands one task
        # at a time.
        subscription = self._broadcast.subscribe(topic)
        async with self._topic_lock(topic):
            subscriber = await subscription.__aenter__()
        try:

            async def payloads() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:
                    if event is not None:
                        yield orjson.loads(event.message)

            yield payloads()
        finally:
            # Shielded: a cancelled subscriber must still leave, or its queue stays behind.
            await asyncio.shield(self._leave(topic, subscription))

    async def _leave(self, topic: str, subscription: Any) -> None:
        async with self._topic_lock(topic):
            await subscription.__aexit__(None, None, None)
