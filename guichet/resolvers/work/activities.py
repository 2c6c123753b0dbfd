"""Activities: tasks, calls and events on a ticket, for staff, and their reminders.

Any member of staff (light agents included) adds and updates activities on the tickets they
see; customers never see them. An activity belongs to its owner, the creator unless someone
else is named, and the owner changes only when someone changes it. A reminder (EMAIL, SMS,
POPUP) is armed by a remind time in the future; completing the activity cancels it.

This module reads them; activity_changes.py adds and changes them; reminders.py sends the
reminders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from guichet.models.activities import ActivityKind, ReminderChannel
from guichet.models.people import Role
from guichet.resolvers import access, ids, sql
from guichet.resolvers.context import Context
from guichet.resolvers.errors import BadRequest, NotFound
from guichet.resolvers.sql import as_datetime

if TYPE_CHECKING:
    pass


@dataclass(slots=True)
class ActivityRow:
    pk: int
    ticket_id: int
    kind: ActivityKind
    subject: str
    description: str | None
    owner_id: int
    created_by_id: int
    due_at: datetime | None
    remind_at: datetime | None
    reminder_channels: list[ReminderChannel]
    reminded_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("Activity", self.pk)

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


# Soonest due first, those without a due date last, then in the order they were added.
ACTIVITY_ORDER = "(a.due_at IS NULL), a.due_at, a.id"


def channels_of(stored: str) -> list[ReminderChannel]:
    return [ReminderChannel(c) for c in stored.split(",") if c]


def stored_channels(channels: Sequence[ReminderChannel]) -> str:
    """One spelling per set of channels: each once, in the enum's order."""
    return ",".join(c.value for c in ReminderChannel if c in set(channels))


ACTIVITY = sql.Table(
    "activity", "a", ActivityRow,
    "id", "ticket_id", ("kind", ActivityKind), "subject", "description", "owner_id",
    "created_by_id", ("due_at", as_datetime), ("remind_at", as_datetime),
    ("reminder_channels", channels_of), ("reminded_at", as_datetime),
    ("completed_at", as_datetime), ("created_at", as_datetime), ("updated_at", as_datetime),
)  # fmt: skip
_ON_VISIBLE_TICKETS = f"{ACTIVITY} JOIN ticket t ON t.id = a.ticket_id"
_BY = {
    column: sql.select(ACTIVITY, from_=_ON_VISIBLE_TICKETS)
    .where(sql.among(f"a.{column}"), sql.GIVEN)
    .order(ACTIVITY_ORDER)
    for column in ("id", "ticket_id")
}
_ANCHOR = sql.select("id, due_at", from_="activity").where("id = ?", "owner_id = ?")
_MINE = (
    sql.select(ACTIVITY, from_=_ON_VISIBLE_TICKETS).where(sql.GIVEN).order(ACTIVITY_ORDER).limit()
)


# ---------------------------------------------------------------- reads


async def _select(context: Context, column: str, keys: Sequence[int]) -> list[ActivityRow]:
    """Activities whose `column` is one of `keys`, for staff, on tickets they see."""
    viewer = context.require_viewer()
    if not access.can_see_activities(viewer):
        return []
    rows = await _BY[column].fetch(keys, access.visible_tickets_condition(viewer, "t", 1))
    return [ACTIVITY.row(r) for r in rows]


async def activities_by_id(context: Context, keys: Sequence[int]) -> list[ActivityRow | None]:
    found = {row.pk: row for row in await _select(context, "id", keys)}
    return [found.get(k) for k in keys]


async def activity_for_viewer(context: Context, pk: int) -> ActivityRow:
    """An activity, for staff; NotFound for everyone else."""
    if not access.can_see_activities(context.require_viewer()):
        raise NotFound()
    return await context.visible_one(activities_by_id, pk)


async def activities_by_ticket(context: Context, keys: Sequence[int]) -> list[list[ActivityRow]]:
    """Each ticket's activities, soonest due first."""
    grouped: dict[int, list[ActivityRow]] = defaultdict(list)
    for row in await _select(context, "ticket_id", keys):
        grouped[row.ticket_id].append(row)
    return [grouped.get(k, []) for k in keys]


async def my_activities(
    context: Context, *, completed: bool | None, after: str | None, limit: int
) -> list[ActivityRow]:
    """The viewer's activities, soonest due first (no due date last). `after` is the id of
    the last activity of the previous page."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.LIGHT_AGENT)
    where = sql.Where()
    where.add("a.owner_id = ?", viewer.id)
    if completed is not None:
        where.add(f"a.completed_at IS {'NOT ' if completed else ''}NULL")
    if after is not None:
        pk = ids.decode_as(after, "Activity")
        anchor = pk and await _ANCHOR.fetch(pk, viewer.id)
        if not anchor:
            raise BadRequest("after must be the id of one of your activities.")
        due = anchor[0]["due_at"]
        if due is None:
            where.add("a.due_at IS NULL AND a.id > ?", pk)
        else:
            where.add(
                "(a.due_at > ? OR (a.due_at = ? AND a.id > ?) OR a.due_at IS NULL)", due, due, pk
            )
    where.given(access.visible_tickets_condition(viewer, "t", 1))
    return [ACTIVITY.row(r) for r in await _MINE.fetch(where.part, limit)]
