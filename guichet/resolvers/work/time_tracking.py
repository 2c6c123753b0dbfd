"""Time tracking: minutes agents spend on tickets and what they cost.

Agents (not light agents) log time on the tickets they see, and change or delete their
own entries until they are billed; admins any entry. An entry captures its agent's
hourly rate when it is logged, so a later rate change never alters a past cost. Rates,
invoice runs and statistics are in time_billing.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.people import Role
from guichet.models.tickets import TicketEventKind
from guichet.models.time_tracking import BillStatus, TimeEntry
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.sql import as_datetime
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import (
    TicketRow,
    channel_of,
    forget,
    ticket_for_viewer,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

MAX_MINUTES = 24 * 60
MAX_NOTE = 10_000
EARLIEST_DAY = date(2000, 1, 1)


class TimeErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    TOO_MANY = "TOO_MANY"
    NOT_FOUND = "NOT_FOUND"
    INVALID_MINUTES = "INVALID_MINUTES"
    INVALID_WORKED_ON = "INVALID_WORKED_ON"
    WORKED_ON_IN_FUTURE = "WORKED_ON_IN_FUTURE"
    ALREADY_BILLED = "ALREADY_BILLED"
    NOT_BILLABLE = "NOT_BILLABLE"
    INVALID_RATE = "INVALID_RATE"
    NOT_STAFF = "NOT_STAFF"


def cost_cents(minutes: int, rate_cents: int) -> int:
    """minutes x hourly rate / 60, rounded half up, in integers (no float drift)."""
    return (minutes * rate_cents + 30) // 60


@dataclass(slots=True)
class TimeEntryRow:
    pk: int
    ticket_id: int
    agent_id: int
    minutes: int
    bill_status: BillStatus
    note: str | None
    worked_on: datetime  # midnight UTC of the day
    hourly_rate_cents: int
    invoice_ref: str | None
    billed_at: datetime | None
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("TimeEntry", self.pk)

    @property
    def billable(self) -> bool:
        return self.bill_status is not BillStatus.NON_BILLABLE

    @property
    def cost_cents(self) -> int:
        return cost_cents(self.minutes, self.hourly_rate_cents)


@dataclass(slots=True)
class Deleted:
    entry_id: str
    ticket: TicketRow


def midnight(day: date | str) -> datetime:
    # PostgreSQL returns a date, SQLite the ISO text Tortoise stored.
    day = date.fromisoformat(day[:10]) if isinstance(day, str) else day
    return datetime.combine(day, time(), UTC)


TIME_ENTRY = sql.Table(
    "time_entry", "te", TimeEntryRow,
    "id", "ticket_id", "agent_id", "minutes", ("bill_status", BillStatus), "note",
    ("worked_on", midnight), "rate_cents", "invoice_ref", ("billed_at", as_datetime),
    ("created_at", as_datetime),
)  # fmt: skip

_BY_ID = sql.select(TIME_ENTRY, from_=f"{TIME_ENTRY} JOIN ticket t ON t.id = te.ticket_id").where(
    sql.among("te.id"), sql.GIVEN
)
_BY_TICKET = sql.select(TIME_ENTRY).where(sql.among("te.ticket_id")).order("te.worked_on, te.id")
_MINUTES_BY_TICKET = (
    sql.select("te.ticket_id", "SUM(te.minutes) AS minutes", from_=TIME_ENTRY)
    .where(sql.among("te.ticket_id"))
    .group("te.ticket_id")
)
_RATE = sql.select("cents", from_="hourly_rate").where("agent_id = ?")


# ---------------------------------------------------------------- batch functions


async def entries_by_id(context: Context, keys: Sequence[int]) -> list[TimeEntryRow | None]:
    viewer = context.require_viewer()
    if not access.may_track_time(viewer):
        return [None] * len(keys)
    rows = await _BY_ID.fetch(keys, access.visible_tickets_condition(viewer, "t", 1))
    return sql.in_key_order(keys, rows, TIME_ENTRY.row)


async def time_entry_for_viewer(context: Context, pk: int) -> TimeEntryRow:
    """A time entry, for agents and above; NotFound for everyone else."""
    if not access.may_track_time(context.require_viewer()):
        raise NotFound()
    return await context.visible_one(entries_by_id, pk)


async def entries_by_ticket(
    context: Context, keys: Sequence[int]
) -> list[list[TimeEntryRow] | None]:
    """Each ticket's entries, by day worked then logging order; None below AGENT."""
    if not access.may_track_time(context.require_viewer()):
        return [None] * len(keys)
    return sql.grouped_by(keys, await _BY_TICKET.fetch(keys), TIME_ENTRY.row, "ticket_id")


