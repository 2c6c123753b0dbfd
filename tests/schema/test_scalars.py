"""Scalars parsed more strictly than strawberry's own: date-times with no UTC equivalent."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import error_codes

SATISFACTION = "query($from: DateTime) { satisfactionStats(from: $from) { good } }"
CREATED_AFTER = "query($after: DateTime) { tickets(filter: {createdAfter: $after}) { totalCount } }"


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31T23:00:00-01:00"],
)
@pytest.mark.parametrize("query", [SATISFACTION, CREATED_AFTER])
async def test_a_date_time_outside_the_utc_calendar_is_refused_before_running(
    gql, agent, caplog, moment, query
):
    caplog.set_level(logging.ERROR, logger="guichet.errors")
    result = await gql(query, {"from": moment, "after": moment}, as_=agent)
    assert "data" not in result
    assert "outside the years 1 to 9999 in UTC" in result["errors"][0]["message"]
    assert "INTERNAL_SERVER_ERROR" not in error_codes(result)
    assert not caplog.records


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00"]
)
async def test_the_edges_of_the_calendar_are_accepted(gql, agent, moment):
    assert (await gql(SATISFACTION, {"from": moment}, as_=agent)) == {
        "data": {"satisfactionStats": {"good": 0}}
    }
    result = await gql(CREATED_AFTER, {"after": moment}, as_=agent)
    assert result == {"data": {"tickets": {"totalCount": 0}}}


async def test_a_literal_is_parsed_the_same_way(gql, agent):
    result = await gql(
        '{ satisfactionStats(from: "0001-01-01T00:00:00+14:00") { good } }', as_=agent
    )
    assert "data" not in result
    assert "outside the years 1 to 9999 in UTC" in result["errors"][0]["message"]
