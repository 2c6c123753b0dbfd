"""A real SMTP server for the tests: aiosmtpd on loopback, in its own thread."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.conftest import free_port

TIMEOUT = 5.0


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts. It refuses the first
    `refuse` messages handed to it with a 451 (a temporary failure: try again later)."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self._lock = threading.Lock()
        self._attempts: list[EmailMessage] = []
        self._accepted: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        # Lines end in CRLF on the wire; in Python, in \n.
        content = envelope.content.replace(b"\r\n", b"\n")
        mail = email.message_from_bytes(content, policy=policy.default)
        with self._lock:
            self._attempts.append(mail)
            if len(self._attempts) <= self.refuse:
                return "451 4.3.0 Mailbox busy, try again later"
            self._accepted.append(mail)
        return "250 2.0.0 OK"

    @property
    def attempts(self) -> list[EmailMessage]:
        """Every message handed over, refused or not."""
        with self._lock:
            return list(self._attempts)

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages accepted."""
        with self._lock:
            return list(self._accepted)

    async def wait_for(self, count: int) -> list[EmailMessage]:
        """The accepted messages, once there are at least `count`."""
        async with asyncio.timeout(TIMEOUT):
            while len(self.messages) < count:  # noqa: ASYNC110 - the server runs in a thread
                await asyncio.sleep(0.01)
        return self.messages


@contextmanager
def smtp_server(mailbox: Mailbox, port: int | None = None) -> Iterator[str]:
    """Serve `mailbox` on 127.0.0.1; yields the GUICHET_SMTP_URL that reaches it."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()
