"""responseTimes: first-reply and resolution median and 90th percentile per bucket, as
counted by hand on a seeded help desk, alike on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from guichet.models.people import Role
from guichet.resolvers import ids, sql
from guichet.resolvers.admin import response_times
from guichet.resolvers.admin.dimensions import grouping
from tests.conftest import error_codes
from tests.resolvers.admin.analytics_seed import seed_help_desk

TIMES = """
query($by: [ResponseDimension!]!, $filter: TicketFilter) {
  responseTimes(groupBy: $by, filter: $filter) {
    keys labels tickets firstReplyMedianMinutes firstReplyP90Minutes
    resolutionMedianMinutes resolutionP90Minutes
  }
}
"""
MEASURES = ("fr_median", "fr_p90", "rs_median", "rs_p90")
TOTAL = "query($filter: TicketFilter) { tickets(filter: $filter, first: 1) { totalCount } }"


async def _warm_up(gql, agent) -> None:
    await gql("{ me { id } }", as_=agent)


@pytest.fixture
async def help_desk(make_person, agent, end_user, group):
    bruno = await make_person("Bruno Agent", "bruno@guichet.test", Role.AGENT)
    people = {"agent": agent.row, "bruno": bruno.row}
    await seed_help_desk(requester=end_user.row, people=people, group=group)
    return people


def _measures(bucket: dict) -> tuple:
    return tuple(
        None if bucket[k] is None else round(bucket[k], 3)
        for k in (
            "firstReplyMedianMinutes",
            "firstReplyP90Minutes",
            "resolutionMedianMinutes",
            "resolutionP90Minutes",
        )
    )


async def _times(gql, agent, by, ticket_filter=None) -> list[dict]:
    result = await gql(TIMES, {"by": by, "filter": ticket_filter}, as_=agent)
    assert "errors" not in result, result
    return result["data"]["responseTimes"]


async def test_priority_buckets_interpolate_percentiles_as_counted_by_hand(gql, agent, help_desk):
    buckets = await _times(gql, agent, ["PRIORITY"])
    by_key = {tuple(b["keys"]): (b["labels"], b["tickets"], _measures(b)) for b in buckets}
    # HIGH: replies 10, 20, 30, 40 -> median 25, p90 at 2.7 -> 37; solved 100, 200 -> 150, 190.
    assert by_key == {
        ("HIGH",): (["HIGH"], 4, (25.0, 37.0, 150.0, 190.0)),
        ("LOW",): (["LOW"], 2, (5.0, 5.0, 60.0, 60.0)),
        (None,): ([None], 1, (None, None, None, None)),
    }
    assert [b["tickets"] for b in buckets] == [4, 2, 1]


async def test_assignee_and_group_buckets_carry_names(gql, agent, help_desk, group):
    buckets = await _times(gql, agent, ["ASSIGNEE", "GROUP"])
    agnes, bruno = ids.encode("User", agent.row.pk), ids.encode("User", help_desk["bruno"].pk)
    tier = ids.encode("Group", group.pk)
    by_key = {tuple(b["keys"]): (b["labels"], b["tickets"], _measures(b)) for b in buckets}
    assert by_key == {
        (agnes, tier): (["Agnès Agent", "Tier 1"], 3, (15.0, 19.0, 150.0, 190.0)),
        (bruno, None): (["Bruno Agent", None], 1, (30.0, 30.0, None, None)),
        (None, None): ([None, None], 2, (22.5, 36.5, 60.0, 60.0)),
        (bruno, tier): (["Bruno Agent", "Tier 1"], 1, (None, None, None, None)),
    }


async def test_channel_and_week_buckets_add_up_to_the_filtered_list(gql, agent, help_desk):
    ticket_filter = {"query": "-priority:low"}
    buckets = await _times(gql, agent, ["CHANNEL", "CREATED_WEEK"], ticket_filter)
    by_key = {tuple(b["keys"]): (b["labels"], b["tickets"]) for b in buckets}
    assert by_key == {
        ("WEB", "2026-03-02"): (["WEB", "2026-03-02"], 1),
        ("EMAIL", "2026-03-02"): (["EMAIL", "2026-03-02"], 1),
        ("WEB", "2026-03-09"): (["WEB", "2026-03-09"], 1),
        ("WEB", "2026-03-30"): (["WEB", "2026-03-30"], 2),
    }
    total = await gql(TOTAL, {"filter": ticket_filter}, as_=agent)
    assert sum(b["tickets"] for b in buckets) == total["data"]["tickets"]["totalCount"] == 5


async def test_no_dimension_gives_one_bucket_for_everything(gql, agent, help_desk):
    [bucket] = await _times(gql, agent, [])
    assert (bucket["keys"], bucket["tickets"]) == ([], 7)
    # replies 5, 10, 20, 30, 40 -> 20 and 36; solved 60, 100, 200 -> 100 and 180
    assert _measures(bucket) == (20.0, 36.0, 100.0, 180.0)


def _rounded(rows: list[dict], keys: int) -> list[tuple]:
    return sorted(
        (
            repr([r[f"k{i}"] for i in range(keys)]),
            r["tickets"],
            *(None if r[m] is None else round(float(r[m]), 6) for m in MEASURES),
        )
        for r in rows
    )


async def test_the_window_statement_answers_as_percentile_cont(gql, agent, help_desk):
    """SQLite's statement (window functions) run on PostgreSQL answers what PostgreSQL's
    (percentile_cont) answers."""
    if sql.dialect() != "postgres":
        pytest.skip("percentile_cont is PostgreSQL's")
    for by in ([], ["PRIORITY"], ["ASSIGNEE", "GROUP"], ["CHANNEL", "CREATED_WEEK"]):
        chosen = grouping(by)
        native = await sql.fetch(response_times.statement_text(chosen, "TRUE", windows=False))
        windows = await sql.fetch(response_times.statement_text(chosen, "TRUE", windows=True))

        assert _rounded(windows, len(by)) == _rounded(native, len(by)), by


async def test_one_statement_whatever_the_number_of_tickets_and_buckets(
    gql, agent, help_desk, end_user, group, count_statements
):
    by = ["ASSIGNEE", "GROUP", "CREATED_WEEK"]
    await _warm_up(gql, agent)  # settings and the like, read once per process
    with count_statements() as few:
        first = await _times(gql, agent, by)
    await seed_help_desk(requester=end_user.row, people=help_desk, group=group, copies=5)
    with count_statements() as many:
        again = await _times(gql, agent, by)
    assert sum(b["tickets"] for b in again) == 6 * sum(b["tickets"] for b in first) == 42
    assert many.count == few.count


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_customers_and_light_agents_get_no_response_times(gql, everyone, role):
    result = await gql(TIMES, {"by": ["PRIORITY"]}, as_=everyone[role])
    assert result["data"] == {"responseTimes": None}
    assert error_codes(result) == ["FORBIDDEN"]
