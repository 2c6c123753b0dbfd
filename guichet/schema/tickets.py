"""Tickets: the type, the list with search, and the mutations that open and change them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.models.people import Role
from guichet.resolvers.approvals import approvals
from guichet.resolvers.mail import outbound
from guichet.resolvers.people import people
from guichet.resolvers.tickets import (
    attachments,
    comments,
    custom_fields,
    history,
    ticket_opening,
    ticket_updates,
    tickets,
)
from guichet.resolvers.work import activities, resolutions, satisfaction, time_tracking
from guichet.schema.activities import Activity
from guichet.schema.approvals import ApprovalRequest
from guichet.schema.attachments import Attachment, Upload
from guichet.schema.comments import Comment
from guichet.schema.custom_fields import CustomFieldValue, CustomFieldValueInput, field_values
from guichet.schema.errors import UserError
from guichet.schema.fields import batched, related
from guichet.schema.history import TicketEvent
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import Group, Organization, User
from guichet.schema.relay import (
    Connection,
    Node,
    after_position,
    connection,
    offset_connection,
    page_size,
)
from guichet.schema.requires import requires
from guichet.schema.resolutions import Resolution, SatisfactionRating
from guichet.schema.ticket_enums import (
    Channel,
    CommentOrder,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from guichet.schema.time_tracking import TimeEntry


def _comment_page(
    root: tickets.TicketRow,
    first: int | None = None,
    after: str | None = None,
    order: CommentOrder | None = None,
) -> comments.CommentPage:
    """The page of the ticket's comments that `Ticket.comments` asks for."""
    return comments.CommentPage(
        root.pk, after_position(after), page_size(first), order is not CommentOrder.OLDEST_FIRST
    )


def _comment_connection(
    page: comments.CommentPageResult,
    root: tickets.TicketRow,
    first: int | None = None,
    after: str | None = None,
    order: CommentOrder | None = None,
) -> Connection[Comment]:
    return offset_connection(page.rows, page.total, after_position(after))


def _event_page(
    root: tickets.TicketRow, first: int | None = None, after: str | None = None
) -> history.EventPage:
    """The page of the ticket's history that `Ticket.history` asks for (one event more than
    the page, to know whether another follows)."""
    return history.EventPage(root.pk, after_position(after), page_size(first) + 1)


def _event_connection(
    page: history.EventPageResult,
    root: tickets.TicketRow,
    first: int | None = None,
    after: str | None = None,
) -> Connection[TicketEvent]:
    limit = page_size(first)
    return connection(
        page.rows[:limit],
        page.total,
        key=lambda e: e.pk,
        has_next=len(page.rows) > limit,
        has_previous=after_position(after) > 0,
    )


@strawberry.type(description="A customer's request and everything about it.")
class Ticket(Node):
    number: int = strawberry.field(
        description='The human ticket number, as in e-mails ("#id 123").'
    )
    subject: str
    description: str
    status: TicketStatus
    type: TicketType | None
    priority: TicketPriority | None
    via: Channel
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    first_reply_at: datetime | None = strawberry.field(
        extensions=[requires(Role.LIGHT_AGENT)],
        description="When an agent first replied publicly (null: not yet).",
    )
    requester: User = related(people.users_by_id, key="requester_id")
    submitter: User = related(people.users_by_id, key="submitter_id")
    assignee: User | None = related(people.users_by_id, key="assignee_id")
    group: Group | None = related(
        tickets.ticket_groups_by_id, key="group_id", description="Null for end users."
    )
    organization: Organization | None = related(people.organizations_by_id, key="organization_id")
    ccs: list[User] = related(tickets.ccs_by_ticket, key="pk")
    cc_emails: list[str] = related(
        tickets.cc_emails_by_ticket,
        key="pk",
        description=(
            "Everyone copied, by address, including addresses that have no account yet: for "
            "staff and the customers who take part in the ticket (empty for an approver who "
            "only reads it)."
        ),
    )
    tags: list[str] | None = related(tickets.tags_by_ticket, key="pk", requires=Role.LIGHT_AGENT)
    custom_fields: list[CustomFieldValue] = related(
        custom_fields.values_by_ticket,
        key="pk",
        description="Values of the custom fields the viewer may see.",
    )
    close_blockers: list[UserError] = related(
        ticket_updates.close_blockers,
        key="pk",
        description="Why the ticket cannot be solved or closed right now (empty when it can).",
    )
    follow_up_of: Ticket | None = related(tickets.tickets_by_id, key="follow_up_of_id")
    follow_ups: list[Ticket] = related(tickets.follow_ups_by_ticket, key="pk")
    approval_requests: list[ApprovalRequest] = related(
        approvals.approvals_by_ticket,
        key="pk",
        description="Approval requests on the ticket (to an end user: those they are asked to decide).",
    )
    activities: list[Activity] | None = related(
        activities.activities_by_ticket,
        key="pk",
        requires=Role.LIGHT_AGENT,
        description="Tasks, calls and events on the ticket, soonest due first.",
    )
    time_entries: list[TimeEntry] | None = related(
        time_tracking.entries_by_ticket,
        key="pk",
        requires=Role.AGENT,
        description="Time logged on the ticket, by day worked.",
    )
    time_spent_minutes: int | None = related(
        time_tracking.minutes_by_ticket,
        key="pk",
        requires=Role.AGENT,
        description="All minutes logged on the ticket (0 when none).",
    )
    resolution: Resolution | None = related(
        resolutions.resolutions_by_ticket,
        key="pk",
        description="How the ticket was resolved (set once it is solved).",
    )
    satisfaction: SatisfactionRating | None = related(
        satisfaction.ratings_by_ticket,
        key="pk",
        description="The requester's rating: for the requester and staff (null for anyone else).",
    )

    comments: Connection[Comment] = batched(
        comments.comment_pages,
        key=_comment_page,
        answer=_comment_connection,
        description="The conversation: public replies, and internal notes for staff.",
    )

    attachments: list[Attachment] = related(
        attachments.attachments_by_ticket,
        key="pk",
        description="Files of the ticket and of the comments the viewer may see, oldest first.",
    )

    history: Connection[TicketEvent] = batched(
        history.event_pages,
        key=_event_page,
        answer=_event_connection,
        description="What happened to the ticket, oldest first (internal events for staff only).",
    )

    @strawberry.field(
        description="The address a reply by mail should go to, with the ticket tag, "
        "e.g. support+id123@example.com."
    )
    def reply_to(self, info: strawberry.Info) -> str | None:
        return outbound.reply_address(info.context.settings, self.number)

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, tickets.TicketRow)


