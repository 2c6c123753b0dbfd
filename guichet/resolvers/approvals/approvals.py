"""Approvals: an agent asks approvers to decide something on a ticket; the ticket cannot
be solved or closed while a request is pending.

Approvers are agents, light agents (often the managers who hold the authority, with
read-only access otherwise) or customers; a customer approver may read the ticket's
public content for as long as the request exists (see access.visible_tickets_condition).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from guichet.models.approvals import (
    ApprovalApprover,
    ApprovalRequest,
    ApprovalStatus,
)
from guichet.resolvers import access, ids
from guichet.resolvers.errors import UserError
from guichet.resolvers.people import people
from guichet.resolvers.sql import as_datetime, fetch, placeholders

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


APPROVAL_COLUMNS = (
    "r.id, r.ticket_id, r.subject, r.message, r.status, r.created_by_id, r.decided_by_id,"
    " r.decided_at, r.created_at"
)


def approval_row(r: dict[str, Any]) -> ApprovalRow:
    return ApprovalRow(
        r["id"], r["ticket_id"], r["subject"], r["message"], ApprovalStatus(r["status"]),
        r["created_by_id"], r["decided_by_id"], as_datetime(r["decided_at"]), as_datetime(r["created_at"]),
    )  # fmt: skip


def row_of(request: ApprovalRequest) -> ApprovalRow:
    return ApprovalRow(
        request.id, request.ticket_id, request.subject, request.message, ApprovalStatus(request.status),
        request.created_by_id, request.decided_by_id, request.decided_at, request.created_at,
    )  # fmt: skip


# ---------------------------------------------------------------- reads


async def approvals_by_id(context: Context, keys: Sequence[int]) -> list[ApprovalRow | None]:
    """Requests by id: staff see those of every ticket; a customer only those they decide."""
    viewer = context.require_viewer()
    wanted = [k for k in keys if 0 < k <= MAX_PK]  # node(id) may name any number
    if not wanted:
        return [None] * len(keys)
    condition, params = access.visible_approvals_condition(viewer, "r", len(wanted) + 1)
    rows = await fetch(
        f"SELECT {APPROVAL_COLUMNS} FROM approval_request r"
        f" WHERE r.id IN ({placeholders(len(wanted))}) AND {condition}",
        *wanted,
        *params,
    )
    found = {r["id"]: approval_row(r) for r in rows}
    return [found.get(k) for k in keys]


async def approval_request_for_viewer(context: Context, pk: int) -> ApprovalRow:
    """An approval request the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(approvals_by_id, pk)


async def approvals_by_ticket(context: Context, keys: Sequence[int]) -> list[list[ApprovalRow]]:
    viewer = context.require_viewer()
    condition, params = access.visible_approvals_condition(viewer, "r", len(keys) + 1)
    rows = await fetch(
        f"SELECT {APPROVAL_COLUMNS} FROM approval_request r"
        f" WHERE r.ticket_id IN ({placeholders(len(keys))}) AND {condition} ORDER BY r.id",
        *keys,
        *params,
    )
    grouped: dict[int, list[ApprovalRow]] = defaultdict(list)
    for r in rows:
        grouped[r["ticket_id"]].append(approval_row(r))
    return [grouped.get(k, []) for k in keys]


async def approvers_by_request(context: Context, keys: Sequence[int]) -> list[list[people.UserRow]]:
    rows = await fetch(
        f"SELECT a.request_id, {people.USER_COLUMNS} FROM approval_approver a"
        f' JOIN "user" u ON u.id = a.user_id WHERE a.request_id IN ({placeholders(len(keys))})'
        " ORDER BY a.id",
        *keys,
    )
    grouped: dict[int, list[people.UserRow]] = defaultdict(list)
    for r in rows:
        grouped[r["request_id"]].append(people.user_row(r))
    return [grouped.get(k, []) for k in keys]


async def comments_by_request(
    context: Context, keys: Sequence[int]
) -> list[list[ApprovalCommentRow]]:
    rows = await fetch(
        "SELECT c.request_id, c.author_id, c.body, c.created_at FROM approval_comment c"
        f" WHERE c.request_id IN ({placeholders(len(keys))}) ORDER BY c.id",
        *keys,
    )
    grouped: dict[int, list[ApprovalCommentRow]] = defaultdict(list)
    for r in rows:
        grouped[r["request_id"]].append(
            ApprovalCommentRow(r["author_id"], r["body"], as_datetime(r["created_at"]))
        )
    return [grouped.get(k, []) for k in keys]


async def requests_to_decide(
    viewer: Viewer, statuses: Sequence[ApprovalStatus], offset: int, limit: int
) -> tuple[list[ApprovalRow], int]:
    """The viewer's "Your tasks > Approval requests": newest first."""
    marks = placeholders(len(statuses), start=2)
    where = (
        "r.id IN (SELECT a.request_id FROM approval_approver a WHERE a.user_id = $1)"
        f" AND r.status IN ({marks})"
    )
    n = len(statuses) + 1
    rows = await fetch(
        f"SELECT {APPROVAL_COLUMNS} FROM approval_request r WHERE {where}"
        f" ORDER BY r.created_at DESC, r.id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        viewer.id,
        *[s.value for s in statuses],
        limit,
        offset,
    )
    total = await fetch(
        f"SELECT COUNT(*) AS total FROM approval_request r WHERE {where}",
        viewer.id,
        *[s.value for s in statuses],
    )
    return [approval_row(r) for r in rows], total[0]["total"]


async def pending_approvals_block(ticket_pks: Sequence[int]) -> dict[int, list[UserError]]:
    """Close blocker: a ticket with a pending request can be neither solved nor closed."""
    rows = await fetch(
        "SELECT DISTINCT ticket_id FROM approval_request"
        f" WHERE status = 'PENDING' AND ticket_id IN ({placeholders(len(ticket_pks))})",
        *ticket_pks,
    )
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
