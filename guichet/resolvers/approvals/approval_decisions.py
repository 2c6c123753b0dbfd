"""Deciding approvals: agents ask, approvers answer (approve, deny, or ask a question),
the asking agent or an admin withdraws. Everyone concerned is told at once: live, in
their notifications, and by e-mail through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.approvals import (
    ApprovalApprover,
    ApprovalComment,
    ApprovalRequest,
    ApprovalStatus,
)
from guichet.models.people import Role, User
from guichet.models.tickets import Ticket, TicketEventKind
from guichet.resolvers import ids, topics
from guichet.resolvers.approvals.approvals import (
    APPROVAL,
    MAX_APPROVERS,
    ApprovalErrorCode,
    ApprovalRow,
)
from guichet.resolvers.errors import NotFound, Refused, UserError, text_error
from guichet.resolvers.mail import outbound
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import MAX_BODY, MAX_SUBJECT, channel_of

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


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
        pk = ids.decode_as(gid, "User")
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
    via = channel_of(viewer)
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, ticket_id, TicketAction.REQUEST_APPROVAL)
        errors = [
            text_error(subject, ["input", "subject"], max_length=MAX_SUBJECT),
            text_error(message, ["input", "message"], max_length=MAX_BODY),
        ]
        if errors := [e for e in errors if e]:
            raise Refused(*errors)
        approvers = await _approvers(approver_ids, viewer)
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
            await outbound.queue_notice(
                context.settings,
                to=approver.email,
                subject=f"Approval requested: {request.subject} (ticket #{ticket.number})",
                body=f"{viewer.name} asks for your approval on ticket #{ticket.number}, "
                f"\u201c{ticket.subject}\u201d.\n\n{request.subject}\n\n{message}\n\n"
                f"Review it: {_link(context, request.id)}\n",
                ticket_pk=ticket.id,
                ticket_number=ticket.number,
            )
            _tell_approver(changes, approver.id, request.id)
            await changes.notify(
                approver.id,
                "APPROVAL_REQUESTED",
                f"{viewer.name} asks for your approval: {request.subject} (ticket #{ticket.number})",
                ticket.id,
                approval_request_pk=request.id,
            )
        await ticket.save(update_fields=["updated_at"])  # auto_now stamps it
    await changes.publish(context)
    return APPROVAL.row_of(request)


def _tell_approver(changes: Changes, user_pk: int, request_pk: int) -> None:
    changes.send(topics.approval_requests(user_pk), {"approvalRequest": request_pk})


async def _request_for_approver(context: Context, approval_id: str) -> ApprovalRequest:
    """The request, locked, if the viewer is one of its approvers; NotFound otherwise, so a
    non-approver never learns it exists."""
    viewer = context.require_viewer()
    pk = ids.decode_as(approval_id, "ApprovalRequest")
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
    changes = Changes.of(viewer)
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
        await outbound.queue_notice(
            context.settings,
            to=creator.email,
            subject=f"{viewer.name} {what} \u201c{request.subject}\u201d (ticket #{ticket.number})",
            body=f"{viewer.name} {what} your approval request \u201c{request.subject}\u201d on ticket "
            f"#{ticket.number}."
            + (f"\n\n{comment}" if comment else "")
            + f"\n\n{_link(context, request.id)}\n",
            ticket_pk=ticket.id,
            ticket_number=ticket.number,
        )
        await changes.notify(
            creator.id, "APPROVAL_DECIDED" if decision else "APPROVAL_COMMENTED",
            f"{viewer.name} {what} \u201c{request.subject}\u201d (ticket #{ticket.number})",
            ticket.id, approval_request_pk=request.id,
        )  # fmt: skip
        await _tell_all_approvers(changes, request.id)
    await changes.publish(context)
    return APPROVAL.row_of(request)


async def _tell_all_approvers(changes: Changes, request_pk: int) -> None:
    for user_pk in await ApprovalApprover.filter(request_id=request_pk).values_list(
        "user_id", flat=True
    ):
        _tell_approver(changes, user_pk, request_pk)


async def withdraw(context: Context, approval_id: str) -> ApprovalRow:
    """The asking agent (or an admin) withdraws a pending request."""
    viewer = context.require_viewer()
    pk = ids.decode_as(approval_id, "ApprovalRequest")
    changes = Changes.of(viewer)
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
    return APPROVAL.row_of(request)
