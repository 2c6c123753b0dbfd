"""ticketStats: counts grouped by dimensions, as the ORM counts them."""

from __future__ import annotations

from collections import Counter

import pytest

from guichet.models.people import Role
from guichet.models.tickets import Ticket, TicketPriority, TicketStatus, TicketType
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.admin.analytics_seed import seed_help_desk
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


LABELLED = "query($by: [TicketDimension!]!, $filter: TicketFilter) { ticketStats(groupBy: $by, filter: $filter) { keys labels count } }"
TOTAL = "query($filter: TicketFilter) { tickets(filter: $filter, first: 1) { totalCount } }"


async def _warm_up(gql, agent) -> None:
    await gql("{ me { id } }", as_=agent)


@pytest.fixture
async def help_desk(make_person, agent, end_user, group):
    bruno = await make_person("Bruno Agent", "bruno@guichet.test", Role.AGENT)
    people = {"agent": agent.row, "bruno": bruno.row}
    await seed_help_desk(requester=end_user.row, people=people, group=group)
    return people


async def _labelled(gql, agent, by, ticket_filter=None) -> dict[tuple, tuple]:
    result = await gql(LABELLED, {"by": by, "filter": ticket_filter}, as_=agent)
    assert "errors" not in result, result
    return {tuple(b["keys"]): (b["labels"], b["count"]) for b in result["data"]["ticketStats"]}


async def test_counts_by_week_and_month_start_on_monday_and_the_first(gql, agent, help_desk):
    # Created on days 0, 1, 8, 30, 2, 9, 31 after Monday 2 March 2026.
    assert await _labelled(gql, agent, ["CREATED_WEEK"]) == {
        ("2026-03-02",): (["2026-03-02"], 3),
        ("2026-03-09",): (["2026-03-09"], 2),
        ("2026-03-30",): (["2026-03-30"], 2),
    }
    assert await _labelled(gql, agent, ["CREATED_MONTH", "PRIORITY"]) == {
        ("2026-03-01", "HIGH"): (["2026-03-01", "HIGH"], 3),
        ("2026-03-01", "LOW"): (["2026-03-01", "LOW"], 2),
        ("2026-04-01", "HIGH"): (["2026-04-01", "HIGH"], 1),
        ("2026-04-01", None): (["2026-04-01", None], 1),
    }


async def test_labels_name_assignees_and_groups(gql, agent, help_desk, group):
    agnes, bruno = ids.encode("User", agent.row.pk), ids.encode("User", help_desk["bruno"].pk)
    tier = ids.encode("Group", group.pk)
    by = ["ASSIGNEE", "GROUP", "STATUS"]
    counts = await _labelled(gql, agent, by, {"query": "-priority:low"})
    assert counts == {
        (agnes, tier, "SOLVED"): (["Agnès Agent", "Tier 1", "SOLVED"], 2),
        (agnes, tier, "OPEN"): (["Agnès Agent", "Tier 1", "OPEN"], 1),
        (bruno, None, "OPEN"): (["Bruno Agent", None, "OPEN"], 1),
        (None, None, "OPEN"): ([None, None, "OPEN"], 1),
    }
    total = await gql(TOTAL, {"filter": {"query": "-priority:low"}}, as_=agent)
    assert sum(n for _, n in counts.values()) == total["data"]["tickets"]["totalCount"]


async def test_labels_name_organizations(gql, agent, help_desk, org):
    await Ticket.filter(priority=TicketPriority.LOW).update(organization_id=org.pk)
    acme = ids.encode("Organization", org.pk)
    assert await _labelled(gql, agent, ["ORGANIZATION"]) == {
        (None,): ([None], 5),
        (acme,): (["Acme"], 2),
    }


async def test_stats_take_one_statement_whatever_the_number_of_buckets(
    gql, agent, help_desk, end_user, group, count_statements
):
    by = ["ASSIGNEE", "GROUP", "CREATED_WEEK"]
    await _warm_up(gql, agent)  # settings and the like, read once per process
    with count_statements() as few:
        await _labelled(gql, agent, by)
    await seed_help_desk(requester=end_user.row, people=help_desk, group=group, copies=4)
    with count_statements() as many:
        counts = await _labelled(gql, agent, by)
    assert sum(n for _, n in counts.values()) == 35
    assert many.count == few.count
