"""approvalRequestAssigned: requests assigned to the viewer, and changes to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from guichet.resolvers import approvals
from guichet.subscriptions import topics

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


async def assigned_to_viewer(context: Context) -> AsyncIterator[approvals.ApprovalRow]:
    viewer = context.require_viewer()
    async with context.bus.subscribe(topics.approval_requests(viewer.id)) as events:
        async for event in events:
            context.next_event()
            # Re-read as the viewer: only approvers of the request get it.
            request = await approvals.assigned_request(context, event["approvalRequest"])
            if request is not None:
                yield request