# ---------------------------------------------------------------- mutations


@strawberry.input
class CreateTicketInput:
    subject: str
    description: str
    requester_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Agents may open a ticket on behalf of a requester; end users are always the requester.",
    )
    cc_emails: list[str] | None = None
    organization_id: strawberry.ID | None = None
    type: TicketType | None = None
    priority: TicketPriority | None = None
    group_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    tags: list[str] | None = None
    custom_fields: list[CustomFieldValueInput] | None = None
    attachments: list[Upload] | None = strawberry.field(
        default=None,
        description="Files sent as parts of a multipart request (GraphQL multipart request spec).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retrying with the same key returns the first result instead of creating twice.",
    )
    portal: bool | None = strawberry.field(
        default=None,
        description=(
            "Submit as the help-center form does: the viewer is the requester and only end-user "
            "fields apply (PUBLIC custom fields, the fields required of end users; requesterId, "
            "priority, assigneeId, groupId and tags are refused with NOT_ALLOWED). How agents "
            "and light agents file their own requests; a light agent's description is recorded "
            "as an internal note, never shown to customers."
        ),
    )


@strawberry.input(
    description="Only the fields given change; null clears a field that may be empty."
)
class UpdateTicketInput:
    id: strawberry.ID
    subject: str | None = strawberry.UNSET
    status: TicketStatus | None = strawberry.UNSET
    type: TicketType | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    group_id: strawberry.ID | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    organization_id: strawberry.ID | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    add_cc_emails: list[str] | None = strawberry.UNSET
    custom_fields: list[CustomFieldValueInput] | None = strawberry.UNSET


@strawberry.input
class CreateFollowUpInput:
    ticket_id: strawberry.ID
    subject: str | None = None
    description: str


@payload
class TicketPayload:
    ticket: Ticket | None = None


@strawberry.type
class TicketMutation:
    @mutation(TicketPayload, description="Open a request.")
    async def create_ticket(self, info: strawberry.Info, input: CreateTicketInput) -> TicketPayload:
        request = plain(
            input,
            ticket_opening.NewTicket,
            custom_fields=field_values(input.custom_fields),
            via=None,  # the viewer's usual channel (inbound mail sets EMAIL)
        )
        return TicketPayload(ticket=await ticket_opening.create_ticket(info.context, request))

    @mutation(TicketPayload, description="Change a ticket's properties, status included.")
    async def update_ticket(self, info: strawberry.Info, input: UpdateTicketInput) -> TicketPayload:
        changes = plain(
            input, ticket_updates.TicketChanges, custom_fields=field_values(input.custom_fields)
        )
        return TicketPayload(ticket=await ticket_updates.update_ticket(info.context, changes))

    @mutation(
        TicketPayload,
        description="End users: mark an own request solved; it must have an assignee.",
    )
    async def mark_solved(self, info: strawberry.Info, ticket_id: strawberry.ID) -> TicketPayload:
        return TicketPayload(ticket=await ticket_updates.mark_solved(info.context, ticket_id))

    @mutation(
        TicketPayload,
        description="A new ticket linked to a closed one (closed tickets never reopen).",
    )
    async def create_follow_up(
        self, info: strawberry.Info, input: CreateFollowUpInput
    ) -> TicketPayload:
        ticket = await ticket_opening.create_follow_up(
            info.context,
            ticket_id=input.ticket_id,
            subject=input.subject,
            description=input.description,
        )
        return TicketPayload(ticket=ticket)
