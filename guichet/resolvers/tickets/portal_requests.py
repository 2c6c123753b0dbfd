"""Requests as the help-center form files them, and follow-ups asked for in the portal.

The form is what customers use; staff use it with `createTicket(input: {portal: true})`
to file a request of their own. Filed through the form:
- the viewer is the requester, the channel PORTAL, the status NEW;
- only end-user fields apply: PUBLIC custom fields, with the fields required of end users;
  requesterId, assigneeId, groupId, tags (and with `portal: true`, priority) are refused
  with NOT_ALLOWED;
- a light agent may file one (it is the only way they open a ticket): its description is
  recorded as an internal note of theirs, as Zendesk does, and the ticket's own
  `description` stays empty, so no customer ever reads it (a CC on the request sees the
  ticket, never the note); files filed with it go with the note.

A follow-up (of a SOLVED or CLOSED ticket) asked by a customer has that customer as its
requester; one made by staff keeps the source's requester, as staff act for requesters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from guichet.models import people as people_models
from guichet.models.people import Role
from guichet.models.tickets import Channel, Comment, TicketEventKind
from guichet.resolvers import access, ids
from guichet.resolvers.errors import Forbidden, UserError
from guichet.resolvers.tickets.tickets import TicketErrorCode, checked_organization

if TYPE_CHECKING:
    from guichet.models.tickets import Ticket
    from guichet.resolvers.context import Viewer
    from guichet.resolvers.tickets.history import Changes

LIGHT_AGENTS_USE_THE_FORM = (
    "Light agents file their own requests with portal: true; they read tickets and write"
    " internal notes only."
)
AGENTS_DO_NOT_USE_THE_PORTAL = (
    "Agents do not file requests of their own through the portal here (agentsUsePortal is off)."
)
# What the form leaves to staff: (the request's attribute, the input's field).
_STAFF_FIELDS = (
    ("requester_id", "requesterId"),
    ("assignee_id", "assigneeId"),
    ("group_id", "groupId"),
    ("tags", "tags"),
)


def through_the_form(viewer: Viewer, portal: bool | None) -> bool:
    """Whether a new request is filed as the help-center form does: always for customers,
    for staff when they ask (`portal: true`)."""
    return bool(portal) or not viewer.is_agent


def check_may_open(viewer: Viewer, portal: bool | None, agents_use_portal: bool = True) -> None:
    """Light agents open tickets through the form only; agents file their own requests
    through it only while admins let them (`agentsUsePortal`); everyone else may."""
    if viewer.is_agent and not access.may_work_tickets(viewer) and not portal:
        raise Forbidden(LIGHT_AGENTS_USE_THE_FORM)
    if portal and viewer.at_least(Role.AGENT) and not agents_use_portal:
        raise Forbidden(AGENTS_DO_NOT_USE_THE_PORTAL)


def refused_fields(viewer: Viewer, request: Any) -> list[UserError]:
    """The fields a request filed through the form may not set (NOT_ALLOWED each)."""
    if not through_the_form(viewer, request.portal):
        return []
    who = "Customers" if not viewer.is_agent else "Requests filed with portal: true"
    fields = _STAFF_FIELDS + ((("priority", "priority"),) if request.portal else ())
    return [
        UserError(f"{who} do not set {path}.", TicketErrorCode.NOT_ALLOWED, ["input", path])
        for name, path in fields
        if getattr(request, name) is not None
    ]


def form_viewer(viewer: Viewer, portal: bool | None) -> Viewer:
    """Whom the form's custom fields are shown as: a customer, when filed through it."""
    if viewer.is_agent and portal:
        return replace(viewer, role=Role.END_USER)
    return viewer


def channel(viewer: Viewer, portal: bool | None, default: Channel) -> Channel:
    return Channel.PORTAL if through_the_form(viewer, portal) else default


def description_is_a_note(viewer: Viewer, portal: bool | None) -> bool:
    """A light agent's request keeps its description as an internal note."""
    return bool(portal) and viewer.is_agent and not access.may_work_tickets(viewer)


async def record_description_as_note(
    changes: Changes, ticket: Ticket, description: str, viewer: Viewer, via: Channel
) -> int:
    """Write the description as the filer's internal note; returns the note's id (the
    files filed with the request go with it)."""
    note = await Comment.create(
        ticket_id=ticket.id,
        author_id=viewer.id,
        body=description,
        public=False,
        via=via,
    )
    await changes.record(
        ticket.id, TicketEventKind.COMMENT_ADDED, actor_pk=viewer.id, via=via,
        public=False, data={"comment": ids.encode("Comment", note.id), "public": False},
    )  # fmt: skip
    return note.id


# ---------------------------------------------------------------- follow-ups


async def follow_up_people(viewer: Viewer, source: Ticket) -> tuple[int, int | None, list]:
    """A follow-up's requester, organization and CCs. The requester is the customer asking
    (staff keep the source's requester); the organization stays the source's when the
    requester belongs to it, else is their default (or only) one; the CCs are the source's,
    and the source's requester when someone else now asks."""
    requester_pk = source.requester_id if viewer.is_agent else viewer.id
    member = source.organization_id is not None and (
        await people_models.OrganizationMember.filter(
            organization_id=source.organization_id,
            user_id=requester_pk,
        ).exists()
    )
    organization_pk = (
        source.organization_id if member else await checked_organization(requester_pk, None)
    )
    ccs = await people_models.User.filter(cc_on__ticket_id=source.pk).order_by("id")
    if requester_pk != source.requester_id:
        ccs.append(await people_models.User.get(id=source.requester_id))
    return requester_pk, organization_pk, [u for u in ccs if u.id != requester_pk]
