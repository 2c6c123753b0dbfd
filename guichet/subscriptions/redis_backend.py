"""broadcaster's Redis backend, made to survive Redis going away.

broadcaster 0.3.1's own RedisBackend has three faults that matter in service:
- it marks its listener ready *before* sending SUBSCRIBE, so with redis-py 8 the first
  subscriber of a fresh connection can wait forever for events that were published;
- when Redis drops the connection its listener dies, and every process stays deaf until
  it is restarted (existing subscriptions get nothing, new ones fail);
- it never closes what its listener opened.

Here one listener task owns the subscribing connection for the life of the process. It is
always subscribed to a channel of its own, so redis-py's `listen()` never ends for lack of
channels; on any connection failure it closes that connection, waits (exponential back-off
with jitter, at most MAX_BACKOFF_SECONDS), connects again, subscribes every channel that
has a subscriber, and then hands every such channel a RESUMED message: events published
while it was away may be lost, and subscribers replay them from the database.
`subscribe` returns once Redis has confirmed the SUBSCRIBE (or at once while Redis is
away: the channel is subscribed on reconnection, followed by RESUMED), so an event
published after it returns is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from typing import Any

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from redis import asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger("guichet.bus")

CONFIRM_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
# Publishing happens in a request, after its commit: fail fast rather than hold it.
PUBLISH_TIMEOUT_SECONDS = 2.0
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 2.0
# A silent network (no reset) is noticed by a PING on the idle subscribing connection.
HEALTH_CHECK_SECONDS = 5
# The text of the message handed to subscribers after a reconnection (see bus.RESUMED).
RESUMED_MESSAGE = '{"resumed":true}'


def _client(url: str, **timeouts: float) -> redis.Redis:
    # No silent retries: a failure must reach the listener, which resubscribes and tells
    # subscribers to replay; redis-py reconnecting by itself would hide the gap.
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 0), **timeouts
    )


class ReconnectingRedisBackend(BroadcastBackend):
    def __init__(self, url: str) -> None:
        self._publisher = _client(url, socket_timeout=PUBLISH_TIMEOUT_SECONDS)
        self._subscriber = _client(url, health_check_interval=HEALTH_CHECK_SECONDS)
        self._own_channel = f"guichet-bus:{uuid.uuid4().hex}"
        self._channels: set[str] = set()
        self._confirmations: dict[str, asyncio.Event] = {}
        self._pubsub: Any = None
        self._connected = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None
        self.outages = 0  # connections lost since start: tests and logs read it

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    async def connect(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="guichet-bus-listener")
        # A process may start while Redis is away: it serves, /healthz says the pub/sub is
        # unreachable, and the listener keeps trying. Wait a little for the usual case.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                await self._connected.wait()

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is None or not self._connected.is_set():
            return  # subscribed on reconnection, then told RESUMED
        confirmed = self._confirmations.setdefault(channel, asyncio.Event())
        try:
            await pubsub.subscribe(channel)
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
            # as the confirmation does, and the cancelled subscriber then listens forever.
            async with asyncio.timeout(CONFIRM_TIMEOUT_SECONDS):
                await confirmed.wait()
        except (redis.ConnectionError, redis.TimeoutError, OSError, TimeoutError) as error:
            # The listener sees the same failure: it resubscribes and sends RESUMED.
            log.warning("subscribing %s failed (%s); it follows the reconnection", channel, error)
        finally:
            self._confirmations.pop(channel, None)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._confirmations.pop(channel, None)
        pubsub = self._pubsub
        if pubsub is not None and self._connected.is_set():
            with contextlib.suppress(redis.RedisError, OSError):
                await pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._publisher.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def ping(self) -> None:
        """Raises unless both the publishing and the subscribing connections work."""
        if not self._connected.is_set():
            raise redis.ConnectionError("the pub/sub listener is reconnecting")
        await self._publisher.ping()

    async def _listen_forever(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        lost = False
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self._own_channel, *self._channels)
                self._pubsub = pubsub
                self._connected.set()
                if lost:
                    log.warning("pub/sub reconnected; subscribers replay what they missed")
                    for channel in list(self._channels):
                        self._queue.put_nowait(Event(channel=channel, message=RESUMED_MESSAGE))
                backoff, lost = FIRST_BACKOFF_SECONDS, False
                async for message in pubsub.listen():
                    self._receive(message)
                raise redis.ConnectionError("the subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: start over on a new connection
                self._connected.clear()
                self._pubsub = None
                if not lost:
                    self.outages += 1
                    log.warning("pub/sub connection lost (%s); reconnecting", error)
                lost = True
            finally:
                self._pubsub = None
                await pubsub.aclose()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"].decode()
        if kind == "message" and channel != self._own_channel:
            self._queue.put_nowait(Event(channel=channel, message=message["data"].decode()))
        elif kind == "subscribe":
            confirmed = self._confirmations.get(channel)
            if confirmed is not None:
                confirmed.set()
