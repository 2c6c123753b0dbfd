"""Following an organization: its subscribers hear of every new and updated request of it.

Who may follow which organization is `access.may_follow_organization`: staff any, a
customer one they belong to that shares its tickets; a change that takes that away (they
leave it, it stops sharing, an agent becomes a customer) ends the subscription in its
transaction. Subscribing twice, or unsubscribing from an organization one does not follow,
changes nothing and answers the same.

Rules that open or change a ticket call `tell_subscribers` in their transaction, once their
events are recorded: each subscriber of the ticket's organization who may see the change
(`access.sees_ticket_change`: an internal note or an internal field reaches staff only) gets
a notification, ORGANIZATION_TICKET_CREATED or ORGANIZATION_TICKET_UPDATED; the author of
the change never does. Mail to subscribers is the outbound mail's (resolvers/mail), which
asks `subscribers_who_see` for the same people.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.models.people import Role
from guichet.models.tickets import TicketEventKind
from guichet.resolvers import access, ids, sql
from guichet.resolvers.context import Viewer
from guichet.resolvers.errors import NotFound, Refused, UserError
from guichet.resolvers.people.people import (
    OrganizationRow,
    PeopleErrorCode,
    organization_visible_to,
)

if TYPE_CHECKING:
    from guichet.models.tickets import Ticket
    from guichet.resolvers.context import Context
    from guichet.resolvers.tickets.history import Changes

CREATED = "ORGANIZATION_TICKET_CREATED"
UPDATED = "ORGANIZATION_TICKET_UPDATED"

_SUBSCRIBED = sql.select("s.organization_id", from_="organization_subscription s").where(
    sql.among("s.organization_id"), "s.user_id = ?"
)
_SUBSCRIBERS = sql.select(
    "u.id", "u.name", "u.email", "u.role",
    from_='organization_subscription s JOIN "user" u ON u.id = s.user_id',
).where("s.organization_id = ?", "s.user_id <> ?").order("u.id")  # fmt: skip


async def subscribed_by_organization(context: Context, keys: Sequence[int]) -> list[bool]:
    """For each organization, whether the viewer follows it."""
    viewer = context.require_viewer()
    rows = await _SUBSCRIBED.fetch(list(keys), viewer.id)
    followed = {r["organization_id"] for r in rows}
    return [k in followed for k in keys]


async def set_subscription(
    context: Context, organization_id: str, *, subscribed: bool
) -> OrganizationRow:
    """Follow (or stop following) an organization, as the viewer. An organization the
    viewer may not see is NOT_FOUND; a customer may follow only one that shares its
    tickets (NOT_SHARED) and that they belong to; stopping is always allowed."""
    viewer = context.require_viewer()
    pk = ids.decode_as(organization_id, "Organization") or 0
    organization = await organization_visible_to(viewer, pk)
    if organization is None:
        raise NotFound("No such organization.")
    async with in_transaction():
        if not subscribed:
            await models.OrganizationSubscription.filter(
                organization_id=pk, user_id=viewer.id
            ).delete()
        else:
            member = await models.OrganizationMember.filter(
                organization_id=pk, user_id=viewer.id
            ).exists()
            if not access.may_follow_organization(
                viewer, member=member, shares_tickets=organization.shared_tickets
            ):
                raise Refused(
                    UserError(
                        "This organization does not share its requests among its members.",
                        PeopleErrorCode.NOT_SHARED,
                        ["input", "organizationId"],
                    )
                )
            await models.OrganizationSubscription.get_or_create(
                organization_id=pk, user_id=viewer.id
            )
    context.next_event()
    return organization


async def unfollow_what_is_no_longer_allowed(
    *, user_pk: int | None = None, organization_pk: int | None = None
) -> None:
    """After a change of membership, role or sharing: a customer stops following an
    organization they could not follow now (they left it, it stopped sharing its tickets).
    Staff keep theirs. Call it in the transaction of the change."""
    where = sql.Where()
    if user_pk is not None:
        where.add("s.user_id = ?", user_pk)
    if organization_pk is not None:
        where.add("s.organization_id = ?", organization_pk)
    where.add(access.subscription_no_longer_allowed_condition("s"))
    await sql.execute(
        "DELETE FROM organization_subscription WHERE id IN"
        f" (SELECT s.id FROM organization_subscription s WHERE {where.sql()})",
        *where.params,
    )


# ---------------------------------------------------------------- telling subscribers


async def subscribers_who_see(
    ticket_pk: int, organization_pk: int | None, *, public: bool, author_pk: int | None
) -> list[Viewer]:
    """The subscribers of the ticket's organization who may see a change of it (`public`:
    whether customers may), the author excepted. Two statements at most: the subscribers,
    and the ticket's customer audience when a customer is among them."""
    if organization_pk is None:
        return []
    rows = await _SUBSCRIBERS.fetch(organization_pk, author_pk or 0)
    people = [Viewer(r["id"], r["name"], r["email"], Role(r["role"])) for r in rows]
    audience = None
    if public and any(not p.is_agent for p in people):
        audience = await access.ticket_audience(ticket_pk, None)
    return [p for p in people if access.sees_ticket_change(p, public, audience)]


async def tell_subscribers(changes: Changes, ticket: Ticket, author_pk: int | None) -> None:
    """Notify the organization's subscribers of what `changes` recorded on `ticket`: a new
    request, or an update (public when any of its events is). Nothing recorded, nothing
    told."""
    recorded = [e for e in changes.events if e.ticket_id == ticket.id]
    if not recorded or ticket.organization_id is None:
        return
    created = any(e.kind == TicketEventKind.CREATED for e in recorded)
    public = any(e.public for e in recorded)
    told = await subscribers_who_see(
        ticket.id,
        ticket.organization_id,
        public=public,
        author_pk=author_pk,
    )
    what = "New request" if created else "Request updated"
    for person in told:
        await changes.notify(
            person.id,
            CREATED if created else UPDATED,
            f"{what} #{ticket.number}: {ticket.subject}",
            ticket.id,
        )
