"""Shared by the outbound-mail tests: reading what was mailed (the fixtures that send it
are in tests/resolvers/conftest.py)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from guichet.models.mail import MailMessage


def to(mails: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in mails if m["To"] == address]


def links(mail: EmailMessage) -> list[str]:
    return re.findall(r"https?://\S+", mail.get_content())


async def logged(**filters) -> list[MailMessage]:
    return await MailMessage.filter(**filters).order_by("id")
