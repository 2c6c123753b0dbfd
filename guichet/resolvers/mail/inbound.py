"""Mail in: one received message becomes a comment, a new ticket, or nothing, and a line of
the mail log either way.

`/inbound/email` (a provider's webhook) and `guichet smtpd` (an MTA relays to it) both
hand each message to `receive_mail`. In order:

1. refused unread: larger than the cap, or headers over MAX_HEADER_BYTES;
2. ignored (logged, nothing else changes): malformed MIME, no usable From, our own
   address, auto-replies and bounces (two auto-responders never loop), a Message-ID
   already accepted, a body of only quoted text;
3. `#id 123` and a blank line at the start of the body: the rest is a comment on ticket
   123 by the sender, if the sender may write on it; otherwise the refusal is logged;
4. a reply to one of our mails (In-Reply-To / References found in the log), to a
   plus-addressed reply address (support+id123@…) or tagged `[#123]` in its subject: a
   comment on that ticket, when the sender may write on it;
5. anything else opens a ticket via EMAIL, the sender its requester (an end user is
   created for an unknown address), the Cc'd addresses its CCs.

Tickets and comments are made by the same rules as the API's (create_ticket, add_comment)
with the sender as viewer. What a message does and its log row share one transaction; its
Message-ID is claimed in that row (unique), so a second delivery, even a concurrent one,
changes nothing. Events are published once that transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models.db import is_conflict
from guichet.models.mail import MailStatus
from guichet.models.people import Role, User
from guichet.models.tickets import Channel, Ticket
from guichet.resolvers import ids
from guichet.resolvers.context import Context, Viewer
from guichet.resolvers.errors import AccessError, Refused
from guichet.resolvers.mail import mail_log
from guichet.resolvers.mail.mail_parsing import (
    MailFile,
    ReceivedMail,
    Unreadable,
    content_id,
    is_own,
    plus_addressed_ticket,
    read_mail,
)
from guichet.resolvers.people import organization_domains
from guichet.resolvers.tickets import attachments
from guichet.resolvers.tickets.comments import add_comment
from guichet.resolvers.tickets.ticket_opening import NewTicket, create_ticket

if TYPE_CHECKING:
    from guichet.server.settings import Settings

log = logging.getLogger("guichet.inbound")

ATTEMPTS = 3
CHUNK = 256 * 1024
ONLY_FILES = "(no text: see the attached files)"


def max_message_bytes(settings: Settings) -> int:
    """The largest message read: a file of the upload limit, base64-encoded (4/3), and room
    for the text around it."""
    return settings.max_upload_bytes * 4 // 3 + 1024 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a message. `refused`: it was not read at all (too large), which a
    transport answers as such (413, SMTP 552); everything else was accepted, acted on or not."""

    status: MailStatus
    reason: str | None = None
    ticket_number: int | None = None
    action: str | None = None  # TICKET_OPENED, COMMENT_ADDED
    refused: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "action": self.action,
            "reason": self.reason,
            "ticket": self.ticket_number,
        }


