"""Live notifications of the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from guichet.resolvers import activities, approvals, tickets
from guichet.schema.fields import related
from guichet.subscriptions import notifications

if TYPE_CHECKING:
    from guichet.schema.activities import Activity
    from guichet.schema.approvals import ApprovalRequest
    from guichet.schema.tickets import Ticket


@strawberry.type(description="Something the viewer should know now.")
class Notification:
    kind: str = strawberry.field(description="Stable kind, e.g. ADDED_TO_GROUP, TICKET_ASSIGNED.")
    message: str
    created_at: datetime
    ticket: Annotated[Ticket, strawberry.lazy("guichet.schema.tickets")] | None = related(
        tickets.tickets_by_id, key="ticket_id", description="The ticket it is about, if any."
    )
    approval_request: (
        Annotated[ApprovalRequest, strawberry.lazy("guichet.schema.approvals")] | None
    ) = related(approvals.approvals_by_id, key="approval_request_id")
    activity: Annotated[Activity, strawberry.lazy("guichet.schema.activities")] | None = related(
        activities.activities_by_id,
        key="activity_id",
        description="The activity it is about (ACTIVITY_REMINDER, ACTIVITY_ASSIGNED), if any.",
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, notifications.NotificationRow)


@strawberry.type
class NotificationSubscription:
    @strawberry.subscription(
        description=(
            "The viewer's live notifications: assignments, mentions, activity reminders "
            "(POPUP), approval decisions, memberships."
        )
    )
    async def notifications(self, info: strawberry.Info) -> AsyncGenerator[Notification, None]:
        async for row in notifications.notifications_of_viewer(info.context):
            yield row
