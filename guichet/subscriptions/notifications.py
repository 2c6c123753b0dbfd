"""The viewer's live notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from guichet.resolvers.sql import as_datetime
from guichet.subscriptions import topics

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


@dataclass(slots=True)
class NotificationRow:
    kind: str
    message: str
    created_at: datetime
    ticket_id: int | None = None
    approval_request_id: int | None = None
    activity_id: int | None = None


async def notify(
    context: Context,
    user_pk: int,
    kind: str,
    message: str,
    created_at: datetime,
    ticket_pk: int | None = None,
    *,
    approval_request_pk: int | None = None,
    activity_pk: int | None = None,
) -> None:
    """Tell one user something, live. Call after the change has committed."""
    if context.bus is not None:
        await context.bus.publish(
            topics.user_notifications(user_pk),
            {
                "kind": kind,
                "message": message,
                "created_at": created_at.isoformat(),
                "ticket": ticket_pk,
                "approvalRequest": approval_request_pk,
                "activity": activity_pk,
            },
        )


async def notifications_of_viewer(context: Context) -> AsyncIterator[NotificationRow]:
    viewer = context.require_viewer()
    async with context.bus.subscribe(topics.user_notifications(viewer.id)) as events:
        async for event in events:
            context.next_event()
            yield NotificationRow(
                event["kind"],
                event["message"],
                as_datetime(event["created_at"]),
                event.get("ticket"),
                event.get("approvalRequest"),
                event.get("activity"),
            )
