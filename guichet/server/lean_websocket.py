"""uvicorn's websocket protocol (websockets' Sans-I/O), lighter per connection.

A server holding thousands of live sockets pays for every object each one keeps. uvicorn's
`WebSocketsSansIOProtocol` keeps, for the connection's whole life, an `asyncio.Queue` of
received messages (four deques: ~3 KiB), an `asyncio.Event` for write flow control (~0.8
KiB) and the handshake's request and response with their headers (~1.5 KiB), though the
last two are done with once the connection is accepted. This subclass keeps the same
protocol with a list-backed inbox and flag (what uvicorn uses of them: `put_nowait`,
`get`, `empty`, `qsize`; `set`, `clear`, `wait`, `is_set`) and lets the handshake go.
`guichet serve` gives it to uvicorn (`ws=`, uvicorn's own setting for the protocol class).
Measured in bench/RESULTS.md (fan-out, RSS per socket and subscription).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class _Waiting:
    """Tasks parked until woken, in arrival order: a plain list, made when first needed."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _park(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)

    def _wake(self, *, every: bool) -> None:
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)
                if not every:
                    return


class Inbox(_Waiting):
    """The received ASGI events, in order; `get` waits for the next."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake(every=False)

    async def get(self) -> Any:
        while not self._items:
            try:
                await self._park()
            except BaseException:
                # Woken, then cancelled before taking the event: the next waiter takes it.
                if self._items:
                    self._wake(every=False)
                raise
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Flag(_Waiting):
    """`asyncio.Event` without a deque: whether the transport may be written to."""

    __slots__ = ("_on",)

    def __init__(self) -> None:
        super().__init__()
        self._on = False

    def is_set(self) -> bool:
        return self._on

    def set(self) -> None:
        self._on = True
        self._wake(every=True)

    def clear(self) -> None:
        self._on = False

    async def wait(self) -> bool:
        if not self._on:
            await self._park()
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "response", None) is not None:
            # Accepted: the handshake's request and response are not read again.
            self.request = None
            self.response = None


# uvicorn's websocket settings, for `guichet serve` and the tests' live servers alike.
WEBSOCKET_OPTIONS: dict[str, Any] = {
    "ws": LeanWebSocketProtocol,
    "ws_max_size": 1024 * 1024,
    # Live events are small JSON frames written to many sockets at once: compression would
    # cost each socket ~100 KiB of zlib state and compress each frame per socket.
    "ws_per_message_deflate": False,
}
