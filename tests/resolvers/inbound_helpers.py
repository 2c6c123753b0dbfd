"""Mail as customers' clients write it, for the inbound mail tests."""

from __future__ import annotations

import itertools
from email.message import EmailMessage

from guichet.models.mail import MailDirection, MailMessage
from guichet.models.tickets import Ticket

_COUNTER = itertools.count(1)


def mail(
    *,
    sender: str = "Dana Newcomer <dana@newcomer.test>",
    to: str = "Support <no-reply@guichet.invalid>",
    subject: str = "My printer is on fire",
    body: str = "It smokes since this morning.",
    html: str | None = None,
    message_id: str | None = None,
    files: tuple[tuple[str, str, bytes], ...] = (),
    **headers: str,
) -> EmailMessage:
    """A message as a mail client sends it; `headers` adds any other (underscores are
    dashes: In_Reply_To=...). `files`: (filename, content type, bytes)."""
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<m{next(_COUNTER)}@client.test>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, content in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def raw(message: EmailMessage) -> bytes:
    return bytes(message)


async def inbound_log() -> list[MailMessage]:
    return await MailMessage.filter(direction=MailDirection.INBOUND).order_by("id")


async def ticket_count() -> int:
    return await Ticket.all().count()
