"""Delivering outbox messages: e-mail over SMTP, SMS through a pluggable sender."""

from __future__ import annotations

import importlib
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiosmtplib

from guichet.models.outbox import OutboxChannel, OutboxStatus
from guichet.resolvers.outbox import Outgoing, Sender, log_only
from guichet.server.settings import Settings

SENDER_ADDRESS = "Guichet <no-reply@guichet.invalid>"


class SmtpSender:
    """One SMTP connection per message: simple, and a broken connection never outlives it."""

    def __init__(self, url: str, sender: str = SENDER_ADDRESS, timeout: float = 30) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # Stable per outbox row: a retry of the same message is recognisably the same mail.
        mail["Message-ID"] = f"<outbox-{message.id}@guichet>"
        mail.set_content(message.body)
        return mail

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
    email = (
        (SmtpSender(settings.smtp_url), OutboxStatus.SENT)
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
