"""Billing time: hourly rates, invoice runs, and time statistics.

An entry captures its agent's hourly rate when it is logged (time_tracking.log_time), so
a rate set here applies to new entries only. An invoice run moves entries BILLABLE ->
BILLED in one conditional statement inside one transaction: every entry asked, or none,
and never an entry twice, whatever number of runs race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.db import dialect
from guichet.models.people import Role, User
from guichet.models.time_tracking import BillStatus
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import BadRequest, Refused, UserError, text_error
from guichet.resolvers.tickets.tickets import forget
from guichet.resolvers.work.time_tracking import (
    TIME_ENTRY,
    TimeEntryRow,
    TimeErrorCode,
    entries_by_id,
    midnight,
    refuse_if_any,
    utc,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

MAX_RATE_CENTS = 10_000_000
MAX_INVOICE_REF = 100  # time_entry.invoice_ref is VARCHAR(100)
MAX_ENTRIES_BILLED = 1_000

# One statement, so two admins setting a rate at once cannot both insert.
_SET_RATE = sql.statement(
    "INSERT INTO hourly_rate (agent_id, cents, updated_at) VALUES (?, ?, ?)",
    "ON CONFLICT (agent_id) DO UPDATE SET cents = excluded.cents, updated_at = excluded.updated_at",
)
_LOCK = sql.select("id", from_="time_entry").where(sql.among("id")).order("id").then("FOR UPDATE")
_BILL = (
    sql.statement(
        "UPDATE time_entry SET bill_status = 'BILLED', invoice_ref = ?, billed_at = ?, updated_at = ?"
    )
    .where(sql.among("id"), "bill_status = 'BILLABLE'")
    .then("RETURNING id")
)
_BILL_STATUS = sql.select("id, bill_status, invoice_ref", from_="time_entry").where(sql.among("id"))


def day_param(day: date) -> date | str:
    # asyncpg binds a date; SQLite compares the ISO text Tortoise stored.
    return day.isoformat() if dialect() == "sqlite" else day


@dataclass(slots=True)
class HourlyRateRow:
    agent_id: int
    cents: int
    updated_at: datetime


@dataclass(slots=True)
class TimeBucket:
    keys: list[str | None]
    minutes: int
    billable_minutes: int
    entries: int


# ---------------------------------------------------------------- rates and billing


async def set_hourly_rate(context: Context, *, agent_id: str, cents: int) -> HourlyRateRow:
    access.require_role(context.require_viewer(), Role.ADMIN)
    if not 0 <= cents <= MAX_RATE_CENTS:
        raise Refused(
            UserError(
                f"A rate is 0 to {MAX_RATE_CENTS} cents an hour.",
                TimeErrorCode.INVALID_RATE,
                ["input", "cents"],
            )
        )
    path = ["input", "agentId"]
    user = await User.get_or_none(id=ids.decode_as(agent_id, "User") or 0)
    if user is None:
        raise Refused(UserError("No such user.", TimeErrorCode.NOT_FOUND, path))
    if not Role(user.role).at_least(Role.LIGHT_AGENT):
        raise Refused(UserError("Rates are for staff.", TimeErrorCode.NOT_STAFF, path))
    now = datetime.now(UTC)
    await _SET_RATE.execute(user.id, cents, now)
    return HourlyRateRow(user.id, cents, now)


async def mark_billed(
    context: Context, *, entry_ids: Sequence[str], invoice_ref: str
) -> list[TimeEntryRow]:
    """Bill every entry asked, or none: one conditional UPDATE in one transaction."""
    access.require_role(context.require_viewer(), Role.ADMIN)
    path = ["input", "entryIds"]
    refuse_if_any(text_error(invoice_ref, ["input", "invoiceRef"], max_length=MAX_INVOICE_REF))
    if not entry_ids:
        raise Refused(UserError("Name the entries to bill.", TimeErrorCode.REQUIRED, path))
    if len(entry_ids) > MAX_ENTRIES_BILLED:
        raise Refused(
            UserError(f"At most {MAX_ENTRIES_BILLED} entries a call.", TimeErrorCode.TOO_MANY, path)
        )
    index: dict[int, int] = {}
    for i, gid in enumerate(entry_ids):
        pk = ids.decode_as(gid, "TimeEntry")
        if pk is None:
            raise Refused(_unknown(gid, [*path, str(i)]))
        index.setdefault(pk, i)
    pks = list(index)
    async with in_transaction():
        if dialect() == "postgres":
            # Lock the rows in one order for every run: two runs over overlapping entries
            # then queue instead of deadlocking (UPDATE locks in whatever order it scans).
            await _LOCK.fetch(pks)
        now = datetime.now(UTC)
        rows = await _BILL.fetch(invoice_ref.strip(), now, now, pks)
        billed = {r["id"] for r in rows}
        if missing := [pk for pk in pks if pk not in billed]:
            raise Refused(*await _why_not_billed(missing, entry_ids, index))
    forget(context)
    return [r for r in await entries_by_id(context, pks) if r is not None]


def _unknown(gid: str, path: list[str]) -> UserError:
    return UserError(f"No time entry has the id {gid!r}.", TimeErrorCode.NOT_FOUND, path)


async def _why_not_billed(
    missing: list[int], entry_ids: Sequence[str], index: dict[int, int]
) -> list[UserError]:
    rows = await _BILL_STATUS.fetch(missing)
    found = {r["id"]: r for r in rows}
    errors = []
    for pk in missing:
        gid, path = entry_ids[index[pk]], ["input", "entryIds", str(index[pk])]
        r = found.get(pk)
        if r is None:
            errors.append(_unknown(gid, path))
        elif r["bill_status"] == BillStatus.BILLED:
            message = f"Entry {gid} is already billed (invoice {r['invoice_ref']})."
            errors.append(UserError(message, TimeErrorCode.ALREADY_BILLED, path))
        else:
            message = f"Entry {gid} is not billable."
            errors.append(UserError(message, TimeErrorCode.NOT_BILLABLE, path))
    return errors


# ---------------------------------------------------------------- statistics


TOTALS = (
    "COALESCE(SUM(te.minutes), 0) AS minutes, COALESCE(SUM(CASE WHEN te.bill_status"
    " <> 'NON_BILLABLE' THEN te.minutes ELSE 0 END), 0) AS billable_minutes, COUNT(*) AS entries"
)


def _dimensions() -> dict[str, tuple[str, Any]]:
    def node(type_name: str):
        return lambda value: None if value is None else ids.encode(type_name, value)

    return {
        "AGENT": ("te.agent_id", node("User")),
        "ORGANIZATION": ("t.organization_id", node("Organization")),
        "TICKET": ("t.number", str),
        "DAY": ("te.worked_on", lambda value: midnight(value).date().isoformat()),
    }


def _day_range(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """The days whose midnight (UTC) lies in [start, end]."""
    try:
        first = last = None
        if start is not None:
            moment = utc(start)
            first = moment.date() + timedelta(days=0 if moment.time() == time() else 1)
        if end is not None:
            last = utc(end).date()
    except OverflowError as error:
        raise BadRequest("from and to must be real dates.") from error
    return first, last


async def time_stats(
    context: Context,
    group_by: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    billable: bool | None,
) -> list[TimeBucket]:
    """Minutes grouped by the dimensions asked: one GROUP BY statement over time_entry."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    where = sql.Where()
    visible = access.visible_tickets_condition(viewer, "t", 1)
    where.given(visible)
    first, last = _day_range(start, end)
    if first is not None:
        where.add("te.worked_on >= ?", day_param(first))
    if last is not None:
        where.add("te.worked_on <= ?", day_param(last))
    if billable is not None:
        where.add(f"te.bill_status {'<>' if billable else '='} 'NON_BILLABLE'")
    chosen = [_dimensions()[d] for d in group_by]
    columns = [f"{expression} AS k{i}" for i, (expression, _) in enumerate(chosen)]
    group = f" GROUP BY {', '.join(e for e, _ in chosen)}" if chosen else ""
    # Staff see every ticket (the condition is TRUE): the join is needed only for the
    # ticket's own columns (a third of the time at 200,000 entries).
    joined = visible[0] != "TRUE" or any(e.startswith("t.") for e, _ in chosen)
    source = f"{TIME_ENTRY} JOIN ticket t ON t.id = te.ticket_id" if joined else str(TIME_ENTRY)
    # A statement per choice of dimensions and filters: text, as the choice reads.
    rows = await sql.fetch(
        f"SELECT {', '.join([*columns, TOTALS])} FROM {source} WHERE {where.sql()}{group}",
        *where.params,
    )
    buckets = [
        TimeBucket(
            [
                None if r[f"k{i}"] is None else shape(r[f"k{i}"])
                for i, (_, shape) in enumerate(chosen)
            ],
            int(r["minutes"]),
            int(r["billable_minutes"]),
            int(r["entries"]),
        )
        for r in rows
    ]
    return sorted(buckets, key=lambda b: (-b.minutes, [k or "" for k in b.keys]))
