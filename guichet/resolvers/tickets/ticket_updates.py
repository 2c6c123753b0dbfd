"""Changing tickets: properties, status and the rules that guard it.

Status rules live in one place: `Ticket.transition_error` (the ticket's own data) plus
the close blockers registered here, which later capabilities extend (pending approvals
block SOLVED and CLOSED) by appending to CLOSE_BLOCKERS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.tickets import (
    Channel,
    Ticket,
    TicketCc,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    TicketTag,
    TicketType,
)
from guichet.resolvers import ids
from guichet.resolvers.approvals import approvals
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.mail import ticket_mail
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.people import organization_subscriptions
from guichet.resolvers.tickets import custom_fields, ticket_gate
from guichet.resolvers.tickets.custom_fields import FieldValue
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import (
    MAX_SUBJECT,
    TICKET,
    TicketErrorCode,
    TicketRow,
    cc_users,
    channel_of,
    checked_assignee,
    checked_organization,
    decoded,
    forget,
    normalized_tags,
    record_values,
    tickets_by_id,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

# A close blocker: `async def blockers(ticket_pks) -> {ticket_pk: [UserError, ...]}`.
CloseBlocker = Callable[[Sequence[int]], Awaitable[dict[int, list[UserError]]]]
CLOSE_BLOCKERS: list[CloseBlocker] = [approvals.pending_approvals_block]

SOLVED_STATES = (TicketStatus.SOLVED, TicketStatus.CLOSED)
MESSAGES = {
    "TICKET_CLOSED": ticket_gate.CLOSED_MESSAGE,
    "INVALID_TRANSITION": "The ticket cannot go from {old} to {new}.",
    "ASSIGNEE_REQUIRED": "A ticket needs an assignee to be solved.",
}


async def close_blockers(context: Context, keys: Sequence[int]) -> list[list[UserError]]:
    """Why each ticket cannot be solved or closed right now (empty when it can).
    A batch function: one query per registered blocker, whatever the number of tickets."""
    tickets = await context.loader(tickets_by_id).load_many(list(keys))
    found: dict[int, list[UserError]] = {k: [] for k in keys}
    for k, ticket in zip(keys, tickets, strict=True):
        if ticket is not None and ticket.assignee_id is None and ticket.status not in SOLVED_STATES:
            found[k].append(
                UserError(MESSAGES["ASSIGNEE_REQUIRED"], TicketErrorCode.ASSIGNEE_REQUIRED)
            )
    for blocker in CLOSE_BLOCKERS:
        for k, errors in (await blocker(keys)).items():
            found[k].extend(errors)
    return [found[k] for k in keys]


async def status_error(
    ticket: Ticket, new_status: TicketStatus, assignee_pk: int | None
) -> UserError | None:
    """The one check every status change passes, whoever asks (agents, markSolved, rules)."""
    code = ticket.transition_error(new_status, assignee_id=assignee_pk)
    if code:
        message = MESSAGES[code].format(old=ticket.status.value, new=new_status.value)
        return UserError(message, code, ["input", "status"])
    if new_status in SOLVED_STATES and new_status != ticket.status:
        for blocker in CLOSE_BLOCKERS:
            if errors := (await blocker([ticket.id])).get(ticket.id):
                return UserError(errors[0].message, errors[0].code, ["input", "status"])
    return None


async def apply_status(
    changes: Changes, ticket: Ticket, new_status: TicketStatus, viewer: Viewer | None, via: Channel
) -> None:
    previous = ticket.status
    if previous == new_status:
        return
    ticket.status = new_status
    if new_status is TicketStatus.SOLVED:
        ticket.solved_at = datetime.now(UTC)
    elif new_status is not TicketStatus.CLOSED:
        ticket.solved_at = None
    await changes.record(
        ticket.id, TicketEventKind.FIELD_CHANGED, actor_pk=viewer.id if viewer else None, via=via,
        public=True, field="status", previous=previous.value, new=new_status.value,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """updateTicket's input: only the fields not OMITTED change; null clears."""

    id: str
    subject: str | OmittedType | None = OMITTED
    status: TicketStatus | OmittedType | None = OMITTED
    type: TicketType | OmittedType | None = OMITTED
    priority: TicketPriority | OmittedType | None = OMITTED
    group_id: str | OmittedType | None = OMITTED
    assignee_id: str | OmittedType | None = OMITTED
    organization_id: str | OmittedType | None = OMITTED
    tags: list[str] | OmittedType | None = OMITTED
    add_cc_emails: list[str] | OmittedType | None = OMITTED
    custom_fields: list[FieldValue] | OmittedType | None = OMITTED


