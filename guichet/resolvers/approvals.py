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
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.approvals import (
    ApprovalApprover,
    ApprovalComment,
    ApprovalRequest,
    ApprovalStatus,
)
from guichet.models.people import Role, User
from guichet.models.tickets import Ticket, TicketEventKind, TicketStatus
from guichet.resolvers import access, ids, outbox, people
from guichet.resolvers.errors import Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.history import Changes
from guichet.resolvers.sql import as_datetime, fetch, placeholders
from guichet.resolvers.tickets import MAX_BODY, MAX_SUBJECT, channel_of, target_ticket
from guichet.subscriptions import topics

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
    TICKET_CLOSED = "TICKET_CLOSED"
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
        "SELECT ticket_id, COUNT(*) AS pending FROM approval_request"
        f" WHERE status = 'PENDING' AND ticket_id IN ({placeholders(len(ticket_pks))}) GROUP BY ticket_id",
        *ticket_pks,
    )
    return {
        r["ticket_id"]: [
            UserError(
                f"{r['pending']} approval request(s) are still pending: they must be decided or withdrawn first.",
                ApprovalErrorCode.APPROVAL_PENDING,
            )
        ]
        for r in rows
    }


# ---------------------------------------------------------------- rules


def _decoded(global_id: str, type_name: str) -> int | None:
    """The pk a global id of that type names, or None when no row can have it."""
    pk = ids.decode_as(global_id, type_name)
    return pk if pk is not None and 0 < pk <= MAX_PK else None


def _link(context: Context, request_pk: int) -> str:
    base = context.settings.public_url if context.settings else "http://127.0.0.1:8000"
    return f"{base}/approvals/{ids.encode('ApprovalRequest', request_pk)}"


async def _approvers(approver_ids: Sequence[str], viewer: Viewer) -> list[User]:
    if not approver_ids:
        raise Refused(
            UserError(
                "Ask at least one approver.",
                ApprovalErrorCode.NO_APPROVERS,
                ["input", "approverIds"],
            )
        )
    if len(approver_ids) > MAX_APPROVERS:
        raise Refused(
            UserError(
                f"At most {MAX_APPROVERS} approvers.",
                ApprovalErrorCode.TOO_MANY_APPROVERS,
                ["input", "approverIds"],
            )
        )
    pks: list[int] = []
    for i, gid in enumerate(approver_ids):
        path = ["input", "approverIds", str(i)]
        pk = _decoded(gid, "User")
        if pk is None:
            raise Refused(
                UserError(f"No user has the id {gid!r}.", ApprovalErrorCode.UNKNOWN_APPROVER, path)
            )
        if pk in pks:
            raise Refused(
                UserError(
                    "This approver is listed twice.", ApprovalErrorCode.DUPLICATE_APPROVER, path
                )
            )
        if pk == viewer.id:
            raise Refused(
                UserError(
                    "You cannot approve your own request.", ApprovalErrorCode.SELF_APPROVAL, path
                )
            )
        pks.append(pk)
    found = {u.id: u for u in await User.filter(id__in=pks)}
    for i, pk in enumerate(pks):
        if pk not in found:
            raise Refused(
                UserError(
                    f"No user has the id {approver_ids[i]!r}.",
                    ApprovalErrorCode.UNKNOWN_APPROVER,
                    ["input", "approverIds", str(i)],
                )
            )
    return [found[pk] for pk in pks]


