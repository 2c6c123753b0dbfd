"""Activities: tasks, calls and events on a ticket, for staff, and their reminders.

Any member of staff (light agents included) adds and updates activities on the tickets they
see; customers never see them. An activity belongs to its owner, the creator unless someone
else is named, and the owner changes only when someone changes it. A reminder (EMAIL, SMS,
POPUP) is armed by a remind time in the future; completing the activity cancels it.

Reminders are sent by reminders.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.activities import Activity, ActivityKind, ReminderChannel
from guichet.models.people import Role, User
from guichet.models.tickets import TicketEventKind
from guichet.resolvers import access, ids
from guichet.resolvers.context import Context
from guichet.resolvers.errors import BadRequest, Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.history import Changes
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.sql import as_datetime, fetch, placeholders
from guichet.resolvers.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets import (
    MAX_BODY,
    MAX_SUBJECT,
    channel_of,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer

log = logging.getLogger("guichet.activities")

# Reminders claimed per statement (and per transaction).
BATCH = 50


class ActivityErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    OWNER_NOT_STAFF = "OWNER_NOT_STAFF"
    OWNER_HAS_NO_PHONE = "OWNER_HAS_NO_PHONE"
    REMIND_AT_IN_PAST = "REMIND_AT_IN_PAST"
    CHANNELS_WITHOUT_TIME = "CHANNELS_WITHOUT_TIME"
    TIME_WITHOUT_CHANNELS = "TIME_WITHOUT_CHANNELS"
    REMINDER_ON_COMPLETED = "REMINDER_ON_COMPLETED"


MESSAGES = {
    ActivityErrorCode.REQUIRED: "An activity has an owner.",
    ActivityErrorCode.TOO_LONG: f"description is longer than {MAX_BODY} characters.",
    ActivityErrorCode.INVALID: "description contains a NUL character.",
    ActivityErrorCode.NOT_FOUND: "No user has this id.",
    ActivityErrorCode.OWNER_NOT_STAFF: "Activities belong to staff, not to customers.",
    ActivityErrorCode.OWNER_HAS_NO_PHONE: "The owner has no phone number for SMS reminders.",
    ActivityErrorCode.REMIND_AT_IN_PAST: "The remind time must be in the future.",
    ActivityErrorCode.CHANNELS_WITHOUT_TIME: "Reminder channels need a remind time.",
    ActivityErrorCode.TIME_WITHOUT_CHANNELS: "A remind time needs at least one channel.",
    ActivityErrorCode.REMINDER_ON_COMPLETED: (
        "A completed activity has no reminder: reopen it first (completed: false)."
    ),
}


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


# ---------------------------------------------------------------- rules


def _refuse(code: ActivityErrorCode, field: str) -> Refused:
    return Refused(UserError(MESSAGES[code], code, ["input", field]))


def _utc(value: datetime | None) -> datetime | None:
    """Stored in UTC (SQLite compares timestamps as text); a naive time is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _description(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_BODY:
        raise _refuse(ActivityErrorCode.TOO_LONG, "description")
    if "\x00" in value:
        raise _refuse(ActivityErrorCode.INVALID, "description")
    return value


def _subject(value: str | None) -> str:
    if error := text_error(value, ["input", "subject"], max_length=MAX_SUBJECT):
        raise Refused(error)
    return value.strip()  # type: ignore[union-attr]


async def _owner(global_id: str | None) -> User:
    """A named owner: a member of staff."""
    if global_id is None:
        raise _refuse(ActivityErrorCode.REQUIRED, "ownerId")
    pk = ids.decode_as(global_id, "User")
    user = await User.get_or_none(id=pk) if pk else None
    if user is None:
        raise _refuse(ActivityErrorCode.NOT_FOUND, "ownerId")
    if not Role(user.role).at_least(Role.LIGHT_AGENT):
        raise _refuse(ActivityErrorCode.OWNER_NOT_STAFF, "ownerId")
    return user


def _check_reminder(
    remind_at: datetime | None,
    channels: Sequence[ReminderChannel],
    owner: User,
    *,
    check_time: bool,
) -> None:
    """A reminder is a time and at least one channel; a time being set (or a reminder being
    changed) must be in the future; SMS needs the owner's phone number."""
    if check_time and remind_at is not None and remind_at <= datetime.now(UTC):
        raise _refuse(ActivityErrorCode.REMIND_AT_IN_PAST, "remindAt")
    if channels and remind_at is None:
        raise _refuse(ActivityErrorCode.CHANNELS_WITHOUT_TIME, "remindAt")
    if remind_at is not None and not channels:
        raise _refuse(ActivityErrorCode.TIME_WITHOUT_CHANNELS, "reminderChannels")
    if ReminderChannel.SMS in channels and not owner.phone:
        raise _refuse(ActivityErrorCode.OWNER_HAS_NO_PHONE, "reminderChannels")


async def _tell_owner(changes: Changes, viewer: Viewer, activity: Activity, number: int) -> None:
    if activity.owner_id != viewer.id:
        await changes.notify(
            activity.owner_id, "ACTIVITY_ASSIGNED",
            f"{viewer.name} gave you a {activity.kind.lower()} on ticket #{number}: {activity.subject}",
            activity.ticket_id, activity_pk=activity.id,
        )  # fmt: skip


def _may_write(viewer: Viewer) -> None:
    if not access.can_see_activities(viewer):
        raise Forbidden("Only staff add and update activities.")


@dataclass(frozen=True, slots=True)
class NewActivity:
    """addActivity's input, as plain values."""

    ticket_id: str
    kind: ActivityKind
    subject: str
    description: str | None = None
    owner_id: str | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    reminder_channels: Sequence[ReminderChannel] | None = None


@dataclass(frozen=True, slots=True)
class ActivityChanges:
    """updateActivity's input: only the fields not OMITTED change; null clears."""

    id: str
    subject: str | OmittedType | None = OMITTED
    description: str | OmittedType | None = OMITTED
    owner_id: str | OmittedType | None = OMITTED
    due_at: datetime | OmittedType | None = OMITTED
    remind_at: datetime | OmittedType | None = OMITTED
    reminder_channels: Sequence[ReminderChannel] | OmittedType | None = OMITTED
    completed: bool | OmittedType | None = OMITTED


async def add_activity(context: Context, request: NewActivity) -> ActivityRow:
    viewer = context.require_viewer()
    changes = Changes()
    async with in_transaction():
        ticket = await ticket_for_change(context, request.ticket_id, TicketAction.ADD_ACTIVITY)
        subject = _subject(request.subject)
        description = _description(request.description)
        owner = await (
            _owner(request.owner_id) if request.owner_id is not None else User.get(id=viewer.id)
        )
        remind_at = _utc(request.remind_at)
        channels = list(request.reminder_channels or ())
        _check_reminder(remind_at, channels, owner, check_time=True)
        activity = await Activity.create(
            ticket_id=ticket.pk, kind=request.kind, subject=subject, description=description,
            owner_id=owner.id, created_by_id=viewer.id, due_at=_utc(request.due_at),
            remind_at=remind_at, reminder_channels=stored_channels(channels),
        )  # fmt: skip
        await changes.record(
            ticket.pk, TicketEventKind.ACTIVITY_ADDED, actor_pk=viewer.id, via=channel_of(viewer),
            public=False, data={"activity": ids.encode("Activity", activity.id),
                                "kind": activity.kind.value, "subject": subject,
                                "owner": ids.encode("User", owner.id)},
        )  # fmt: skip
        await _tell_owner(changes, viewer, activity, ticket.number)
    await changes.publish(context)
    return row_of(activity)


async def update_activity(context: Context, request: ActivityChanges) -> ActivityRow:
    """Only the fields given change; null clears description, dueAt and remindAt (which
    removes the reminder). A new remindAt re-arms the reminder; completing cancels it."""
    viewer = context.require_viewer()
    _may_write(viewer)  # before any lookup: a customer learns nothing about activity ids
    pk = ids.decode_as(request.id, "Activity") or 0
    changes = Changes()
    async with in_transaction():
        activity = await Activity.select_for_update().get_or_none(id=pk)
        if activity is None:
            raise NotFound("No such activity.")
        ticket = await ticket_for_change(context, activity.ticket_id, TicketAction.UPDATE_ACTIVITY)
        if given(request.subject):
            activity.subject = _subject(request.subject)
        if given(request.description):
            activity.description = _description(request.description)
        if given(request.due_at):
            activity.due_at = _utc(request.due_at)
        previous_owner = activity.owner_id
        owner = await (
            _owner(request.owner_id) if given(request.owner_id) else User.get(id=previous_owner)
        )
        activity.owner_id = owner.id
        completed = activity.completed_at is not None
        if given(request.completed) and request.completed is not None:
            completed = request.completed
        remind_at, channels = activity.remind_at, channels_of(activity.reminder_channels)
        if given(request.remind_at):
            remind_at = _utc(request.remind_at)
            if remind_at is None:
                channels = []
        if given(request.reminder_channels):
            channels = list(request.reminder_channels or ())
        setting = (given(request.remind_at) and remind_at is not None) or (
            given(request.reminder_channels) and channels
        )
        if completed and setting:
            raise _refuse(ActivityErrorCode.REMINDER_ON_COMPLETED, "remindAt")
        reminder_changed = given(request.remind_at) or given(request.reminder_channels)
        if not completed and (reminder_changed or owner.id != previous_owner):
            armed = activity.reminded_at is None or given(request.remind_at)
            if reminder_changed or armed:
                _check_reminder(remind_at, channels, owner, check_time=reminder_changed)
        if given(request.remind_at):
            activity.reminded_at = None  # re-armed (or removed)
        activity.remind_at, activity.reminder_channels = remind_at, stored_channels(channels)
        if completed and activity.completed_at is None:
            activity.completed_at = datetime.now(UTC)
            activity.remind_at, activity.reminder_channels = None, ""
            await changes.record(
                ticket.pk, TicketEventKind.ACTIVITY_COMPLETED, actor_pk=viewer.id,
                via=channel_of(viewer), public=False,
                data={"activity": ids.encode("Activity", activity.id), "subject": activity.subject},
            )  # fmt: skip
        elif not completed:
            activity.completed_at = None
        await activity.save()
        if owner.id != previous_owner:
            await _tell_owner(changes, viewer, activity, ticket.number)
    await changes.publish(context)
    return row_of(activity)
