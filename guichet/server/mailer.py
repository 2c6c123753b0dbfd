"""Delivering outbox messages: e-mail over SMTP, SMS through a pluggable sender."""

from __future__ import annotations

import importlib
from datetime import UTC
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiosmtplib

from guichet.models.outbox import OutboxChannel, OutboxStatus
from guichet.resolvers.mail.outbox import Outgoing, Sender, log_only
from guichet.server.settings import Settings

SENDER_ADDRESS = "Guichet <no-reply@guichet.invalid>"
# Headers a queued mail may carry besides From and Message-ID (never the outbox's CHECK or
# SECRET: they stay home).
THREAD_HEADERS = ("Reply-To", "In-Reply-To", "References", "Auto-Submitted")


class SmtpSender:
    """One SMTP connection per message: simple, and a broken connection never outlives it."""

    def __init__(
        self,
        url: str,
        sender: str = SENDER_ADDRESS,
        timeout: float = 30,
        domain: str = "guichet.invalid",
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout
        # Message-IDs end in the deployment's own domain (its public host name).
        self.domain = domain

    def build(self, message: Outgoing) -> EmailMessage:
        """The mail; a ticket's mail brings its own headers (ticket_mail.py), chosen when it
        was queued: From with the agent's name, Reply-To, Message-ID and the threading."""
        headers = message.headers or {}
        mail = EmailMessage()
        mail["From"] = headers.get("From") or self.sender
        mail["To"] = message.recipient
        # A header is one line: a subject is free text, and may have line breaks.
        mail["Subject"] = " ".join(message.subject.split())
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = headers.get("Message-ID") or self.message_id(message)
        for name in THREAD_HEADERS:
            if value := headers.get(name):
                mail[name] = " ".join(value.split())
        mail.set_content(message.body)
        return mail

    def message_id(self, message: Outgoing) -> str:
        """Stable per outbox row, so a retry of a message is recognisably the same mail; and
        unique to the row, its database and the deployment (mail clients drop a mail whose
        Message-ID they have seen): a database started afresh numbers its rows from 1 again,
        and every deployment does."""
        when = message.created_at
        created = f".{when.astimezone(UTC):%Y%m%d%H%M%S%f}" if when else ""
        return f"<outbox-{message.id}{created}@{self.domain}>"

    async def __call__(self, message: Outgoing) -> None:
        await aiosmtplib.send(
            self.build(message),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=None,  # upgrade when the server offers it
            timeout=self.timeout,
        )


def load_sms_sender(path: str) -> Sender:
    """`package.module:callable` -> the callable (an `async def send(message)`)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def senders_for(settings: Settings) -> dict[OutboxChannel, tuple[Sender, OutboxStatus]]:
    domain = urlsplit(settings.public_url).hostname or "guichet.invalid"
    email = (
        (SmtpSender(settings.smtp_url, sender=settings.mail_from, domain=domain), OutboxStatus.SENT)
        if settings.smtp_url
        else (log_only, OutboxStatus.LOGGED)
    )
    sms_path = settings.sms_sender
    sms = (
        (load_sms_sender(sms_path), OutboxStatus.SENT)
        if sms_path
        else (log_only, OutboxStatus.LOGGED)
    )
    return {OutboxChannel.EMAIL: email, OutboxChannel.SMS: sms}
