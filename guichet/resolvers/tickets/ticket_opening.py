"""Opening tickets: new requests and follow-ups of closed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models import people as people_models
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
from guichet.resolvers import access, idempotency, ids, sql
from guichet.resolvers.errors import Forbidden, Refused, UserError, text_error
from guichet.resolvers.tickets import custom_fields
from guichet.resolvers.tickets.custom_fields import FieldValue
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import (
    MAX_BODY,
    MAX_SUBJECT,
    TICKET,
    TicketErrorCode,
    TicketRow,
    cc_users,
    channel_of,
    checked_assignee,
    checked_organization,
    decoded,
    existing_user,
    normalized_tags,
    record_values,
    ticket_for_viewer,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


_NEXT_NUMBER = sql.statement(
    "UPDATE ticket_counter SET last_number = last_number + 1 WHERE id = 1 RETURNING last_number"
)


async def next_ticket_number() -> int:
    """Count the ticket number up in the caller's transaction: the row lock orders
    concurrent creators, across processes, and nothing is ever handed out twice."""
    rows = await _NEXT_NUMBER.fetch()
    return rows[0]["last_number"]


@dataclass(frozen=True, slots=True)
class NewTicket:
    """createTicket's input, as plain values (attachments are refused before the rule)."""

    subject: str
    description: str
    requester_id: str | None = None
    cc_emails: list[str] | None = None
    organization_id: str | None = None
    type: TicketType | None = None
    priority: TicketPriority | None = None
    group_id: str | None = None
    assignee_id: str | None = None
    tags: list[str] | None = None
    custom_fields: list[FieldValue] | None = None
    idempotency_key: str | None = None


async def create_ticket(context: Context, request: NewTicket) -> TicketRow:
    """Open a request. A customer is always its requester (via PORTAL); an agent may open
    it on behalf of a requester (via WEB) and set every field."""
    viewer = context.require_viewer()
    if viewer.is_agent and not access.may_work_tickets(viewer):
        raise Forbidden("Light agents read tickets and write internal notes only.")
    done = await idempotency.previous_result(viewer.id, "createTicket", request.idempotency_key)
    if done is not None:
        return await ticket_for_viewer(context, done)
    errors = [
        text_error(request.subject, ["input", "subject"], max_length=MAX_SUBJECT),
        text_error(request.description, ["input", "description"], max_length=MAX_BODY),
    ]
    if not viewer.is_agent:
        for name, path in (
            ("requester_id", "requesterId"),
            ("assignee_id", "assigneeId"),
            ("group_id", "groupId"),
            ("tags", "tags"),
        ):
            if getattr(request, name) is not None:
                errors.append(
                    UserError(
                        f"Customers do not set {path}.",
                        TicketErrorCode.NOT_ALLOWED,
                        ["input", path],
                    )
                )
    if errors := [e for e in errors if e]:
        raise Refused(*errors)
    requester_pk = decoded(request.requester_id, "User", ["input", "requesterId"]) or viewer.id
    await existing_user(requester_pk, ["input", "requesterId"])
    assignee_pk = decoded(request.assignee_id, "User", ["input", "assigneeId"])
    group_pk = decoded(request.group_id, "Group", ["input", "groupId"])
    await checked_assignee(assignee_pk, group_pk)
    organization_pk = await checked_organization(
        requester_pk, decoded(request.organization_id, "Organization", ["input", "organizationId"])
    )
    tags = normalized_tags(request.tags, ["input", "tags"])
    visible_fields = await custom_fields.fields_visible_to(viewer)
    values = custom_fields.checked_values(
        visible_fields, request.custom_fields, ["input", "customFields"]
    )
    if not viewer.is_agent and (
        missing := custom_fields.missing_required(visible_fields, values, ["input", "customFields"])
    ):
        raise Refused(*missing)
    via = channel_of(viewer)
    changes = Changes()
    try:
        async with in_transaction():
            claimed = await idempotency.claim(viewer.id, "createTicket", request.idempotency_key)
            ccs = [
                u
                for u in await cc_users(request.cc_emails, ["input", "ccEmails"])
                if u.id != requester_pk
            ]
            ticket = await Ticket.create(
                number=await next_ticket_number(),
                subject=request.subject.strip(),
                description=request.description,
                status=TicketStatus.OPEN if assignee_pk else TicketStatus.NEW,
                type=request.type,
                priority=request.priority,
                via=via,
                requester_id=requester_pk,
                submitter_id=viewer.id,
                assignee_id=assignee_pk,
                group_id=group_pk,
                organization_id=organization_pk,
            )
            await opened(changes, ticket, viewer, via, ccs=ccs, tags=tags, values=values)
            await idempotency.settle(claimed, ticket.id)
    except idempotency.AlreadyDone:
        return await create_ticket(context, request)
    await changes.publish(context)
    return TICKET.row_of(ticket)