class _AfterCommit:
    """The bus the rules publish to while the message's transaction is open: it keeps what
    they publish, sent once the transaction has committed (dropped if it rolls back)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.messages.append((topic, payload))


async def receive_mail(
    settings: Settings,
    raw: bytes,
    *,
    bus: Any = None,
    envelope_sender: str | None = None,
    envelope_recipients: tuple[str, ...] = (),
) -> Outcome:
    """Act on one raw RFC 822 message (see the module's docstring). Raises only when the
    database fails (the transport answers "try again later")."""
    if len(raw) > max_message_bytes(settings):
        reason = f"message larger than {max_message_bytes(settings) // 2**20} MB"
        return await _log_unread(raw, reason, refused=True)
    try:
        mail = read_mail(raw, envelope_sender=envelope_sender)
    except Unreadable as unreadable:
        return await _log_unread(raw, str(unreadable), refused=unreadable.refused)
    mail.recipients.extend(a.lower() for a in envelope_recipients)
    if reason := _ignored(settings, mail):
        return await _log(mail, MailStatus.IGNORED, reason)
    if await mail_log.already_accepted(mail.message_id):
        return await _log(mail, MailStatus.IGNORED, "duplicate: this Message-ID was accepted")
    try:
        saved = await attachments.store_incoming(
            settings, [_incoming(f) for f in mail.files if f.content], ["attachments"]
        )
    except Refused as refused:
        return await _log(mail, MailStatus.IGNORED, refused.errors[0].message)
    if dropped := [f.filename for f in mail.files if not f.content]:
        log.info("%s: empty attachments dropped: %s", mail.message_id, dropped)
    for address in mail.dropped_cc:
        log.info("%s: Cc %r is not an address; dropped", mail.message_id, address)
    try:
        return await _act_once(settings, mail, saved, bus)
    finally:
        await attachments.forget_unused(settings, saved)  # those no row refers to


async def _act_once(settings: Settings, mail: ReceivedMail, saved: list, bus: Any) -> Outcome:
    for attempt in range(1, ATTEMPTS + 1):
        after_commit = _AfterCommit()
        try:
            async with in_transaction():
                outcome = await _act(settings, mail, saved, after_commit)
        except IntegrityError:
            # Another delivery of the same message won the race (or a new sender's account
            # was created meanwhile): everything of this attempt was rolled back.
            if await mail_log.already_accepted(mail.message_id):
                return await _log(
                    mail, MailStatus.IGNORED, "duplicate: this Message-ID was accepted"
                )
            if attempt == ATTEMPTS:
                raise
        except Exception as error:
            if not is_conflict(error) or attempt == ATTEMPTS:
                raise
        else:
            if bus is not None:
                for topic, payload in after_commit.messages:
                    await bus.publish(topic, payload)
            return outcome
    raise AssertionError("unreachable")


def _ignored(settings: Settings, mail: ReceivedMail) -> str | None:
    if not mail.sender:
        return "no valid From address"
    if is_own(mail.sender, settings.mail_from):
        return "from our own address"
    if mail.auto_reply:
        return mail.auto_reply
    if mail.quoted_only:
        return "only quoted text"
    if not mail.body and not any(f.content for f in mail.files):
        return "empty message"
    return None


async def _act(settings: Settings, mail: ReceivedMail, saved: list, bus: _AfterCommit) -> Outcome:
    """Inside the message's transaction: the comment or ticket, and the log row."""
    user = await User.get_or_none(email=mail.sender)
    body = mail.body or ONLY_FILES
    if mail.command_ticket is not None:
        number = mail.command_ticket
        if user is None:
            return await _log(mail, MailStatus.IGNORED, f"#id {number}: the sender has no account")
        ticket_pk = await _ticket_pk(number)
        if ticket_pk is None:
            return await _log(mail, MailStatus.IGNORED, f"#id {number}: no such ticket")
        try:
            return await _comment(settings, mail, user, ticket_pk, body, saved, bus)
        except (AccessError, Refused) as refusal:
            return await _log(mail, MailStatus.IGNORED, f"#id {number}: {_why(refusal)}")
    notes = []
    for ticket_pk, found_by in await _threads(settings, mail) if user else ():
        try:
            return await _comment(settings, mail, user, ticket_pk, body, saved, bus)
        except (AccessError, Refused) as refusal:
            notes.append(f"not a reply ({found_by}): {_why(refusal)}")
    try:
        async with in_transaction():  # a savepoint: a refused ticket leaves no new account
            user = user or await _new_end_user(mail)
            context = Context(settings, _viewer(user), bus)
            cc = [a for a in mail.cc if not is_own(a, settings.mail_from)]
            request = NewTicket(
                subject=mail.subject,
                description=body,
                cc_emails=cc,
                via=Channel.EMAIL,
                attachments=list(saved),
                # Staff mailing support file a request of their own, as the form does.
                portal=True,
            )
            ticket = await create_ticket(context, request)
    except (AccessError, Refused) as refusal:
        return await _log(mail, MailStatus.IGNORED, f"no ticket opened: {_why(refusal)}")
    reason = "; ".join(notes) or None
    return await _log(
        mail, MailStatus.RECEIVED, reason, ticket.pk, action="TICKET_OPENED", number=ticket.number
    )


async def _comment(
    settings: Settings,
    mail: ReceivedMail,
    user: User,
    ticket_pk: int,
    body: str,
    saved: list,
    bus: _AfterCommit,
) -> Outcome:
    context = Context(settings, _viewer(user), bus)
    comment, ticket = await add_comment(
        context,
        ticket_id=ids.encode("Ticket", ticket_pk),
        body=body,
        public=None,  # the rule's default: public, a light agent's internal
        idempotency_key=None,
        attachments=list(saved),
        via=Channel.EMAIL,
    )
    return await _log(
        mail,
        MailStatus.RECEIVED,
        None,
        ticket_pk,
        comment.pk,
        action="COMMENT_ADDED",
        number=ticket.number,
    )


async def _threads(settings: Settings, mail: ReceivedMail) -> list[tuple[int, str]]:
    """The tickets a reply may belong to, most telling first, with how each was found: the
    conversation it answers, the plus-addressed reply address, the subject's [#123] tag."""
    found: dict[int, str] = {}
    if (pk := await mail_log.thread_ticket(mail.references)) is not None:
        found[pk] = "In-Reply-To/References"
    numbers = (
        (plus_addressed_ticket(mail.recipients, settings.mail_from), "reply address"),
        (mail.subject_ticket, "subject tag"),
    )
    for number, found_by in numbers:
        if number is not None and (pk := await _ticket_pk(number)) is not None:
            found.setdefault(pk, f"{found_by} #{number}")
    return list(found.items())


async def _ticket_pk(number: int) -> int | None:
    if number > ids.MAX_KEY:
        return None
    found = await Ticket.filter(number=number).values_list("id", flat=True)
    return found[0] if found else None


async def _new_end_user(mail: ReceivedMail) -> User:
    name = mail.sender_name or mail.sender.split("@")[0]
    user = await User.create(email=mail.sender, name=name[:200], role=Role.END_USER)
    await organization_domains.join_by_domain(user.id, user.email)
    return user


def _viewer(user: User) -> Viewer:
    return Viewer(user.id, user.name, user.email, Role(user.role))


def _why(refusal: Exception) -> str:
    if isinstance(refusal, Refused):
        return "; ".join(e.message for e in refusal.errors)
    return str(getattr(refusal, "message", refusal))


async def _log(
    mail: ReceivedMail,
    status: MailStatus,
    reason: str | None,
    ticket_pk: int | None = None,
    comment_pk: int | None = None,
    *,
    action: str | None = None,
    number: int | None = None,
) -> Outcome:
    if status is MailStatus.IGNORED:
        log.info("ignored %s from %s: %s", mail.message_id, mail.sender or "?", reason)
    await mail_log.log_inbound(
        status=status,
        message_id=mail.message_id,
        accepted=status is MailStatus.RECEIVED,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        sender=mail.sender,
        to=mail.to,
        cc=mail.cc,
        subject=mail.subject,
        reason=reason,
        ticket_pk=ticket_pk,
        comment_pk=comment_pk,
    )
    return Outcome(status, reason, number, action)


async def _log_unread(raw: bytes, reason: str, *, refused: bool) -> Outcome:
    log.info("ignored a message of %d bytes: %s", len(raw), reason)
    await mail_log.log_inbound(
        status=MailStatus.IGNORED, message_id=content_id(raw[: 1024 * 1024]), accepted=False,
        in_reply_to=None, references=(), sender="", to=(), cc=(), subject="", reason=reason,
    )  # fmt: skip
    return Outcome(MailStatus.IGNORED, reason, refused=refused)


def _incoming(file: MailFile) -> attachments.IncomingFile:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(file.content), CHUNK):
            yield file.content[start : start + CHUNK]

    return attachments.IncomingFile(file.filename, file.content_type, chunks())
