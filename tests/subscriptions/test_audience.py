"""access.ticket_audience / sees_ticket / sees_event: the in-memory form of the visibility
conditions the fan-out decides with, compared with the SQL conditions for every user."""

from __future__ import annotations

from guichet.models.approvals import ApprovalApprover, ApprovalRequest
from guichet.models.people import Role
from guichet.models.tickets import TicketCc
from guichet.resolvers import access
from guichet.resolvers.context import Viewer
from guichet.resolvers.sql import fetch
from tests.subscriptions.test_ticket_history import open_ticket, pk_of


def as_viewer(person) -> Viewer:
    row = person.row
    return Viewer(row.pk, row.name, row.email_address, row.role)


async def sql_sees(viewer: Viewer, ticket_pk: int, request_pk: int | None, public: bool) -> tuple:
    """What the SQL conditions answer: (sees the ticket, sees an event of the request)."""
    condition, params = access.visible_tickets_condition(viewer, "t", 2)
    ticket = bool(
        await fetch(
            f"SELECT 1 AS yes FROM ticket t WHERE t.id = $1 AND {condition}", ticket_pk, *params
        )
    )
    event_condition, event_params = access.visible_events_condition(viewer, "e", 3)
    event = bool(
        await fetch(
            "SELECT 1 AS yes FROM (SELECT CAST($1 AS INTEGER) AS approval_request_id,"
            f" CAST($2 AS BOOLEAN) AS public) e WHERE {event_condition}",
            request_pk,
            public,
            *event_params,
        )
    )
    return ticket, event


async def test_the_audience_answers_as_the_sql_conditions(
    gql, agent, light_agent, end_user, colleague, other_customer, make_person, other_org
):
    cc = await make_person(
        "Cecil Cc", "cecil@globex.test", Role.END_USER, organizations=[other_org]
    )
    approver = await make_person("Anna Approver", "anna@else.test", Role.END_USER)
    decider = await make_person("Dora Decider", "dora@else.test", Role.END_USER)
    ticket_pk = pk_of(await open_ticket(gql, agent, end_user))
    await TicketCc.create(ticket_id=ticket_pk, user_id=cc.row.pk)
    request = await ApprovalRequest.create(
        ticket_id=ticket_pk, subject="Refund?", message="Please.", created_by_id=agent.row.pk
    )
    other = await ApprovalRequest.create(
        ticket_id=ticket_pk, subject="Loan?", message="Please.", created_by_id=agent.row.pk
    )
    await ApprovalApprover.create(request_id=request.id, user_id=approver.row.pk)
    await ApprovalApprover.create(request_id=other.id, user_id=decider.row.pk)

    people = [agent, light_agent, end_user, colleague, other_customer, cc, approver, decider]
    for request_pk in (None, request.id):
        audience = await access.ticket_audience(ticket_pk, request_pk)
        for person in people:
            viewer = as_viewer(person)
            for public in (True, False):
                expected = await sql_sees(viewer, ticket_pk, request_pk, public)
                sees_ticket = access.sees_ticket(viewer, audience)
                got = (sees_ticket, sees_ticket and access.sees_event(viewer, public, audience))
                assert got == (expected[0], expected[0] and expected[1]), (person.row.name, public)
    # Who is in it, plainly: the requester, Acme's members (it shares), the CC, the approvers.
    audience = await access.ticket_audience(ticket_pk, request.id)
    assert audience.readers == {p.row.pk for p in (end_user, colleague, cc, approver, decider)}
    assert audience.approvers == {approver.row.pk}
