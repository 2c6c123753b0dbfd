"""ticketStats: counts grouped by dimensions, as the ORM counts them."""

from __future__ import annotations

from collections import Counter

import pytest

from guichet.models.tickets import Ticket, TicketStatus, TicketType
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.seed import seed_people, seed_tickets

STATS = "query($by: [TicketDimension!]!, $filter: TicketFilter) { ticketStats(groupBy: $by, filter: $filter) { keys count } }"


async def _seeded():
    customers, agents = await seed_people(customers=4, agents=3)
    seeded = await seed_tickets(
        requesters=customers, agents=agents, tickets=24, comments_per_ticket=0
    )
    await Ticket.filter(id__in=[t.id for t in seeded[::4]]).update(
        status=TicketStatus.PENDING, type=TicketType.TASK
    )
    await Ticket.filter(id__in=[t.id for t in seeded[1::6]]).update(assignee_id=None)
    return await Ticket.all()


def _as_dict(buckets) -> dict[tuple, int]:
    return {tuple(b["keys"]): b["count"] for b in buckets}


async def test_counts_by_status_and_priority_match_the_orm(gql, agent):
    tickets = await _seeded()
    result = await gql(STATS, {"by": ["STATUS", "PRIORITY"]}, as_=agent)
    expected = Counter((t.status.value, t.priority.value if t.priority else None) for t in tickets)
    assert _as_dict(result["data"]["ticketStats"]) == dict(expected)
    counts = [b["count"] for b in result["data"]["ticketStats"]]
    assert counts == sorted(counts, reverse=True)


async def test_counts_by_assignee_use_global_ids_and_null_for_none(gql, agent):
    tickets = await _seeded()
    result = await gql(STATS, {"by": ["ASSIGNEE"]}, as_=agent)
    expected = Counter(
        ids.encode("User", t.assignee_id) if t.assignee_id else None for t in tickets
    )
    assert _as_dict(result["data"]["ticketStats"]) == {(k,): v for k, v in expected.items()}


async def test_counts_by_type_and_day_follow_the_filter(gql, agent):
    tickets = await _seeded()
    result = await gql(
        STATS, {"by": ["TYPE", "CREATED_DAY"], "filter": {"query": "status:pending"}}, as_=agent
    )
    expected = Counter(
        (t.type.value if t.type else None, t.created_at.date().isoformat())
        for t in tickets
        if t.status is TicketStatus.PENDING
    )
    assert _as_dict(result["data"]["ticketStats"]) == dict(expected)


async def test_no_dimension_gives_one_total(gql, agent):
    tickets = await _seeded()
    result = await gql(STATS, {"by": []}, as_=agent)
    assert result["data"]["ticketStats"] == [{"keys": [], "count": len(tickets)}]


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_customers_and_light_agents_get_no_statistics(gql, everyone, role):
    result = await gql(STATS, {"by": ["STATUS"]}, as_=everyone[role])
    assert result["data"] == {"ticketStats": None}
    assert error_codes(result) == ["FORBIDDEN"]
