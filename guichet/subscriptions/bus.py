"""The event bus: broadcaster over memory:// (one process) or redis:// (many).

Payloads are JSON objects. Publishers call `publish` only after their transaction has
committed (see `after_commit`), so a subscriber never sees an event for a change that
was rolled back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from broadcaster import Broadcast

from guichet.subscriptions.redis_backend import SubscribedFirstRedisBackend


class Bus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._backend = SubscribedFirstRedisBackend(url) if url.startswith("redis") else None
        self._broadcast = Broadcast(backend=self._backend) if self._backend else Broadcast(url)

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
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Once entered, every event published to the topic is received."""
        async with self._broadcast.subscribe(topic) as subscriber:

            async def payloads() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:
                    if event is not None:
                        yield orjson.loads(event.message)

            yield payloads()