async def minutes_by_ticket(context: Context, keys: Sequence[int]) -> list[int | None]:
    """Minutes logged on each ticket (0 when none), one SUM for the whole batch."""
    if not access.may_track_time(context.require_viewer()):
        return [None] * len(keys)
    rows = await _MINUTES_BY_TICKET.fetch(keys)
    found = {r["ticket_id"]: int(r["minutes"]) for r in rows}
    return [found.get(k, 0) for k in keys]


# ---------------------------------------------------------------- checks


def _time_keeper(context: Context) -> Viewer:
    viewer = context.require_viewer()
    if not access.may_track_time(viewer):
        raise Forbidden("Agents and admins track time; light agents and customers do not.")
    return viewer


def _minutes_error(minutes: int | None) -> UserError | None:
    if minutes is None or not 1 <= minutes <= MAX_MINUTES:
        return UserError(
            f"An entry holds 1 to {MAX_MINUTES} minutes (one day).",
            TimeErrorCode.INVALID_MINUTES,
            ["input", "minutes"],
        )
    return None


def _note_error(note: str | None) -> UserError | None:
    if note is None or not note.strip():
        return None
    return text_error(note, ["input", "note"], max_length=MAX_NOTE)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _worked_on(moment: datetime | None) -> tuple[date | None, UserError | None]:
    """The UTC day of `moment` (today when omitted), never in the future."""
    today = datetime.now(UTC).date()
    try:
        day = today if moment is None else utc(moment).date()
    except OverflowError:
        day = date.min
    if day < EARLIEST_DAY:
        message, code = f"Work is logged from {EARLIEST_DAY} on.", TimeErrorCode.INVALID_WORKED_ON
    elif day > today:
        message, code = "Log time for today or a past day.", TimeErrorCode.WORKED_ON_IN_FUTURE
    else:
        return day, None
    return None, UserError(message, code, ["input", "workedOn"])


def refuse_if_any(*errors: UserError | None) -> None:
    if found := [e for e in errors if e]:
        raise Refused(*found)


def _billable(entry: TimeEntry) -> bool:
    return entry.bill_status is not BillStatus.NON_BILLABLE


def _status(billable: bool | None) -> BillStatus:
    return BillStatus.BILLABLE if billable else BillStatus.NON_BILLABLE


async def _record(
    changes: Changes, entry: TimeEntry, viewer: Viewer, action: str, **extra: Any
) -> None:
    """A TIME_LOGGED event (internal): logging, changing and deleting an entry alike."""
    await changes.record(
        entry.ticket_id, TicketEventKind.TIME_LOGGED, actor_pk=viewer.id, via=channel_of(viewer),
        public=False,
        data={"timeEntry": ids.encode("TimeEntry", entry.id), "action": action,
              "minutes": entry.minutes, "billable": _billable(entry),
              **extra},
    )  # fmt: skip


# ---------------------------------------------------------------- logging, changing, deleting