async def request_approval(
    context: Context, *, ticket_id: str, approver_ids: Sequence[str], subject: str, message: str
) -> ApprovalRow:
    viewer = context.require_viewer()
    if not viewer.at_least(Role.AGENT):
        raise Forbidden("Agents and admins ask for approvals.")
    current = await target_ticket(context, ticket_id)
    errors = [
        text_error(subject, ["input", "subject"], max_length=MAX_SUBJECT),
        text_error(message, ["input", "message"], max_length=MAX_BODY),
    ]
    if errors := [e for e in errors if e]:
        raise Refused(*errors)
    approvers = await _approvers(approver_ids, viewer)
    if current.status is TicketStatus.CLOSED:
        raise Refused(
            UserError(
                "The ticket is closed.", ApprovalErrorCode.TICKET_CLOSED, ["input", "ticketId"]
            )
        )
    via = channel_of(viewer)
    changes = Changes()
    async with in_transaction():
        ticket = await Ticket.select_for_update().get(id=current.pk)
        if ticket.status is TicketStatus.CLOSED:
            raise Refused(
                UserError(
                    "The ticket is closed.", ApprovalErrorCode.TICKET_CLOSED, ["input", "ticketId"]
                )
            )
        request = await ApprovalRequest.create(
            ticket_id=ticket.id, subject=subject.strip(), message=message, created_by_id=viewer.id
        )
        for approver in approvers:
            await ApprovalApprover.create(request_id=request.id, user_id=approver.id)
        await changes.record(
            ticket.id, TicketEventKind.APPROVAL_REQUESTED, actor_pk=viewer.id, via=via, public=False,
            data={"approvalRequest": ids.encode("ApprovalRequest", request.id), "subject": request.subject,
                  "approvers": [ids.encode("User", a.id) for a in approvers]},
            approval_request_pk=request.id,
        )  # fmt: skip
        for approver in approvers:
            await outbox.enqueue_email(
                approver.email,
                f"Approval requested: {request.subject} (ticket #{ticket.number})",
                f"{viewer.name} asks for your approval on ticket #{ticket.number}, "
                f"\u201c{ticket.subject}\u201d.\n\n{request.subject}\n\n{message}\n\n"
                f"Review it: {_link(context, request.id)}\n",
            )
            _tell_approver(changes, approver.id, request.id)
            changes.notify(
                approver.id,
                "APPROVAL_REQUESTED",
                f"{viewer.name} asks for your approval: {request.subject} (ticket #{ticket.number})",
                ticket.id,
                approval_request_pk=request.id,
            )
        ticket.updated_at = datetime.now(UTC)
        await ticket.save(update_fields=["updated_at"])
    await changes.publish(context)
    return row_of(request)


def _tell_approver(changes: Changes, user_pk: int, request_pk: int) -> None:
    changes.send(topics.approval_requests(user_pk), {"approvalRequest": request_pk})


async def _request_for_approver(context: Context, approval_id: str) -> ApprovalRequest:
    """The request, locked, if the viewer is one of its approvers; NotFound otherwise, so a
    non-approver never learns it exists."""
    viewer = context.require_viewer()
    pk = _decoded(approval_id, "ApprovalRequest")
    if pk is None or not await ApprovalApprover.filter(request_id=pk, user_id=viewer.id).exists():
        raise NotFound("No such approval request.")
    return await ApprovalRequest.select_for_update().get(id=pk)


