"""Approvals: requests, decisions, the approver's task list and its live feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum

import strawberry

from guichet.models import approvals as models
from guichet.resolvers.approvals import approval_decisions, approvals
from guichet.resolvers.people import people
from guichet.resolvers.tickets import tickets
from guichet.schema.fields import related
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User
from guichet.schema.relay import Connection, Node, after_position, connection, page_size
from guichet.schema.ticket_ref import LazyTicket
from guichet.subscriptions import approvals as live

ApprovalStatus = strawberry.enum(models.ApprovalStatus, name="ApprovalStatus")


@strawberry.enum
class ApprovalDecision(Enum):
    APPROVE = "APPROVE"
    DENY = "DENY"


@strawberry.type(description="A question to or an answer from an approver.")
class ApprovalComment:
    body: str
    created_at: datetime
    author: User = related(people.users_by_id, key="author_id")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, approvals.ApprovalCommentRow)


@strawberry.type(description="An agent's request that approvers decide something about a ticket.")
class ApprovalRequest(Node):
    subject: str
    message: str
    status: ApprovalStatus
    decided_at: datetime | None
    created_at: datetime
    ticket: LazyTicket = related(tickets.tickets_by_id, key="ticket_id")
    created_by: User = related(
        people.users_by_id, key="created_by_id", description="The agent who created the request."
    )
    approvers: list[User] = related(
        approvals.approvers_by_request, key="pk", description="Agents or end users asked to decide."
    )
    comments: list[ApprovalComment] = related(
        approvals.comments_by_request,
        key="pk",
        description="Comments on the request: questions to and answers from the approvers.",
    )
    decided_by: User | None = related(people.users_by_id, key="decided_by_id")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, approvals.ApprovalRow)


@strawberry.input
class RequestApprovalInput:
    ticket_id: strawberry.ID
    approver_ids: list[strawberry.ID]
    subject: str
    message: str


@strawberry.input
class RespondToApprovalInput:
    id: strawberry.ID
    decision: ApprovalDecision | None = strawberry.field(
        default=None, description="Omit to only comment (e.g. to ask for more information)."
    )
    comment: str | None = None


@payload
class ApprovalRequestPayload:
    approval_request: ApprovalRequest | None = None


@strawberry.type
class ApprovalQuery:
    @strawberry.field(
        description=(
            "Approval requests waiting for the viewer's decision ('Your tasks > Approval requests'), "
            "newest first. Without `status`, only PENDING ones."
        )
    )
    async def my_approval_requests(
        self,
        info: strawberry.Info,
        status: list[ApprovalStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ApprovalRequest]:
        viewer = info.context.require_viewer()
        limit = page_size(first)
        offset = after_position(after)
        statuses = status or [models.ApprovalStatus.PENDING]
        rows, total = await approvals.requests_to_decide(viewer, statuses, offset, limit)
        counter = iter(range(offset + 1, offset + limit + 1))
        return connection(
            rows,
            total,
            key=lambda _r: next(counter),
            has_next=offset + len(rows) < total,
            has_previous=offset > 0,
        )


@strawberry.type
class ApprovalMutation:
    @mutation(
        ApprovalRequestPayload,
        description="Agents and admins: ask one or more approvers (agents or end users) to decide.",
    )
    async def request_approval(
        self, info: strawberry.Info, input: RequestApprovalInput
    ) -> ApprovalRequestPayload:
        request = await approval_decisions.request_approval(
            info.context,
            ticket_id=input.ticket_id,
            approver_ids=input.approver_ids,
            subject=input.subject,
            message=input.message,
        )
        return ApprovalRequestPayload(approval_request=request)

    @mutation(
        ApprovalRequestPayload,
        description="Approvers: APPROVE, DENY, or only comment to ask for more information.",
    )
    async def respond_to_approval(
        self, info: strawberry.Info, input: RespondToApprovalInput
    ) -> ApprovalRequestPayload:
        request = await approval_decisions.respond(
            info.context,
            approval_id=input.id,
            decision=input.decision.value if input.decision else None,
            comment=input.comment,
        )
        return ApprovalRequestPayload(approval_request=request)

    @mutation(
        ApprovalRequestPayload,
        description="The asking agent (or an admin) withdraws a pending request.",
    )
    async def withdraw_approval(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> ApprovalRequestPayload:
        request = await approval_decisions.withdraw(info.context, id)
        return ApprovalRequestPayload(approval_request=request)


@strawberry.type
class ApprovalSubscription:
    @strawberry.subscription(
        description=(
            "Fires when an approval request is assigned to the viewer (and when one assigned "
            "to them changes), with the request as of its latest change. Each change (asked, "
            "commented, approved, denied, withdrawn) is an event of the ticket's history, and "
            "changes are ordered by those events' ids. With `after`, first replays, in that "
            "order, the viewer's requests changed after it, each once: `after` is an approval "
            "request id (everything assigned to the viewer, or changed, after that request "
            "was assigned to them) or a history event's id or cursor (everything changed "
            "after that event)."
        )
    )
    async def approval_request_assigned(
        self, info: strawberry.Info, after: str | None = None
    ) -> AsyncGenerator[ApprovalRequest, None]:
        async for request in live.assigned_to_viewer(info.context, after):
            yield request
