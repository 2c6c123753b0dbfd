"""Writing many ready-made text frames to websockets, cheaply.

An event reaching 10,000 subscriptions is 10,000 text frames. Through ASGI each frame is
two coroutines (Starlette's `send_text`, uvicorn's `send`) and one `write` system call:
about 10 µs, most of the cost of a delivery. So an `Outbox` gathers the frames one socket
gets during one turn of the event loop and, when uvicorn's sans-I/O websocket protocol
carries the socket (uvicorn's default with `websockets` installed), hands them to that
protocol's own websockets connection (which frames, and compresses when the client
negotiated it) and writes them with one `write`, exactly what uvicorn does for each
`websocket.send`, without the per-frame round trip. Flow control is kept: while the socket's
buffer is full (uvicorn paused writing), or under any other server, the frames go through
ASGI's `send_text`, one after the other, in a task of the socket's own, so a slow client
holds up nobody else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from starlette.websockets import WebSocketState
from websockets.protocol import State

try:  # uvicorn's default websocket protocol when `websockets` is installed
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _SansIO,
    )
except ImportError:  # pragma: no cover - another server, or another uvicorn
    _SansIO = None


# Starlette's pass-through `sender` closures looked through to reach uvicorn's `send`.
MAX_WRAPPERS = 3


def _protocol(websocket: Any) -> Any:
    """uvicorn's protocol object behind a Starlette websocket, when it is the sans-I/O one.

    Starlette hands the app uvicorn's `send` wrapped in closures that only watch HTTP
    messages (its exception middleware's `sender`); they are looked through by their free
    variable `send`. Anything else (another server, a wrapper that does more) is None: the
    frames then go through ASGI."""
    send = getattr(websocket, "_send", None)
    for _ in range(MAX_WRAPPERS + 1):
        owner = getattr(send, "__self__", None)
        if _SansIO is not None and isinstance(owner, _SansIO):
            return owner
        names = getattr(getattr(send, "__code__", None), "co_freevars", ())
        if "send" not in names or getattr(send, "__name__", None) != "sender":
            return None
        send = send.__closure__[names.index("send")].cell_contents  # type: ignore[union-attr]
    return None


def _text_frame(text: str) -> bytes:
    """One final, unmasked, uncompressed text frame (RFC 6455 5.2), as a server sends it."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return b"\x81" + size.to_bytes(1, "big") + data
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


class Outbox:
    """Frames waiting for one socket, written in order."""

    __slots__ = ("_flush_soon", "_protocol", "frames", "task", "users", "websocket")

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.frames: deque[str] = deque()
        self.task: asyncio.Task[None] | None = None
        self._flush_soon: asyncio.Handle | None = None
        self._protocol = _protocol(websocket)
        self.users = 0

    def put(self, frame: str) -> None:
        self.frames.append(frame)
        if self.task is None and self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = None
        if not self.frames or self.task is not None:
            return
        protocol = self._protocol
        if (
            protocol is not None
            and protocol.writable.is_set()
            and protocol.handshake_complete
            and not protocol.disconnected
            and not protocol.close_sent
            and not protocol.transport.is_closing()
            and self.websocket.application_state is WebSocketState.CONNECTED
        ):
            connection, frames = protocol.conn, self.frames
            if connection.extensions or connection.state is not State.OPEN:
                while frames:  # compressed, or closing: the connection frames them
                    connection.send_text(frames.popleft().encode())
                protocol.transport.write(b"".join(connection.data_to_send()))
            else:
                protocol.transport.write(b"".join(map(_text_frame, frames)))
                frames.clear()
            return
        self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.frames:
                await self.websocket.send_text(self.frames.popleft())
        except Exception:  # closing or gone: its operations end with the socket
            self.frames.clear()
        finally:
            self.task = None
