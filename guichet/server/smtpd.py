"""`guichet smtpd`: an SMTP listener (aiosmtpd) an MTA relays support mail to.

It accepts every recipient (the MTA decides what reaches it) and hands each message to
the same function as /inbound/email. Replies: 250 for every message read, acted on or
ignored (a 5xx would bounce an auto-reply back to its sender: the loop Guichet avoids);
552 for a message over the cap or with huge headers; 451 when the database cannot be
reached (or anything else fails), so the MTA keeps the message and tries again.

The server runs in the caller's event loop, where the database is open: aiosmtpd's
`Controller` would run it in a thread of its own, away from the database's connections.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from guichet.models.db import is_unreachable
from guichet.models.mail import MailStatus
from guichet.resolvers.mail.inbound import max_message_bytes, receive_mail
from guichet.server.settings import Settings

log = logging.getLogger("guichet.smtpd")


class InboundHandler:
    """aiosmtpd's handler: every recipient accepted, every message to `receive_mail`."""

    def __init__(self, settings: Settings, bus: Any = None) -> None:
        self.settings = settings
        self.bus = bus

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        sender = envelope.mail_from or ""
        try:
            outcome = await receive_mail(
                self.settings,
                raw.replace(b"\r\n", b"\n"),
                bus=self.bus,
                envelope_sender="" if sender in ("", "<>") else sender,
                envelope_recipients=tuple(envelope.rcpt_tos),
            )
        except Exception as error:
            if is_unreachable(error):
                log.warning("database unreachable (%s): 451, try later", type(error).__name__)
                return "451 4.3.0 The help desk cannot store mail right now; try again later"
            log.exception("could not take a message from %s", sender)
            return "451 4.3.0 Temporary failure; try again later"
        if outcome.refused:
            return f"552 5.3.4 {outcome.reason}"
        if outcome.status is MailStatus.IGNORED:
            return f"250 2.0.0 Accepted, ignored: {outcome.reason}"
        return f"250 2.0.0 Accepted: ticket {outcome.ticket_number}"


async def start_smtpd(
    settings: Settings, host: str = "127.0.0.1", port: int = 2525, bus: Any = None
) -> asyncio.Server:
    """Listen on host:port in the running loop; close the returned server to stop."""
    handler = InboundHandler(settings, bus)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=max_message_bytes(settings),
            enable_SMTPUTF8=True,
            hostname=host if host not in ("0.0.0.0", "::") else None,
            ident="Guichet smtpd",
        ),
        host=host,
        port=port,
    )
