"""Notifications of the signed-in user: listed (the bell menu), marked read, pushed live."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from guichet.resolvers.approvals import approvals
from guichet.resolvers.people import notifications
from guichet.resolvers.tickets import tickets
from guichet.resolvers.work import activities
from guichet.schema.errors import UserError
from guichet.schema.fields import related
from guichet.schema.payloads import mutation, payload
from guichet.schema.relay import Connection, Node, connection, page_size
from guichet.subscriptions import notifications as live

if TYPE_CHECKING:
    from guichet.schema.activities import Activity
    from guichet.schema.approvals import ApprovalRequest
    from guichet.schema.tickets import Ticket


@strawberry.type(
    description="Something the viewer should know, kept for them alone until they mark it read."
)
class Notification(Node):
    id: strawberry.ID = strawberry.field(
        description="Stable id; also the cursor that `after:` takes to resume."
    )
    kind: str = strawberry.field(
        description=(
            "Stable kind, e.g. ADDED_TO_GROUP, TICKET_ASSIGNED, MENTIONED (a comment names the "
            "viewer), ORGANIZATION_TICKET_CREATED / ORGANIZATION_TICKET_UPDATED (a request of an "
            "organization the viewer follows)."
        )
    )
    message: str
    created_at: datetime
    read_at: datetime | None = strawberry.field(
        description="When the viewer marked it read (null: unread)."
    )
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
class NotificationConnection(Connection[Notification]):
    unread_count: int = strawberry.field(description="How many of the viewer's are unread.")


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Without ids: all of the viewer's notifications."
    )


@payload
class MarkNotificationsReadPayload:
    unread_count: int

    @classmethod
    async def refused(
        cls, info: strawberry.Info, errors: list[UserError]
    ) -> MarkNotificationsReadPayload:
        """Nothing was marked: the count is still the viewer's, as unreadCount is non-null."""
        return cls(unread_count=await notifications.unread_count(info.context), errors=errors)


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="The viewer's notifications, newest first: what a bell menu shows after a reload."
    )
    async def notifications(
        self,
        info: strawberry.Info,
        unread_only: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> NotificationConnection:
        limit = page_size(first)
        found = await notifications.page(
            info.context,
            unread_only=bool(unread_only),
            before_pk=notifications.position(after),
            limit=limit,
        )
        page = connection(
            found.rows,
            found.total,
            key=lambda row: row.pk,
            has_next=found.has_next,
            has_previous=after is not None,
        )
        return NotificationConnection(
            edges=page.edges,
            page_info=page.page_info,
            total_count=page.total_count,
            unread_count=found.unread,
        )


@strawberry.type
class NotificationMutation:
    @mutation(
        MarkNotificationsReadPayload,
        description=(
            "Mark the viewer's notifications read: those named, or all of them. An id that is "
            "not one of the viewer's notifications answers NOT_FOUND and nothing is marked."
        ),
    )
    async def mark_notifications_read(
        self, info: strawberry.Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        given = None if input.ids is None else [str(i) for i in input.ids]
        unread = await notifications.mark_read(info.context, given)
        return MarkNotificationsReadPayload(unread_count=unread)


@strawberry.type
class NotificationSubscription:
    @strawberry.subscription(
        description=(
            "The viewer's live notifications: assignments, mentions (`@email` or `@Full Name` "
            "of a member of staff in a comment they may see), activity reminders (POPUP), "
            "approval decisions, memberships, requests of followed organizations. With `after` "
            "(a notification id or cursor), first replays the viewer's notifications after it, "
            "oldest first, so a client that reconnects loses nothing."
        )
    )
    async def notifications(
        self, info: strawberry.Info, after: str | None = None
    ) -> AsyncGenerator[Notification, None]:
        async for row in live.notifications_of_viewer(info.context, after):
            yield row