async def respond(
    context: Context, *, approval_id: str, decision: str | None, comment: str | None
) -> ApprovalRow:
    """APPROVE, DENY, or only a comment (to ask for more information: the request stays
    PENDING). The first decision decides; the asking agent is told of each response."""
    viewer = context.require_viewer()
    # A blank comment is no comment; any other is checked, with a decision or without.
    comment = comment if comment is not None and comment.strip() else None
    if decision is None and comment is None:
        raise Refused(
            UserError("Decide, or write a comment.", ApprovalErrorCode.EMPTY_RESPONSE, ["input"])
        )
    if comment is not None and (
        error := text_error(comment, ["input", "comment"], max_length=MAX_BODY)
    ):
        raise Refused(error)
    via = channel_of(viewer)
    changes = Changes()
    async with in_transaction():
        request = await _request_for_approver(context, approval_id)
        if request.is_final():
            raise Refused(
                UserError(
                    f"This request is already {request.status.value.lower()}.",
                    ApprovalErrorCode.ALREADY_DECIDED,
                    ["input", "id"],
                )
            )
        ticket = await Ticket.get(id=request.ticket_id)
        gid = ids.encode("ApprovalRequest", request.id)
        if comment is not None:
            await ApprovalComment.create(request_id=request.id, author_id=viewer.id, body=comment)
            await changes.record(
                ticket.id, TicketEventKind.APPROVAL_COMMENTED, actor_pk=viewer.id, via=via, public=False,
                data={"approvalRequest": gid, "comment": comment}, approval_request_pk=request.id,
            )  # fmt: skip
        if decision is not None:
            request.status = (
                ApprovalStatus.APPROVED if decision == "APPROVE" else ApprovalStatus.DENIED
            )
            request.decided_by_id = viewer.id
            request.decided_at = datetime.now(UTC)
            await request.save()
            kind = (
                TicketEventKind.APPROVAL_APPROVED
                if decision == "APPROVE"
                else TicketEventKind.APPROVAL_DENIED
            )
            await changes.record(
                ticket.id, kind, actor_pk=viewer.id, via=via, public=False,
                data={"approvalRequest": gid}, approval_request_pk=request.id,
            )  # fmt: skip
        what = request.status.value.lower() if decision else "commented on"
        creator = await User.get(id=request.created_by_id)
        await outbox.enqueue_email(
            creator.email,
            f"{viewer.name} {what} \u201c{request.subject}\u201d (ticket #{ticket.number})",
            f"{viewer.name} {what} your approval request \u201c{request.subject}\u201d on ticket "
            f"#{ticket.number}."
            + (f"\n\n{comment}" if comment else "")
            + f"\n\n{_link(context, request.id)}\n",
        )
        changes.notify(
            creator.id, "APPROVAL_DECIDED" if decision else "APPROVAL_COMMENTED",
            f"{viewer.name} {what} \u201c{request.subject}\u201d (ticket #{ticket.number})",
            ticket.id, approval_request_pk=request.id,
        )  # fmt: skip
        await _tell_all_approvers(changes, request.id)
    await changes.publish(context)
    return row_of(request)


async def _tell_all_approvers(changes: Changes, request_pk: int) -> None:
    for user_pk in await ApprovalApprover.filter(request_id=request_pk).values_list(
        "user_id", flat=True
    ):
        _tell_approver(changes, user_pk, request_pk)


async def withdraw(context: Context, approval_id: str) -> ApprovalRow:
    """The asking agent (or an admin) withdraws a pending request."""
    viewer = context.require_viewer()
    pk = _decoded(approval_id, "ApprovalRequest")
    changes = Changes()
    async with in_transaction():
        request = await ApprovalRequest.select_for_update().get_or_none(id=pk or 0)
        if request is None or not (
            request.created_by_id == viewer.id or viewer.at_least(Role.ADMIN)
        ):
            raise NotFound("No such approval request.")
        if request.is_final():
            raise Refused(
                UserError(
                    f"This request is already {request.status.value.lower()}.",
                    ApprovalErrorCode.ALREADY_DECIDED,
                    ["id"],
                )
            )
        request.status = ApprovalStatus.WITHDRAWN
        await request.save()
        await changes.record(
            request.ticket_id, TicketEventKind.APPROVAL_WITHDRAWN, actor_pk=viewer.id, via=channel_of(viewer),
            public=False, data={"approvalRequest": ids.encode("ApprovalRequest", request.id)},
            approval_request_pk=request.id,
        )  # fmt: skip
        await _tell_all_approvers(changes, request.id)
    await changes.publish(context)
    return row_of(request)


async def assigned_request(context: Context, request_pk: int) -> ApprovalRow | None:
    """For the live feed: the request, if the viewer is (still) one of its approvers."""
    viewer = context.require_viewer()
    if not await ApprovalApprover.filter(request_id=request_pk, user_id=viewer.id).exists():
        return None
    return await context.loader(approvals_by_id).load(request_pk)
