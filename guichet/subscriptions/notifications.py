"""notifications: the viewer's notifications, live, and replayed after `after:`.

What is published on a user's topic is only a stored notification's id (see
resolvers/history.Changes.notify); each subscriber reads the row back as itself, so a
message about a notification that is not the viewer's is never delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

from guichet.resolvers import ids, resume, topics
from guichet.resolvers.people import notifications
from guichet.resolvers.people.notifications import NewNotification, NotificationRow
from guichet.subscriptions import bus

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# Notifications read per replay statement.
REPLAY_BATCH = 200


async def notify(
    context: Context,
    user_pk: int,
    kind: str,
    message: str,
    created_at: datetime | None = None,
    ticket_pk: int | None = None,
    *,
    approval_request_pk: int | None = None,
    activity_pk: int | None = None,
) -> int:
    """Tell one user something now, outside any rule's transaction (scripts, tests): store
    the notification, then publish its id; returns the id. Rules use `Changes.notify`."""
    pk = await notifications.store(
        NewNotification(
            user_pk, kind, message, ticket_pk, approval_request_pk, activity_pk, created_at
        )
    )
    if context.bus is not None:
        await context.bus.publish(topics.user_notifications(user_pk), {"notification": pk})
    return pk


async def notifications_of_viewer(
    context: Context, after: str | None = None
) -> AsyncIterator[NotificationRow]:
    """Subscribe first, then replay the viewer's notifications after `after` (oldest first),
    then go live: nothing committed in between is lost, nothing is sent twice (what was sent
    is skipped by id, as ticketHistory does). When the bus says messages may have been lost
    (`bus.RESUMED`), the same replay runs again from where the stream started."""
    viewer = context.require_viewer()
    start = notifications.position(after)
    async with context.bus.subscribe(topics.user_notifications(viewer.id)) as live:
        # Replays start after `after`, or where the viewer's notifications stood when the
        # stream began (what a RESUMED replays after).
        floor = start if start is not None else await resume.latest_notification(context)
        sent: set[int] = set()

        async def missed() -> list[NotificationRow]:
            """The viewer's notifications after `floor` not sent yet, oldest first."""
            rows, last = [], floor
            while batch := await notifications.notifications_after(context, last, REPLAY_BATCH):
                rows += [row for row in batch if row.pk not in sent]
                last = batch[-1].pk
            return rows

        if start is not None:
            for row in await missed():
                sent.add(row.pk)
                yield row
        async for message in live:
            context.next_event()
            if message is bus.RESUMED:
                for row in await missed():
                    sent.add(row.pk)
                    yield row
                continue
            pk = message.get("notification")
            if not isinstance(pk, int) or pk in sent or (start is not None and pk <= start):
                continue  # sent already, or up to `after`: the client has it
            if not 0 < pk <= ids.MAX_KEY:
                continue
            row = await context.loader(notifications.notifications_by_id).load(pk)
            if row is None:
                continue  # not the viewer's (e.g. another deployment on the same Redis)
            sent.add(pk)
            yield row
