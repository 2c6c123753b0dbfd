"""Adding and changing activities: who may, what a reminder needs, and telling the owner.

Any member of staff (light agents included) adds and updates activities on the tickets they
may change (the ticket gate decides); the owner is the creator unless someone else is named.
A reminder (EMAIL, SMS, POPUP) needs a remind time in the future and at least one channel;
completing the activity cancels it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.activities import Activity, ActivityKind, ReminderChannel
from guichet.models.people import Role, User
from guichet.models.tickets import TicketEventKind
from guichet.resolvers import access, ids
from guichet.resolvers.context import Context
from guichet.resolvers.errors import Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import (
    MAX_BODY,
    MAX_SUBJECT,
    channel_of,
)
from guichet.resolvers.work.activities import (
    ACTIVITY,
    ActivityRow,
    channels_of,
    stored_channels,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer


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
    changes = Changes.of(viewer)
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
    return ACTIVITY.row_of(activity)


async def update_activity(context: Context, request: ActivityChanges) -> ActivityRow:
    """Only the fields given change; null clears description, dueAt and remindAt (which
    removes the reminder). A new remindAt re-arms the reminder; completing cancels it."""
    viewer = context.require_viewer()
    _may_write(viewer)  # before any lookup: a customer learns nothing about activity ids
    pk = ids.decode_as(request.id, "Activity") or 0
    changes = Changes.of(viewer)
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
    return ACTIVITY.row_of(activity)
