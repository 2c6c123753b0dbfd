"""approvalRequestAssigned: requests assigned to the viewer, and changes to them, replayed
after `after:` (see resolvers/approval_feed.py for what "after" means)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from guichet.resolvers import resume, topics
from guichet.resolvers.approvals import approval_feed
from guichet.resolvers.approvals.approvals import ApprovalRow
from guichet.subscriptions import bus

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


async def assigned_to_viewer(
    context: Context, after: str | None = None
) -> AsyncIterator[ApprovalRow]:
    """Subscribe first, then replay the viewer's requests changed after `after` (in change
    order), then go live. Each request is sent as of its latest change, and a given change
    key of a request is sent once: a message about a change already sent (by the replay,
    or with a later one) is skipped, so nothing is lost and nothing repeats. When the bus
    says messages may have been lost (`bus.RESUMED`), the same replay runs again from where
    the stream started."""
    viewer = context.require_viewer()
    start = await approval_feed.replay_start(context, after)
    async with context.bus.subscribe(topics.approval_requests(viewer.id)) as live:
        floor = start if start is not None else await resume.latest_change()
        # Request id -> the change key it was last sent at; changes up to `after` the
        # client has.
        sent: dict[int, int] = {}
        unseen = -1 if start is None else start

        def new(change: approval_feed.Change) -> bool:
            if change.key <= sent.get(change.request.pk, unseen):
                return False
            sent[change.request.pk] = change.key
            return True

        if start is not None:
            for change in await approval_feed.changes_after(context, floor):
                if new(change):
                    yield change.request
        async for message in live:
            context.next_event()
            if message is bus.RESUMED:
                for change in await approval_feed.changes_after(context, floor):
                    if new(change):
                        yield change.request
                continue
            pk = message.get("approvalRequest")
            if not isinstance(pk, int):
                continue
            # Re-read as the viewer: only approvers of the request get it.
            change = await approval_feed.change_of(context, pk)
            if change is not None and new(change):
                yield change.request
