"""Approvals: an agent asks approvers to decide something on a ticket; the ticket cannot
be solved or closed while a request is pending.

Approvers are agents, light agents (often the managers who hold the authority, with
read-only access otherwise) or customers; a customer approver may read the ticket's
public content for as long as the request exists (see access.visible_tickets_condition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from guichet.models.approvals import (
    ApprovalApprover,
    ApprovalStatus,
)
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import UserError
from guichet.resolvers.people import people
from guichet.resolvers.sql import as_datetime

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

MAX_APPROVERS = 20
# Ids are 32-bit integers in the database: a larger one names no row (and PostgreSQL
# refuses it as a parameter instead of finding nothing).
MAX_PK = 2**31 - 1


class ApprovalErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    NO_APPROVERS = "NO_APPROVERS"
    TOO_MANY_APPROVERS = "TOO_MANY_APPROVERS"
    DUPLICATE_APPROVER = "DUPLICATE_APPROVER"
    UNKNOWN_APPROVER = "UNKNOWN_APPROVER"
    SELF_APPROVAL = "SELF_APPROVAL"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    EMPTY_RESPONSE = "EMPTY_RESPONSE"
    APPROVAL_PENDING = "APPROVAL_PENDING"


@dataclass(slots=True)
class ApprovalRow:
    pk: int
    ticket_id: int
    subject: str
    message: str
    status: ApprovalStatus
    created_by_id: int
    decided_by_id: int | None
    decided_at: datetime | None
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("ApprovalRequest", self.pk)


@dataclass(slots=True)
class ApprovalCommentRow:
    author_id: int
    body: str
    created_at: datetime


APPROVAL = sql.Table(
    "approval_request", "r", ApprovalRow,
    "id", "ticket_id", "subject", "message", ("status", ApprovalStatus), "created_by_id",
    "decided_by_id", ("decided_at", as_datetime), ("created_at", as_datetime),
)  # fmt: skip
APPROVAL_COMMENT = sql.Table(
    "approval_comment", "c", ApprovalCommentRow,
    "author_id", "body", ("created_at", as_datetime),
)  # fmt: skip

_BY_ID = sql.select(APPROVAL).where(sql.among("r.id"), sql.GIVEN)
_BY_TICKET = sql.select(APPROVAL).where(sql.among("r.ticket_id"), sql.GIVEN).order("r.id")
_APPROVERS = (
    sql.select(
        "a.request_id",
        people.USER,
        from_=f"approval_approver a JOIN {people.USER} ON u.id = a.user_id",
    )
    .where(sql.among("a.request_id"))
    .order("a.id")
)
_COMMENTS = (
    sql.select("c.request_id", APPROVAL_COMMENT).where(sql.among("c.request_id")).order("c.id")
)
_TO_DECIDE = (
    "r.id IN (SELECT a.request_id FROM approval_approver a WHERE a.user_id = ?)",
    sql.among("r.status"),
)
_TO_DECIDE_PAGE = (
    sql.select(APPROVAL).where(*_TO_DECIDE).order("r.created_at DESC, r.id DESC").page()
)
_TO_DECIDE_COUNT = sql.count(APPROVAL).where(*_TO_DECIDE)
_PENDING = sql.select("DISTINCT ticket_id", from_="approval_request").where(
    "status = 'PENDING'", sql.among("ticket_id")
)


# ---------------------------------------------------------------- reads


async def approvals_by_id(context: Context, keys: Sequence[int]) -> list[ApprovalRow | None]:
    """Requests by id: staff see those of every ticket; a customer only those they decide."""
    viewer = context.require_viewer()
    wanted = [k for k in keys if 0 < k <= MAX_PK]  # node(id) may name any number
    if not wanted:
        return [None] * len(keys)
    rows = await _BY_ID.fetch(wanted, access.visible_approvals_condition(viewer, "r", 1))
    return sql.in_key_order(keys, rows, APPROVAL.row)


async def approval_request_for_viewer(context: Context, pk: int) -> ApprovalRow:
    """An approval request the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(approvals_by_id, pk)


async def approvals_by_ticket(context: Context, keys: Sequence[int]) -> list[list[ApprovalRow]]:
    viewer = context.require_viewer()
    rows = await _BY_TICKET.fetch(keys, access.visible_approvals_condition(viewer, "r", 1))
    return sql.grouped_by(keys, rows, APPROVAL.row, "ticket_id")


async def approvers_by_request(context: Context, keys: Sequence[int]) -> list[list[people.UserRow]]:
    rows = await _APPROVERS.fetch(keys)
    return sql.grouped_by(keys, rows, people.USER.row, "request_id")


async def comments_by_request(
    context: Context, keys: Sequence[int]
) -> list[list[ApprovalCommentRow]]:
    rows = await _COMMENTS.fetch(keys)
    return sql.grouped_by(keys, rows, APPROVAL_COMMENT.row, "request_id")


async def requests_to_decide(
    viewer: Viewer, statuses: Sequence[ApprovalStatus], offset: int, limit: int
) -> tuple[list[ApprovalRow], int]:
    """The viewer's "Your tasks > Approval requests": newest first."""
    chosen = [s.value for s in statuses]
    rows = await _TO_DECIDE_PAGE.fetch(viewer.id, chosen, limit, offset)
    total = await _TO_DECIDE_COUNT.fetch(viewer.id, chosen)
    return [APPROVAL.row(r) for r in rows], total[0]["total"]


async def pending_approvals_block(ticket_pks: Sequence[int]) -> dict[int, list[UserError]]:
    """Close blocker: a ticket with a pending request can be neither solved nor closed."""
    rows = await _PENDING.fetch(ticket_pks)
    return {
        r["ticket_id"]: [
            UserError(
                # No count: a customer may see fewer requests than the ticket has.
                "Approval requests are still pending: they must be decided or withdrawn first.",
                ApprovalErrorCode.APPROVAL_PENDING,
            )
        ]
        for r in rows
    }


async def assigned_request(context: Context, request_pk: int) -> ApprovalRow | None:
    """For the live feed: the request, if the viewer is (still) one of its approvers."""
    viewer = context.require_viewer()
    if not await ApprovalApprover.filter(request_id=request_pk, user_id=viewer.id).exists():
        return None
    return await context.loader(approvals_by_id).load(request_pk)
