"""The reads written as SQL answer what the ORM answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from guichet.models.people import OrganizationMember, User
from guichet.models.tickets import Comment, Ticket, TicketStatus
from guichet.resolvers.context import Context
from guichet.resolvers.people import people
from guichet.resolvers.tickets import comments, ticket_search, tickets
from tests.seed import seed_people, seed_tickets


def context_for(app, person) -> Context:
    return Context(app.state.settings, person.viewer, app.state.bus)


async def test_latest_comments_per_ticket_match_the_orm(app, agent, end_user):
    customers, agents = await seed_people(customers=5, agents=3)
    seeded = await seed_tickets(
        requesters=customers, agents=agents, tickets=12, comments_per_ticket=8
    )
    keys = [comments.CommentPage(t.id, 0, 5, True) for t in seeded]
    staff_pages = await comments.comment_pages(context_for(app, agent), keys)
    for ticket, page in zip(seeded, staff_pages, strict=True):
        expected = await Comment.filter(ticket_id=ticket.id).order_by("-created_at", "-id").limit(5)
        assert [c.pk for c in page.rows] == [c.id for c in expected]
        assert page.total == await Comment.filter(ticket_id=ticket.id).count()
    second = await comments.comment_pages(
        context_for(app, agent), [comments.CommentPage(t.id, 5, 5, False) for t in seeded]
    )
    for ticket, page in zip(seeded, second, strict=True):
        expected = (
            await Comment.filter(ticket_id=ticket.id)
            .order_by("created_at", "id")
            .offset(5)
            .limit(5)
        )
        assert [c.pk for c in page.rows] == [c.id for c in expected]


async def test_customers_pages_hold_public_comments_only_as_the_orm_counts_them(app, end_user):
    _, agents = await seed_people(customers=0, agents=2)
    requester = await User.get(id=end_user.row.pk)
    seeded = await seed_tickets(
        requesters=[requester], agents=agents, tickets=4, comments_per_ticket=9
    )
    pages = await comments.comment_pages(
        context_for(app, end_user), [comments.CommentPage(t.id, 0, 100, False) for t in seeded]
    )
    for ticket, page in zip(seeded, pages, strict=True):
        expected = await Comment.filter(ticket_id=ticket.id, public=True).order_by(
            "created_at", "id"
        )
        assert [c.pk for c in page.rows] == [c.id for c in expected]
        assert page.total == len(expected)


async def test_tickets_by_id_match_the_orm(app, agent):
    customers, agents = await seed_people(customers=3, agents=2)
    seeded = await seed_tickets(
        requesters=customers, agents=agents, tickets=6, comments_per_ticket=0
    )
    keys = [t.id for t in reversed(seeded)] + [999_999]
    rows = await tickets.tickets_by_id(context_for(app, agent), keys)
    assert rows[-1] is None
    for row, key in zip(rows[:-1], keys, strict=False):
        model = await Ticket.get(id=key)
        assert row.pk == key
        assert (row.number, row.subject, row.status, row.priority, row.requester_id, row.assignee_id) == (
            model.number, model.subject, model.status, model.priority, model.requester_id, model.assignee_id,
        )  # fmt: skip
        assert row.created_at == model.created_at


async def test_the_filtered_sorted_list_matches_the_orm(app, agent):
    customers, agents = await seed_people(customers=4, agents=2)
    seeded = await seed_tickets(
        requesters=customers, agents=agents, tickets=30, comments_per_ticket=0
    )
    await Ticket.filter(id__in=[t.id for t in seeded[::3]]).update(status=TicketStatus.PENDING)
    filters = ticket_search.TicketFilter(status=[TicketStatus.PENDING])
    sort = [ticket_search.TicketSort("NUMBER", "ASC")]
    page = await ticket_search.ticket_page(
        context_for(app, agent), filters, sort, offset=2, limit=4
    )
    expected = (
        await Ticket.filter(status=TicketStatus.PENDING).order_by("number").offset(2).limit(4)
    )
    assert [r.pk for r in page.rows] == [t.id for t in expected]
    assert page.total == await Ticket.filter(status=TicketStatus.PENDING).count()


async def test_users_and_their_organizations_match_the_orm(
    app, agent, end_user, colleague, org, other_org
):
    await OrganizationMember.create(organization_id=other_org.pk, user_id=colleague.row.pk)
    keys = [colleague.row.pk, end_user.row.pk, agent.row.pk]
    users = await people.users_by_id(context_for(app, agent), keys)
    assert [(u.pk, u.name, u.email_address) for u in users] == [
        (u.id, u.name, u.email) for u in [await User.get(id=k) for k in keys]
    ]
    organizations = await people.organizations_by_user_id(context_for(app, agent), keys)
    for key, found in zip(keys, organizations, strict=True):
        expected = await OrganizationMember.filter(user_id=key).prefetch_related("organization")
        assert sorted(o.pk for o in found) == sorted(m.organization.id for m in expected)
