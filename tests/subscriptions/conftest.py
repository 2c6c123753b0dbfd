"""A pub/sub outage, simulated on the app's own bus, for the subscription tests.

The bus hands its subscribers `bus.RESUMED` once it has lost its pub/sub server and got it
back (tests/subscriptions/test_bus.py kills a real Redis for that). Here the outage is
played on the app's bus, whatever its backend: while `outage.lost()` is active everything
published is dropped, as if Redis were away, and `outage.resume()` then hands every
subscription opened since the fixture started the RESUMED marker. Subscribers are expected
to replay from the database what they missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any

import pytest

from guichet.subscriptions.bus import RESUMED


class Outage:
    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.dropping = False
        self.dropped = 0
        self._queues: list[asyncio.Queue] = []
        self._publish = bus.publish
        self._subscribe = bus.subscribe

    @contextmanager
    def lost(self) -> Iterator[None]:
        """Everything published meanwhile is lost."""
        self.dropping = True
        try:
            yield
        finally:
            self.dropping = False

    def resume(self) -> None:
        """The bus is back: each open subscription receives RESUMED."""
        for queue in self._queues:
            queue.put_nowait(RESUMED)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if self.dropping:
            self.dropped += 1
            return
        await self._publish(topic, payload)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._subscribe(topic) as events:
            queue: asyncio.Queue = asyncio.Queue()

            async def pump() -> None:
                async for event in events:
                    queue.put_nowait(event)

            async def merged() -> AsyncIterator[dict[str, Any]]:
                while True:
                    yield await queue.get()

            pumping = asyncio.create_task(pump())
            self._queues.append(queue)
            try:
                yield merged()
            finally:
                self._queues.remove(queue)
                pumping.cancel()
                with suppress(asyncio.CancelledError):
                    await pumping


@pytest.fixture
def outage(app, monkeypatch: pytest.MonkeyPatch) -> Outage:
    """Put in place before the subscriptions it is to reach are opened."""
    simulated = Outage(app.state.bus)
    monkeypatch.setattr(app.state.bus, "publish", simulated.publish)
    monkeypatch.setattr(app.state.bus, "subscribe", simulated.subscribe)
    return simulated