async def opened(
    changes: Changes, ticket: Ticket, viewer: Viewer, via: Channel, *, ccs, tags, values
) -> None:
    """Write what a new ticket carries besides its row, with its history."""
    await changes.record(
        ticket.id, TicketEventKind.CREATED, actor_pk=viewer.id, via=via, public=True,
        data={"number": ticket.number, "subject": ticket.subject, "status": ticket.status.value},
    )  # fmt: skip
    for user in ccs:
        await TicketCc.create(ticket_id=ticket.id, user_id=user.id)
        await changes.record(
            ticket.id, TicketEventKind.CC_ADDED, actor_pk=viewer.id, via=via, public=True,
            data={"user": ids.encode("User", user.id)},
        )  # fmt: skip
    for tag in tags:
        await TicketTag.create(ticket_id=ticket.id, tag=tag)
    if tags:
        await changes.record(
            ticket.id, TicketEventKind.FIELD_CHANGED, actor_pk=viewer.id, via=via, public=False,
            field="tags", previous=[], new=tags,
        )  # fmt: skip
    await record_values(changes, ticket.id, values, viewer, via)
    if ticket.assignee_id and ticket.assignee_id != viewer.id:
        await changes.notify(
            ticket.assignee_id,
            "TICKET_ASSIGNED",
            f"Ticket #{ticket.number} is assigned to you: {ticket.subject}",
            ticket.id,
        )


async def create_follow_up(
    context: Context, *, ticket_id: str, subject: str | None, description: str
) -> TicketRow:
    """A new ticket linked to a closed one (closed tickets never reopen)."""
    viewer = context.require_viewer()
    via = channel_of(viewer)
    changes = Changes()
    async with in_transaction():
        # Locked too: the follow-up copies the source's fields as they are now.
        source = await ticket_for_change(context, ticket_id, TicketAction.FOLLOW_UP)
        if source.status is not TicketStatus.CLOSED:
            raise Refused(
                UserError(
                    "Follow-ups are for closed tickets; this one can still be reopened.",
                    TicketErrorCode.NOT_CLOSED,
                    ["input", "ticketId"],
                )
            )
        subject = subject if subject is not None else source.subject
        errors = [
            text_error(subject, ["input", "subject"], max_length=MAX_SUBJECT),
            text_error(description, ["input", "description"], max_length=MAX_BODY),
        ]
        if errors := [e for e in errors if e]:
            raise Refused(*errors)
        ccs = await people_models.User.filter(cc_on__ticket_id=source.pk)
        ticket = await Ticket.create(
            number=await next_ticket_number(),
            subject=subject.strip(),
            description=description,
            status=TicketStatus.NEW,
            type=source.type,
            priority=source.priority,
            via=via,
            requester_id=source.requester_id,
            submitter_id=viewer.id,
            group_id=source.group_id,
            organization_id=source.organization_id,
            follow_up_of_id=source.pk,
        )
        await opened(changes, ticket, viewer, via, ccs=ccs, tags=[], values={})
        await changes.record(
            source.pk, TicketEventKind.FOLLOW_UP_CREATED, actor_pk=viewer.id, via=via, public=True,
            data={"ticket": ticket.id and ids.encode("Ticket", ticket.id), "number": ticket.number},
        )  # fmt: skip
    await changes.publish(context)
    return TICKET.row_of(ticket)
