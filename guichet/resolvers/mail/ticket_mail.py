"""A ticket's mail to the people who follow it: the receipt, public replies, the solved
notice and the satisfaction survey. Called inside the write transaction of the change,
so a mail exists exactly when its change committed.

Who gets a ticket's mail: its requester, its CCs, and the users subscribed to its
organization who may see it (staff always; an end user only as a member of that
organization when it shares its tickets: `access.ticket_audience`). Never an internal
note, and never the author of what is mailed (the requester still gets the receipt of a
request they opened, and the survey of a request they marked solved).

Each mail is one NOTIFICATION_SENT event in the ticket's history, by nobody (the system),
naming the recipient by user id and the kind of mail. It is public only when it went to
the requester: customers who see the ticket read whom the requester heard from, never the
address nor who else was copied; staff read every recipient with their address.

The survey goes with the solved notice, or `csat_survey_delay_minutes` later: then it is
its own outbox row due at that time, and the worker drops it (`SURVEY_CHECK`) when the
ticket was reopened, solved again (that solve queued its own survey) or rated meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.models.tickets import Channel, Ticket, TicketEventKind, TicketStatus
from guichet.resolvers import access, ids, sql
from guichet.resolvers.admin import help_center
from guichet.resolvers.mail import outbox
from guichet.resolvers.mail.outbound import Thread, queue_mail, reply_address, thread_of
from guichet.resolvers.sql import as_datetime
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.work.survey_tokens import rating_window_end, survey_token

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer
    from guichet.server.settings import Settings

__all__ = ["comment_added", "reply_address", "ticket_opened", "ticket_solved"]


class MailKind(StrEnum):
    RECEIPT = "RECEIPT"
    COMMENT = "COMMENT"
    SOLVED = "SOLVED"
    SURVEY = "SURVEY"


class Part(StrEnum):
    REQUESTER = "REQUESTER"
    CC = "CC"
    SUBSCRIBER = "SUBSCRIBER"


@dataclass(frozen=True, slots=True)
class Recipient:
    pk: int
    name: str
    email: str
    role: Role
    part: Part


# Everyone who follows the ticket, requester first; one statement.
_FOLLOWERS = (
    'SELECT $2 AS part, u.id, u.name, u.email, u.role FROM ticket t JOIN "user" u'
    " ON u.id = t.requester_id WHERE t.id = $1"
    ' UNION ALL SELECT $3, u.id, u.name, u.email, u.role FROM ticket_cc cc JOIN "user" u'
    " ON u.id = cc.user_id WHERE cc.ticket_id = $1"
    " UNION ALL SELECT $4, u.id, u.name, u.email, u.role FROM ticket t"
    " JOIN organization_subscription s ON s.organization_id = t.organization_id"
    ' JOIN "user" u ON u.id = s.user_id WHERE t.id = $1'
)
_SURVEY_STATE = sql.select(
    "t.status, t.solved_at, (SELECT COUNT(*) FROM satisfaction_rating s"
    " WHERE s.ticket_id = t.id) AS ratings",
    from_="ticket t",
).where("t.id = ?")

SURVEY_CHECK = "survey"


async def recipients(ticket_pk: int) -> list[Recipient]:
    """The ticket's followers who may see it, each once (as requester, else as CC)."""
    rows = await sql.fetch(_FOLLOWERS, ticket_pk, Part.REQUESTER, Part.CC, Part.SUBSCRIBER)
    readers: frozenset[int] | None = None
    found: dict[int, Recipient] = {}
    for r in rows:
        if r["id"] in found:
            continue
        role, part = Role(r["role"]), Part(r["part"])
        if part is Part.SUBSCRIBER and not role.at_least(Role.LIGHT_AGENT):
            if readers is None:
                readers = (await access.ticket_audience(ticket_pk, None)).readers
            if r["id"] not in readers:
                continue
        found[r["id"]] = Recipient(r["id"], r["name"], r["email"], role, part)
    return list(found.values())


def _link(settings: Settings, ticket: Ticket) -> str:
    return settings.ticket_link.format(number=ticket.number, id=ids.encode("Ticket", ticket.id))


def _survey_links(settings: Settings, ticket: Ticket) -> str:
    token = survey_token(settings, ticket.id, ticket.requester_id, ticket.solved_at)
    good, bad = (
        settings.satisfaction_link.format(
            token=token, score=score, number=ticket.number, id=ids.encode("Ticket", ticket.id)
        )
        for score in ("GOOD", "BAD")
    )
    return (
        "How would you rate the support you received?\n\n"
        f"Good, I'm satisfied: {good}\n"
        f"Bad, I'm unsatisfied: {bad}\n"
    )


def _footer(settings: Settings, ticket: Ticket) -> str:
    return f"\n-- \nReply to this mail to answer. Request #{ticket.number}: {_link(settings, ticket)}\n"


async def _mail(
    settings: Settings,
    changes: Changes,
    ticket: Ticket,
    to: Recipient,
    kind: MailKind,
    subject: str,
    body: str,
    *,
    thread: Thread,
    author: Viewer | None = None,
    comment_pk: int | None = None,
    send_at: datetime | None = None,
    check: str | None = None,
) -> None:
    """Queue one mail of the ticket and record it in the history."""
    await queue_mail(
        settings,
        to=to.email,
        subject=f"[#{ticket.number}] {subject}",
        body=body,
        from_name=author.name if author and author.is_agent else None,
        reply_to=reply_address(settings, ticket.number),
        thread=thread,
        ticket_pk=ticket.id,
        ticket_number=ticket.number,
        comment_pk=comment_pk,
        send_at=send_at,
        check=check,
    )
    public = to.part is Part.REQUESTER
    data = {"channel": "EMAIL", "kind": kind.value, "to": ids.encode("User", to.pk)}
    if not public:  # staff only: the address may be shown
        data["recipient"] = to.email
    if comment_pk is not None:
        data["comment"] = ids.encode("Comment", comment_pk)
    if send_at is not None:
        data["sendAt"] = send_at.isoformat()
    await changes.record(
        ticket.id, TicketEventKind.NOTIFICATION_SENT, actor_pk=None, via=Channel.SYSTEM,
        public=public, data=data,
    )  # fmt: skip