def _refuse_customer_fields(request: TicketChanges) -> None:
    errors = []
    for name, path in (
        ("subject", "subject"), ("status", "status"), ("type", "type"), ("priority", "priority"),
        ("group_id", "groupId"), ("assignee_id", "assigneeId"), ("tags", "tags"),
    ):  # fmt: skip
        if given(getattr(request, name)):
            errors.append(
                UserError(
                    f"Customers do not change {path}.", TicketErrorCode.NOT_ALLOWED, ["input", path]
                )
            )
    if errors:
        raise Refused(*errors)


async def update_ticket(context: Context, request: TicketChanges) -> TicketRow:
    """Change a ticket's properties. Agents change anything; customers add CCs, set the
    organization and their public custom fields; light agents change nothing (the gate)."""
    viewer = context.require_viewer()
    # Read before the lock: which custom fields the viewer may set does not depend on it.
    visible_fields = await custom_fields.fields_visible_to(viewer)
    via = channel_of(viewer)
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, request.id, TicketAction.UPDATE)
        if not viewer.is_agent:
            _refuse_customer_fields(request)
        if given(request.subject) and (
            error := text_error(request.subject, ["input", "subject"], max_length=MAX_SUBJECT)
        ):
            raise Refused(error)
        values = custom_fields.checked_values(
            visible_fields,
            request.custom_fields if given(request.custom_fields) else None,
            ["input", "customFields"],
        )
        if not viewer.is_agent and (  # a customer may change a required field, not empty it
            cleared := custom_fields.missing_required(
                {f.key: f for f in values}, values, ["input", "customFields"]
            )
        ):
            raise Refused(*cleared)
        tags = (
            normalized_tags(request.tags, ["input", "tags"])
            if given(request.tags) and request.tags is not None
            else None
        )
        group_pk = (
            decoded(request.group_id, "Group", ["input", "groupId"])
            if given(request.group_id)
            else ticket.group_id
        )
        assignee_pk = (
            decoded(request.assignee_id, "User", ["input", "assigneeId"])
            if given(request.assignee_id)
            else ticket.assignee_id
        )
        if given(request.group_id) or given(request.assignee_id):
            await checked_assignee(
                assignee_pk,
                group_pk,
                new_group=group_pk != ticket.group_id,
                new_assignee=assignee_pk != ticket.assignee_id,
            )
        await _set(
            changes,
            ticket,
            viewer,
            via,
            "subject",
            request.subject.strip() if given(request.subject) and request.subject else OMITTED,
        )
        await _set(changes, ticket, viewer, via, "type", request.type)
        await _set(changes, ticket, viewer, via, "priority", request.priority)
        await _set(
            changes,
            ticket,
            viewer,
            via,
            "group_id",
            group_pk if given(request.group_id) else OMITTED,
            public=False,
            as_id="Group",
        )
        previous_assignee = ticket.assignee_id
        await _set(
            changes,
            ticket,
            viewer,
            via,
            "assignee_id",
            assignee_pk if given(request.assignee_id) else OMITTED,
            as_id="User",
        )
        if given(request.organization_id):
            org_pk = await checked_organization(
                ticket.requester_id,
                decoded(request.organization_id, "Organization", ["input", "organizationId"]),
            )
            await _set(
                changes, ticket, viewer, via, "organization_id", org_pk, as_id="Organization"
            )
        new_status = (
            request.status if given(request.status) and request.status is not None else None
        )
        if (
            new_status is None
            and ticket.status is TicketStatus.NEW
            and ticket.assignee_id
            and not previous_assignee
        ):
            new_status = TicketStatus.OPEN  # NEW becomes OPEN once an agent is assigned
        if new_status is not None:
            if error := await status_error(ticket, new_status, ticket.assignee_id):
                raise Refused(error)
            solved_before = ticket.status is TicketStatus.SOLVED
            await apply_status(changes, ticket, new_status, viewer, via)
            if ticket.status is TicketStatus.SOLVED and not solved_before:
                await ticket_mail.ticket_solved(context.settings, changes, ticket, viewer)
        if ticket.status is TicketStatus.SOLVED and ticket.assignee_id is None:
            raise Refused(  # unassigning a solved ticket would break "SOLVED needs an assignee"
                UserError(
                    MESSAGES["ASSIGNEE_REQUIRED"],
                    TicketErrorCode.ASSIGNEE_REQUIRED,
                    ["input", "assigneeId"],
                )
            )
        if tags is not None:
            await _replace_tags(changes, ticket, tags, viewer, via)
        if given(request.add_cc_emails) and request.add_cc_emails:
            await add_ccs(changes, ticket, request.add_cc_emails, viewer, via)
        await record_values(changes, ticket.id, values, viewer, via)
        if (
            ticket.assignee_id
            and ticket.assignee_id != previous_assignee
            and ticket.assignee_id != viewer.id
        ):
            await changes.notify(
                ticket.assignee_id,
                "TICKET_ASSIGNED",
                f"Ticket #{ticket.number} is assigned to you: {ticket.subject}",
                ticket.id,
            )
        if changes.events:  # one write of the row, which stamps updated_at (auto_now)
            await ticket.save()
            await organization_subscriptions.tell_subscribers(changes, ticket, viewer.id)
    forget(context)
    await changes.publish(context)
    return TICKET.row_of(ticket)  # the row as written: no need to read it back


