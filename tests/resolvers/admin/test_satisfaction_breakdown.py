"""satisfactionBreakdown: GOOD and BAD ratings per agent and group, counted by hand, with
the dates of satisfactionStats (ratings last changed in [from, to))."""

from __future__ import annotations

import pytest

from guichet.models.people import Role
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.admin.analytics_seed import MONDAY, RATED_AT, seed_help_desk

BREAKDOWN = """
query($by: [SatisfactionDimension!]!, $from: DateTime, $to: DateTime) {
  satisfactionBreakdown(groupBy: $by, from: $from, to: $to) { keys labels good bad score }
}
"""
STATS = "query($from: DateTime) { satisfactionStats(from: $from) { good bad } }"


@pytest.fixture
async def help_desk(make_person, agent, end_user, group):
    bruno = await make_person("Bruno Agent", "bruno@guichet.test", Role.AGENT)
    people = {"agent": agent.row, "bruno": bruno.row}
    await seed_help_desk(requester=end_user.row, people=people, group=group)
    return people


async def _breakdown(gql, agent, by, **dates) -> dict[tuple, tuple]:
    result = await gql(BREAKDOWN, {"by": by, **dates}, as_=agent)
    assert "errors" not in result, result
    return {
        tuple(b["keys"]): (b["labels"], b["good"], b["bad"], b["score"])
        for b in result["data"]["satisfactionBreakdown"]
    }


async def test_ratings_per_agent_as_counted_by_hand(gql, agent, help_desk):
    agnes, bruno = ids.encode("User", agent.row.pk), ids.encode("User", help_desk["bruno"].pk)
    assert await _breakdown(gql, agent, ["AGENT"]) == {
        (agnes,): (["Agnès Agent"], 1, 1, 0.5),
        (bruno,): (["Bruno Agent"], 1, 0, 1.0),
        (None,): ([None], 1, 1, 0.5),
    }


async def test_ratings_per_group_follow_the_dates_of_satisfaction_stats(
    gql, agent, help_desk, group
):
    since = (MONDAY.replace(day=3)).isoformat()  # the fourth ticket's BAD is older
    tier = ids.encode("Group", group.pk)
    assert await _breakdown(gql, agent, ["GROUP"], **{"from": since}) == {
        (tier,): (["Tier 1"], 1, 1, 0.5),
        (None,): ([None], 2, 0, 1.0),
    }
    stats = await gql(STATS, {"from": since}, as_=agent)
    assert stats["data"]["satisfactionStats"] == {"good": 3, "bad": 1}
    assert await _breakdown(gql, agent, ["GROUP"], to=RATED_AT.isoformat()) == {
        (None,): ([None], 0, 1, 0.0),
    }


async def test_nothing_rated_in_the_period_gives_one_empty_bucket_without_dimensions(
    gql, agent, help_desk
):
    assert await _breakdown(gql, agent, [], to=MONDAY.replace(day=1).isoformat()) == {
        (): ([], 0, 0, None)
    }


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_customers_and_light_agents_get_no_breakdown(gql, everyone, role):
    result = await gql(BREAKDOWN, {"by": ["AGENT"]}, as_=everyone[role])
    assert result["data"] == {"satisfactionBreakdown": None}
    assert error_codes(result) == ["FORBIDDEN"]


async def test_one_statement_whatever_the_number_of_ratings_and_buckets(
    gql, agent, help_desk, end_user, group, make_person, count_statements
):
    await gql("{ me { id } }", as_=agent)  # settings and the like, read once per process
    with count_statements() as few:
        before = await _breakdown(gql, agent, ["AGENT", "GROUP"])
    carla = await make_person("Carla Agent", "carla@guichet.test", Role.AGENT)
    people = {**help_desk, "agent": carla.row}
    await seed_help_desk(requester=end_user.row, people=people, group=group, copies=3)
    with count_statements() as many:
        after = await _breakdown(gql, agent, ["AGENT", "GROUP"])
    assert len(after) > len(before)
    assert (
        sum(good + bad for _, good, bad, _ in after.values()) == 4 * 5
    )  # five rated tickets a copy
    assert many.count == few.count