async def ticket_opened(
    settings: Settings | None, changes: Changes, ticket: Ticket, author: Viewer
) -> None:
    """The receipt, with the ticket's number, to everyone who follows the new ticket (the
    requester even when they opened it; a subscriber who opened it has nothing to learn)."""
    if settings is None:
        return
    followers = [
        to for to in await recipients(ticket.id) if to.pk != author.id or to.part is Part.REQUESTER
    ]
    thread = await thread_of(ticket.id) if followers else Thread()
    for to in followers:
        opening = (
            "We received your request"
            if to.part is Part.REQUESTER
            else f"{author.name} opened request #{ticket.number}"
        )
        body = (
            f'Hello {to.name},\n\n{opening}: "{ticket.subject}".\n'
            f"Its number is #{ticket.number}; we will answer you by mail.\n"
            f"{_footer(settings, ticket)}"
        )
        await _mail(
            settings, changes, ticket, to, MailKind.RECEIPT,
            f"Request received: {ticket.subject}", body, thread=thread,
        )  # fmt: skip


async def comment_added(
    settings: Settings | None,
    changes: Changes,
    ticket: Ticket,
    comment_pk: int,
    body: str,
    public: bool,
    author: Viewer,
) -> None:
    """A public comment, to everyone who follows the ticket but its author. An internal
    note is never mailed."""
    if settings is None or not public:
        return
    followers = [to for to in await recipients(ticket.id) if to.pk != author.id]
    thread = await thread_of(ticket.id) if followers else Thread()
    for to in followers:
        text = f"{author.name} wrote:\n\n{body.strip()}\n{_footer(settings, ticket)}"
        await _mail(
            settings, changes, ticket, to, MailKind.COMMENT, f"Re: {ticket.subject}", text,
            thread=thread, author=author, comment_pk=comment_pk,
        )  # fmt: skip


async def ticket_solved(
    settings: Settings | None, changes: Changes, ticket: Ticket, actor: Viewer | None
) -> None:
    """The solved notice to everyone who follows the ticket but who solved it, and the
    survey to the requester: in the notice, or on its own after the configured delay."""
    if settings is None or ticket.status is not TicketStatus.SOLVED or ticket.solved_at is None:
        return
    thread = await thread_of(ticket.id)
    delay = settings.csat_survey_delay_minutes
    for to in await recipients(ticket.id):
        # No survey at all while admins have satisfaction turned off (csatEnabled).
        is_requester = to.part is Part.REQUESTER and settings.csat_enabled
        if actor is not None and to.pk == actor.id and not is_requester:
            continue
        survey = _survey_links(settings, ticket) if is_requester and not delay else ""
        body = (
            f'Hello {to.name},\n\nRequest #{ticket.number} "{ticket.subject}" is solved.\n'
            "If it is not, reply to this mail and it opens again.\n\n"
            f"{survey}{_footer(settings, ticket)}"
        )
        if not (actor is not None and to.pk == actor.id):
            await _mail(
                settings, changes, ticket, to, MailKind.SOLVED, f"Solved: {ticket.subject}",
                body, thread=thread, author=actor,
            )  # fmt: skip
        elif survey:  # the requester solved it: only the survey is news to them
            await _mail(
                settings, changes, ticket, to, MailKind.SURVEY,
                f"How did we do? {ticket.subject}", f"Hello {to.name},\n\n{survey}"
                f"{_footer(settings, ticket)}", thread=thread,
            )  # fmt: skip
        if is_requester and delay:
            await _mail(
                settings, changes, ticket, to, MailKind.SURVEY,
                f"How did we do? {ticket.subject}",
                f"Hello {to.name},\n\nRequest #{ticket.number} \"{ticket.subject}\" was "
                f"solved.\n\n{_survey_links(settings, ticket)}{_footer(settings, ticket)}",
                thread=thread, send_at=datetime.now(UTC) + timedelta(minutes=delay),
                check=f"{SURVEY_CHECK}:{ticket.id}:{ticket.solved_at.timestamp()!r}",
            )  # fmt: skip


async def survey_unwanted(settings: Settings, argument: str) -> str | None:
    """A delayed survey's check, just before it is sent: why not to send it, or None. The
    settings are those in effect then: admins may have turned satisfaction off meanwhile."""
    effective = await help_center.effective_settings(settings)
    if not effective.csat_enabled:
        return "satisfaction surveys are turned off"
    ticket_pk, _, solved = argument.partition(":")
    rows = await _SURVEY_STATE.fetch(int(ticket_pk))
    if not rows:
        return "the ticket no longer exists"
    state = rows[0]
    solved_at = as_datetime(state["solved_at"])
    if TicketStatus(state["status"]) not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        return "the ticket was reopened"
    if solved_at is None or abs(solved_at.timestamp() - float(solved)) > 0.001:
        return "the ticket was solved again since"
    if state["ratings"]:
        return "the ticket is already rated"
    if rating_window_end(effective, solved_at) <= datetime.now(UTC):
        return "the rating window has closed"
    return None


def checks(settings: Settings) -> dict[str, outbox.Check]:
    """The checks the worker runs before sending (outbox.deliver_due), by kind."""
    return {SURVEY_CHECK: partial(survey_unwanted, settings)}
