"""Activities: tasks, calls and events on a ticket, for staff, with their reminders."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.models import activities as models
from guichet.models.people import Role
from guichet.resolvers.people import people
from guichet.resolvers.tickets import tickets
from guichet.resolvers.work import activities, activity_changes
from guichet.schema.fields import related
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User
from guichet.schema.relay import Node, page_size
from guichet.schema.requires import requires
from guichet.schema.ticket_ref import LazyTicket

ActivityKind = strawberry.enum(models.ActivityKind, name="ActivityKind")
ReminderChannel = strawberry.enum(models.ReminderChannel, name="ReminderChannel")


@strawberry.type(description="A task, call or event on a ticket (staff only).")
class Activity(Node):
    kind: ActivityKind
    subject: str
    description: str | None
    due_at: datetime | None
    remind_at: datetime | None
    reminder_channels: list[ReminderChannel]
    reminded_at: datetime | None = strawberry.field(
        description="When the reminder was sent; null while it has not been."
    )
    completed: bool
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    ticket: LazyTicket = related(tickets.tickets_by_id, key="ticket_id")
    owner: User = related(
        people.users_by_id,
        key="owner_id",
        description="Defaults to the creator; changed only explicitly.",
    )
    created_by: User = related(people.users_by_id, key="created_by_id")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, activities.ActivityRow)


@strawberry.input
class AddActivityInput:
    ticket_id: strawberry.ID
    kind: ActivityKind
    subject: str
    description: str | None = None
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="A member of staff; the creator when omitted."
    )
    due_at: datetime | None = None
    remind_at: datetime | None = strawberry.field(
        default=None, description="In the future, with at least one reminder channel."
    )
    reminder_channels: list[ReminderChannel] | None = None


@strawberry.input(
    description=(
        "Only the fields given change. Null clears description and dueAt; remindAt null removes "
        "the reminder. A new remindAt re-arms it; completing cancels it."
    )
)
class UpdateActivityInput:
    id: strawberry.ID
    subject: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    remind_at: datetime | None = strawberry.UNSET
    reminder_channels: list[ReminderChannel] | None = strawberry.UNSET
    completed: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true marks it done, false reopens it."
    )


@payload
class ActivityPayload:
    activity: Activity | None = None


@strawberry.type
class ActivityQuery:
    @strawberry.field(
        description=(
            "Activities owned by the viewer, soonest due first (no due date last). "
            "`after`: the id of the last activity of the previous page."
        ),
        extensions=[requires(Role.LIGHT_AGENT)],
    )
    async def my_activities(
        self,
        info: strawberry.Info,
        completed: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> list[Activity] | None:
        return await activities.my_activities(
            info.context, completed=completed, after=after, limit=page_size(first)
        )


@strawberry.type
class ActivityMutation:
    @mutation(ActivityPayload, description="Staff: add a task, call or event to a ticket.")
    async def add_activity(self, info: strawberry.Info, input: AddActivityInput) -> ActivityPayload:
        request = plain(input, activity_changes.NewActivity)
        return ActivityPayload(activity=await activity_changes.add_activity(info.context, request))

    @mutation(ActivityPayload, description="Staff: change, complete or reopen an activity.")
    async def update_activity(
        self, info: strawberry.Info, input: UpdateActivityInput
    ) -> ActivityPayload:
        changes = plain(input, activity_changes.ActivityChanges)
        return ActivityPayload(
            activity=await activity_changes.update_activity(info.context, changes)
        )
