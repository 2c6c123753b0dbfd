"""Opening tickets: new requests and follow-ups of closed ones."""

from __future__ import annotations

from dataclasses import dataclass
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
from guichet.resolvers import idempotency, ids, sql
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.mail import ticket_mail
from guichet.resolvers.people import organization_subscriptions
from guichet.resolvers.tickets import attachments, custom_fields, portal_requests
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
    """createTicket's input, as plain values (`attachments`: files already in the store,
    see resolvers/tickets/attachments.py)."""

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
    attachments: list[Any] | None = None
    # The channel it came in by, when not the viewer's usual one (EMAIL for inbound mail).
    via: Channel | None = None
    # Filed as the help-center form does (portal_requests.py).
    portal: bool | None = None


async def create_ticket(context: Context, request: NewTicket) -> TicketRow:
    """Open a request. A customer is always its requester (via PORTAL); an agent may open
    it on behalf of a requester (via WEB) and set every field. With `portal`, staff file
    their own request as the help-center form does, light agents included (their
    description becomes an internal note): see portal_requests.py. Without an
    organization, the request goes to the requester's default (or only) organization."""
    viewer = context.require_viewer()
    portal_requests.check_may_open(
        viewer, request.portal, getattr(context.settings, "agents_use_portal", True)
    )
    done = await idempotency.previous_result(viewer.id, "createTicket", request.idempotency_key)
    if done is not None:
        return await ticket_for_viewer(context, done)
    errors = [
        text_error(request.subject, ["input", "subject"], max_length=MAX_SUBJECT),
        text_error(request.description, ["input", "description"], max_length=MAX_BODY),
    ]
    errors += portal_requests.refused_fields(viewer, request)
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
    form = portal_requests.through_the_form(viewer, request.portal)
    visible_fields = await custom_fields.fields_visible_to(
        portal_requests.form_viewer(viewer, request.portal)
    )
    values = custom_fields.checked_values(
        visible_fields, request.custom_fields, ["input", "customFields"]
    )
    # A mail cannot fill in custom fields: requiring them is the form's business.
    if (
        form
        and request.via is not Channel.EMAIL
        and (
            missing := custom_fields.missing_required(
                visible_fields, values, ["input", "customFields"]
            )
        )
    ):
        raise Refused(*missing)
    files = attachments.received(request.attachments, ["input", "attachments"])
    via = request.via or portal_requests.channel(viewer, request.portal, channel_of(viewer))
    note = portal_requests.description_is_a_note(viewer, request.portal)
    changes = Changes.of(viewer)
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
                description="" if note else request.description,
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
            # A light agent's description, and the files filed with it, are an internal note.
            note_pk = None
            if note:
                note_pk = await portal_requests.record_description_as_note(
                    changes, ticket, request.description, viewer, via
                )
            await ticket_mail.ticket_opened(context.settings, changes, ticket, viewer)
            await attachments.attach(
                changes, files, ticket_pk=ticket.id, comment_pk=note_pk, uploader_pk=viewer.id,
                via=via, public=not note,
            )  # fmt: skip
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
    await organization_subscriptions.tell_subscribers(changes, ticket, viewer.id)


async def create_follow_up(
    context: Context, *, ticket_id: str, subject: str | None, description: str
) -> TicketRow:
    """A new ticket linked to a SOLVED or CLOSED one (closed tickets never reopen). A
    customer's follow-up has them as its requester (portal_requests.follow_up_people)."""
    viewer = context.require_viewer()
    via = channel_of(viewer)
    changes = Changes.of(viewer)
    async with in_transaction():
        # Locked too: the follow-up copies the source's fields as they are now.
        source = await ticket_for_change(context, ticket_id, TicketAction.FOLLOW_UP)
        if source.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
            raise Refused(
                UserError(
                    "Follow-ups are for solved or closed tickets; reply on this one instead.",
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
        requester_pk, organization_pk, ccs = await portal_requests.follow_up_people(viewer, source)
        ticket = await Ticket.create(
            number=await next_ticket_number(),
            subject=subject.strip(),
            description=description,
            status=TicketStatus.NEW,
            type=source.type,
            priority=source.priority,
            via=via,
            requester_id=requester_pk,
            submitter_id=viewer.id,
            group_id=source.group_id,
            organization_id=organization_pk,
            follow_up_of_id=source.pk,
        )
        await opened(changes, ticket, viewer, via, ccs=ccs, tags=[], values={})
        await ticket_mail.ticket_opened(context.settings, changes, ticket, viewer)
        await changes.record(
            source.pk, TicketEventKind.FOLLOW_UP_CREATED, actor_pk=viewer.id, via=via, public=True,
            data={"ticket": ticket.id and ids.encode("Ticket", ticket.id), "number": ticket.number},
        )  # fmt: skip
    await changes.publish(context)
    return TICKET.row_of(ticket)