async def log_time(
    context: Context,
    *,
    ticket_id: str,
    minutes: int,
    billable: bool | None,
    note: str | None,
    worked_on: datetime | None,
) -> TimeEntryRow:
    viewer = context.require_viewer()
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, ticket_id, TicketAction.LOG_TIME)
        day, day_error = _worked_on(worked_on)
        refuse_if_any(_minutes_error(minutes), _note_error(note), day_error)
        rates = await _RATE.fetch(viewer.id)
        entry = await TimeEntry.create(
            ticket_id=ticket.pk, agent_id=viewer.id, minutes=minutes, bill_status=_status(billable),
            note=note if note and note.strip() else None, worked_on=day,
            rate_cents=rates[0]["cents"] if rates else 0,
        )  # fmt: skip
        await _record(changes, entry, viewer, "LOGGED")
    await changes.publish(context)
    forget(context)
    return TIME_ENTRY.row_of(entry)


async def _entry_to_change(viewer: Viewer, entry_id: str) -> TimeEntry:
    """The entry, locked, if the viewer logged it or is an admin; NotFound otherwise, so
    an agent never learns of another agent's entries through the mutations."""
    entry = await TimeEntry.select_for_update().get_or_none(
        id=ids.decode_as(entry_id, "TimeEntry") or 0
    )
    if entry is None or not (entry.agent_id == viewer.id or viewer.at_least(Role.ADMIN)):
        raise NotFound("No such time entry.")
    if entry.bill_status is BillStatus.BILLED:
        raise Refused(
            UserError(
                f"This entry was billed (invoice {entry.invoice_ref}); it can no longer change.",
                TimeErrorCode.ALREADY_BILLED,
                ["input", "id"],
            )
        )
    return entry


@dataclass(frozen=True, slots=True)
class TimeEntryChanges:
    """updateTimeEntry's input: only the fields not OMITTED change; a null note clears it."""

    id: str
    minutes: int | OmittedType | None = OMITTED
    billable: bool | OmittedType | None = OMITTED
    note: str | OmittedType | None = OMITTED
    worked_on: datetime | OmittedType | None = OMITTED


async def update_time_entry(context: Context, request: TimeEntryChanges) -> TimeEntryRow:
    """Only the fields given change; a null note clears it. The captured rate stays."""
    viewer = _time_keeper(context)
    errors: list[UserError | None] = []
    day: date | OmittedType | None = OMITTED
    if given(request.minutes):
        errors.append(_minutes_error(request.minutes))
    if given(request.note):
        errors.append(_note_error(request.note))
    for name, value in (("billable", request.billable), ("workedOn", request.worked_on)):
        if value is None:
            errors.append(
                UserError(f"{name} cannot be null.", TimeErrorCode.REQUIRED, ["input", name])
            )
    if request.worked_on is not None and given(request.worked_on):
        day, day_error = _worked_on(request.worked_on)
        errors.append(day_error)
    changes = Changes.of(viewer)
    async with in_transaction():
        entry = await _entry_to_change(viewer, request.id)
        refuse_if_any(*errors)
        before = {"minutes": entry.minutes, "billable": _billable(entry)}
        if given(request.minutes):
            entry.minutes = request.minutes
        if given(request.billable):
            entry.bill_status = _status(request.billable)
        if given(request.note):
            entry.note = request.note if request.note and request.note.strip() else None
        if given(day):
            entry.worked_on = day
        await entry.save()
        await _record(changes, entry, viewer, "UPDATED", previous=before)
    await changes.publish(context)
    forget(context)
    return TIME_ENTRY.row_of(entry)


async def delete_time_entry(context: Context, entry_id: str) -> Deleted:
    viewer = _time_keeper(context)
    changes = Changes.of(viewer)
    async with in_transaction():
        entry = await _entry_to_change(viewer, entry_id)
        await _record(changes, entry, viewer, "DELETED")
        await entry.delete()
    await changes.publish(context)
    forget(context)
    return Deleted(
        ids.encode("TimeEntry", entry.id), await ticket_for_viewer(context, entry.ticket_id)
    )
