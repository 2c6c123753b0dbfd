"""broadcaster's Redis backend, subscribing before it listens.

broadcaster 0.3.1 marks its listener ready *before* sending SUBSCRIBE. The listener
then finds no channel yet, leaves redis-py's `listen()` at once, clears the flag and
waits for a readiness that never comes again: with redis-py 8 a subscriber can wait
forever for events that were published. Here SUBSCRIBE goes first, and `subscribe`
returns only once Redis has confirmed it, so an event published after it returns is
never missed.
"""

from __future__ import annotations

import asyncio

from broadcaster import Event
from broadcaster._backends.redis import RedisBackend

CONFIRM_TIMEOUT_SECONDS = 5.0


class SubscribedFirstRedisBackend(RedisBackend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._confirmations: dict[str, asyncio.Event] = {}

    async def subscribe(self, channel: str) -> None:
        confirmed = self._confirmations.setdefault(channel, asyncio.Event())
        await self._pubsub.subscribe(channel)
        self._ready.set()
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
        # the confirmation does, and the cancelled subscriber then listens forever.
        async with asyncio.timeout(CONFIRM_TIMEOUT_SECONDS):
            await confirmed.wait()

    async def unsubscribe(self, channel: str) -> None:
        self._confirmations.pop(channel, None)
        await self._pubsub.unsubscribe(channel)

    async def ping(self) -> None:
        await self._conn.ping()

    async def _pubsub_listener(self) -> None:
        while True:
            await self._ready.wait()
            async for message in self._pubsub.listen():
                kind = message["type"]
                if kind == "message":
                    await self._queue.put(
                        Event(channel=message["channel"].decode(), message=message["data"].decode())
                    )
                elif kind == "subscribe":
                    confirmed = self._confirmations.get(message["channel"].decode())
                    if confirmed is not None:
                        confirmed.set()
            self._ready.clear()