async def _set(
    changes: Changes,
    ticket: Ticket,
    viewer: Viewer,
    via: Channel,
    attribute: str,
    value: Any,
    *,
    public: bool = True,
    as_id: str | None = None,
) -> None:
    if not given(value):
        return
    previous = getattr(ticket, attribute)
    if previous == value:
        return
    setattr(ticket, attribute, value)

    def shown(v: Any) -> Any:
        if v is None:
            return None
        if as_id:
            return ids.encode(as_id, v)
        return getattr(v, "value", v)

    await changes.record(
        ticket.id, TicketEventKind.FIELD_CHANGED, actor_pk=viewer.id, via=via, public=public,
        field=attribute.removesuffix("_id").replace("_", ""), previous=shown(previous), new=shown(value),
    )  # fmt: skip


async def _replace_tags(
    changes: Changes, ticket: Ticket, tags: list[str], viewer: Viewer, via: Channel
) -> None:
    previous = sorted(await TicketTag.filter(ticket_id=ticket.id).values_list("tag", flat=True))
    if previous == sorted(tags):
        return
    await TicketTag.filter(ticket_id=ticket.id).delete()
    for tag in tags:
        await TicketTag.create(ticket_id=ticket.id, tag=tag)
    await changes.record(
        ticket.id, TicketEventKind.FIELD_CHANGED, actor_pk=viewer.id, via=via, public=False,
        field="tags", previous=previous, new=sorted(tags),
    )  # fmt: skip


async def add_ccs(
    changes: Changes, ticket: Ticket, emails: Sequence[str], viewer: Viewer, via: Channel
) -> None:
    existing = set(await TicketCc.filter(ticket_id=ticket.id).values_list("user_id", flat=True))
    for user in await cc_users(emails, ["input", "addCcEmails"]):
        if user.id in existing or user.id == ticket.requester_id:
            continue
        await TicketCc.create(ticket_id=ticket.id, user_id=user.id)
        await changes.record(
            ticket.id, TicketEventKind.CC_ADDED, actor_pk=viewer.id, via=via, public=True,
            data={"user": ids.encode("User", user.id)},
        )  # fmt: skip


async def mark_solved(context: Context, ticket_id: str) -> TicketRow:
    """The requester marks their own request solved; it must have an assignee. Only end
    users do (the gate refuses staff: they solve through updateTicket(status: SOLVED))."""
    viewer = context.require_viewer()
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, ticket_id, TicketAction.MARK_SOLVED)
        if ticket.requester_id != viewer.id:
            raise Refused(
                UserError(
                    "Only the requester marks a request solved.",
                    TicketErrorCode.NOT_REQUESTER,
                    ["ticketId"],
                )
            )
        if error := await status_error(ticket, TicketStatus.SOLVED, ticket.assignee_id):
            raise Refused(UserError(error.message, error.code, ["ticketId"]))
        solved_before = ticket.status is TicketStatus.SOLVED
        await apply_status(changes, ticket, TicketStatus.SOLVED, viewer, channel_of(viewer))
        if not solved_before:
            await ticket_mail.ticket_solved(context.settings, changes, ticket, viewer)
        await ticket.save()  # stamps updated_at (auto_now)
        await organization_subscriptions.tell_subscribers(changes, ticket, viewer.id)
    forget(context)
    await changes.publish(context)
    return TICKET.row_of(ticket)
