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
from typing import TYPE_CHECKING, Any

from guichet.models.activities import Activity, ActivityKind, ReminderChannel
from guichet.models.people import Role
from guichet.resolvers import access, ids
from guichet.resolvers.context import Context
from guichet.resolvers.errors import BadRequest, NotFound
from guichet.resolvers.sql import as_datetime, fetch, placeholders

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


ACTIVITY_COLUMNS = (
    "a.id, a.ticket_id, a.kind, a.subject, a.description, a.owner_id, a.created_by_id,"
    " a.due_at, a.remind_at, a.reminder_channels, a.reminded_at, a.completed_at,"
    " a.created_at, a.updated_at"
)
# Soonest due first, those without a due date last, then in the order they were added.
ACTIVITY_ORDER = "(a.due_at IS NULL), a.due_at, a.id"


def channels_of(stored: str) -> list[ReminderChannel]:
    return [ReminderChannel(c) for c in stored.split(",") if c]


def stored_channels(channels: Sequence[ReminderChannel]) -> str:
    """One spelling per set of channels: each once, in the enum's order."""
    return ",".join(c.value for c in ReminderChannel if c in set(channels))


def activity_row(r: dict[str, Any]) -> ActivityRow:
    return ActivityRow(
        r["id"], r["ticket_id"], ActivityKind(r["kind"]), r["subject"], r["description"],
        r["owner_id"], r["created_by_id"], as_datetime(r["due_at"]), as_datetime(r["remind_at"]),
        channels_of(r["reminder_channels"]), as_datetime(r["reminded_at"]),
        as_datetime(r["completed_at"]), as_datetime(r["created_at"]), as_datetime(r["updated_at"]),
    )  # fmt: skip


def row_of(a: Activity) -> ActivityRow:
    return ActivityRow(
        a.id, a.ticket_id, ActivityKind(a.kind), a.subject, a.description, a.owner_id,
        a.created_by_id, a.due_at, a.remind_at, channels_of(a.reminder_channels), a.reminded_at,
        a.completed_at, a.created_at, a.updated_at,
    )  # fmt: skip


# ---------------------------------------------------------------- reads


async def _select(context: Context, column: str, keys: Sequence[int]) -> list[ActivityRow]:
    """Activities whose `column` is one of `keys`, for staff, on tickets they see."""
    viewer = context.require_viewer()
    if not access.can_see_activities(viewer):
        return []
    condition, params = access.visible_tickets_condition(viewer, "t", len(keys) + 1)
    rows = await fetch(
        f"SELECT {ACTIVITY_COLUMNS} FROM activity a JOIN ticket t ON t.id = a.ticket_id"
        f" WHERE a.{column} IN ({placeholders(len(keys))}) AND {condition}"
        f" ORDER BY {ACTIVITY_ORDER}",
        *keys,
        *params,
    )
    return [activity_row(r) for r in rows]


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
    where, params = ["a.owner_id = $1"], [viewer.id]
    if completed is not None:
        where.append(f"a.completed_at IS {'NOT ' if completed else ''}NULL")
    if after is not None:
        pk = ids.decode_as(after, "Activity")
        anchor = pk and await fetch(
            "SELECT id, due_at FROM activity WHERE id = $1 AND owner_id = $2", pk, viewer.id
        )
        if not anchor:
            raise BadRequest("after must be the id of one of your activities.")
        n = len(params) + 1
        if anchor[0]["due_at"] is None:
            where.append(f"a.due_at IS NULL AND a.id > ${n}")
            params.append(pk)
        else:
            where.append(
                f"(a.due_at > ${n} OR (a.due_at = ${n} AND a.id > ${n + 1}) OR a.due_at IS NULL)"
            )
            params += [anchor[0]["due_at"], pk]
    condition, visible = access.visible_tickets_condition(viewer, "t", len(params) + 1)
    rows = await fetch(
        f"SELECT {ACTIVITY_COLUMNS} FROM activity a JOIN ticket t ON t.id = a.ticket_id"
        f" WHERE {' AND '.join(where)} AND {condition}"
        f" ORDER BY {ACTIVITY_ORDER} LIMIT ${len(params) + len(visible) + 1}",
        *params,
        *visible,
        limit,
    )
    return [activity_row(r) for r in rows]
