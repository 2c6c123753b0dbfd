"""Mail out as the support team: addresses, headers, and the mail log of every queued mail.

`queue_mail` runs in the caller's transaction: it puts the mail in the outbox with its
headers and writes its `mail_message` row (OUTBOUND, QUEUED, `outbox_id`), whose status
then follows the delivery (outbox.py settles both). The Message-ID is chosen here, at
enqueue time, so the log holds it before the mail leaves and a reply threads onto the
ticket by it (inbound mail looks `mail_message.message_id` up).

One mail per recipient, never a `Cc` header: nobody learns another recipient's address,
and each copy is logged (and can fail) on its own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from guichet.models.mail import MailDirection, MailMessage, MailStatus
from guichet.resolvers import sql
from guichet.resolvers.mail import outbox

if TYPE_CHECKING:
    from guichet.server.settings import Settings

# How many of a ticket's latest messages a reply's References name, besides the first.
LATEST_REFERENCES = 5

# The first message of the ticket and its latest ones, oldest first.
_THREAD = (
    sql.select("m.id, m.message_id", from_="mail_message m")
    .where(
        "m.ticket_id = ?",
        "(m.id = (SELECT MIN(f.id) FROM mail_message f WHERE f.ticket_id = m.ticket_id)"
        " OR m.id IN (SELECT l.id FROM mail_message l WHERE l.ticket_id = m.ticket_id"
        " ORDER BY l.id DESC LIMIT ?))",
    )
    .order("m.id")
)


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a new mail of a ticket goes in its conversation."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Queued:
    outbox_id: int
    message_id: str


def support_address(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1]


def support_name(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[0] or "Support"


def reply_address(settings: Settings, ticket_number: int) -> str:
    """The ticket's reply address: the support address plus-tagged with the ticket,
    e.g. support+id123@example.com (mail to it threads onto ticket 123)."""
    local, _, domain = support_address(settings).rpartition("@")
    return f"{local.partition('+')[0]}+id{ticket_number}@{domain}"


def sender(settings: Settings, name: str | None) -> str:
    """`"Ana Agent via Support" <support@example.com>`; the plain support address when no
    person speaks (receipts, notices)."""
    if not name:
        return settings.mail_from
    # Unencoded (the log shows it as written); the mailer encodes a non-ASCII name.
    display = f"{' '.join(name.split())} via {support_name(settings)}"
    return str(Address(display_name=display, addr_spec=support_address(settings)))


def mail_domain(settings: Settings) -> str:
    """Message-IDs end in the deployment's own host name, as the mailer's do."""
    return urlsplit(settings.public_url).hostname or "guichet.invalid"


def new_message_id(settings: Settings, ticket_number: int | None = None) -> str:
    tag = f"ticket-{ticket_number}" if ticket_number is not None else "guichet"
    return f"<{tag}.{secrets.token_hex(10)}@{mail_domain(settings)}>"


async def thread_of(ticket_pk: int) -> Thread:
    """The ticket's conversation so far (mail in and out): a new mail replies to the latest
    message and references the first and the latest few."""
    rows = await _THREAD.fetch(ticket_pk, LATEST_REFERENCES)
    ids = tuple(dict.fromkeys(r["message_id"] for r in rows if r["message_id"]))
    return Thread(ids[-1] if ids else None, ids)


async def queue_mail(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    from_name: str | None = None,
    reply_to: str | None = None,
    thread: Thread = Thread(),
    ticket_pk: int | None = None,
    ticket_number: int | None = None,
    comment_pk: int | None = None,
    send_at: datetime | None = None,
    check: str | None = None,
    secret: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> Queued:
    """Queue one mail and log it, in the caller's transaction. `secret`: the body is a key
    (a single-use link), removed from the outbox once the mail settles."""
    message_id = new_message_id(settings, ticket_number)
    from_header = sender(settings, from_name)
    headers = {"From": from_header, "Message-ID": message_id}
    if reply_to:
        headers["Reply-To"] = reply_to
    if thread.in_reply_to:
        headers["In-Reply-To"] = thread.in_reply_to
        headers["References"] = " ".join(thread.references)
    # Our notices are automatic: auto-responders must not answer them (RFC 3834).
    headers["Auto-Submitted"] = "auto-generated"
    if check:
        headers[outbox.CHECK] = check
    if secret:
        headers[outbox.SECRET] = "1"
    headers.update(extra)
    subject = " ".join(subject.split())
    outbox_id = await outbox.enqueue_email(to, subject, body, headers=headers, send_at=send_at)
    await MailMessage.create(
        direction=MailDirection.OUTBOUND,
        status=MailStatus.QUEUED,
        message_id=message_id,
        in_reply_to=thread.in_reply_to,
        references=" ".join(thread.references) or None,
        from_address=from_header[:500],
        to_addresses=json.dumps([to]),
        cc_addresses="[]",
        subject=subject[:500],
        ticket_id=ticket_pk,
        comment_id=comment_pk,
        outbox_id=outbox_id,
    )
    return Queued(outbox_id, message_id)


async def queue_notice(
    settings: Settings | None,
    *,
    to: str,
    subject: str,
    body: str,
    ticket_pk: int | None = None,
    ticket_number: int | None = None,
) -> None:
    """A notice about a ticket to someone who works on it (an approval, a resolution, a
    reminder), in the mail log like every mail. Without settings (a rule run with a bare
    context), straight to the outbox, unlogged."""
    if settings is None:
        await outbox.enqueue_email(to, subject, body)
        return
    await queue_mail(
        settings,
        to=to,
        subject=subject,
        body=body,
        ticket_pk=ticket_pk,
        ticket_number=ticket_number,
    )
