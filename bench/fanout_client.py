"""The fan-out benchmark's client (bench/fanout.py): websockets' Sans-I/O protocol for the
handshake and what the client sends, frames read by hand, so that 10,000 frames an event
cost the client little (websockets' own reader takes ~20 µs a frame)."""

from __future__ import annotations

import asyncio
import time

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri


class Socket(asyncio.Protocol):
    """One graphql-transport-ws connection: websockets' Sans-I/O protocol on a transport."""

    def __init__(self, uri: str, bench: Bench) -> None:
        self.protocol = ClientProtocol(
            parse_uri(uri), subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
        )
        self.bench = bench
        self.transport: asyncio.Transport | None = None
        self.buffer: bytearray | None = None  # set once the handshake is done
        self.opened = asyncio.get_running_loop().create_future()
        self.acked = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data and self.transport is not None:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.buffer is not None:
            self.buffer += data
            self.frames(now)
            return
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.opened.set_result(None)
                # From here frames are read below: websockets' reader costs ~20 µs a
                # frame, which at 10,000 frames an event would be what is measured.
                self.buffer = bytearray()
            elif event.opcode is Opcode.TEXT:
                self.bench.received(self, orjson.loads(event.data), now)
        self.flush()

    def frames(self, now: float) -> None:
        """Server frames: unmasked, uncompressed (no extension was offered)."""
        buffer, start, end = self.buffer, 0, len(self.buffer)
        while end - start >= 2:
            opcode, size, at = buffer[start] & 0x0F, buffer[start + 1] & 0x7F, start + 2
            if size == 126:
                if end - at < 2:
                    break
                size, at = int.from_bytes(buffer[at : at + 2], "big"), at + 2
            elif size == 127:
                if end - at < 8:
                    break
                size, at = int.from_bytes(buffer[at : at + 8], "big"), at + 8
            if end - at < size:
                break
            payload = bytes(buffer[at : at + size])
            start = at + size
            if opcode == 0x1:
                self.bench.received(self, orjson.loads(payload), now)
            elif opcode == 0x9:
                self.protocol.send_pong(payload)
                self.flush()
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self.bench.closed += 1

    def send(self, message: dict) -> None:
        self.protocol.send_text(orjson.dumps(message))
        self.flush()


class Bench:
    def __init__(self, expected_replay: int) -> None:
        self.expected_replay = expected_replay
        self.replayed: dict[str, int] = {}
        self.live = asyncio.Event()
        self.subscriptions = 0
        # event id -> {operation: arrival time}
        self.deliveries: dict[str, dict[str, float]] = {}
        self.duplicates = 0
        self.errors: list = []
        self.closed = 0
        self.replay_done = 0
        self.complete = 0  # events every subscriber has
        self.progress = asyncio.Event()

    def received(self, socket: Socket, message: dict, now: float) -> None:
        kind = message.get("type")
        if kind == "connection_ack":
            socket.acked.set_result(None)
            return
        if kind != "next":
            if kind != "pong":
                self.errors.append(message)
            return
        key = f"{id(socket)}:{message['id']}"
        if "errors" in message["payload"]:
            self.errors.append(message)
            return
        node = message["payload"]["data"]["ticketHistory"]
        event = node["id"]
        seen = self.replayed.get(key, 0)
        if seen < self.expected_replay:
            self.replayed[key] = seen + 1
            if seen + 1 == self.expected_replay:
                self.replay_done += 1
                if self.replay_done == self.subscriptions:
                    self.live.set()
            return
        # Only the comments are timed: the mail each one sends to the requester is in the
        # history too (NOTIFICATION_SENT), one more event a comment.
        if node["kind"] != "COMMENT_ADDED":
            return
        arrivals = self.deliveries.setdefault(event, {})
        if key in arrivals:
            self.duplicates += 1
            return
        arrivals[key] = now
        if len(arrivals) == self.subscriptions:
            self.complete += 1
            self.progress.set()
