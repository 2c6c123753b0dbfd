"""Bounded inputs: every list has a maximum, checked before anything runs."""

from __future__ import annotations

import logging

import pytest

from guichet.schema import limits
from guichet.schema.root import build_schema
from tests.conftest import error_codes

TICKETS_TAGGED = "query($tags: [String!]) { tickets(filter: {tags: $tags}) { totalCount } }"
STATS = "query($by: [TicketDimension!]!) { ticketStats(groupBy: $by) { keys count } }"
CREATE_TICKET = """mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id } errors { code field } } }"""


def refusal(result: dict) -> dict:
    """The one error of a request refused before execution."""
    assert "data" not in result, result
    assert error_codes(result) == ["BAD_USER_INPUT"], result
    return result["errors"][0]


@pytest.fixture
def no_traceback(caplog):
    caplog.set_level(logging.ERROR, logger="guichet.errors")
    yield
    assert not caplog.records, [r.getMessage() for r in caplog.records]


async def test_a_thousand_tags_in_a_filter_are_refused_with_the_maximum(gql, agent, no_traceback):
    error = refusal(await gql(TICKETS_TAGGED, {"tags": [f"t{i}" for i in range(1000)]}, as_=agent))
    assert error["message"] == "TicketFilter.tags holds 1000 items; at most 20 are allowed."
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "TicketFilter.tags",
        "maximum": 20,
    }
    written = ", ".join(f'"t{i}"' for i in range(21))
    literal = refusal(
        await gql(f"{{ tickets(filter: {{tags: [{written}]}}) {{ totalCount }} }}", as_=agent)
    )
    assert literal["extensions"]["argument"] == "TicketFilter.tags"


async def test_a_list_at_its_maximum_is_served(gql, agent):
    result = await gql(TICKETS_TAGGED, {"tags": [f"t{i}" for i in range(20)]}, as_=agent)
    assert result == {"data": {"tickets": {"totalCount": 0}}}
    stats = await gql(STATS, {"by": ["STATUS", "PRIORITY", "CREATED_DAY"]}, as_=agent)
    assert stats == {"data": {"ticketStats": []}}


async def test_two_thousand_dimensions_are_refused(gql, agent, no_traceback):
    error = refusal(await gql(STATS, {"by": ["STATUS"] * 2000}, as_=agent))
    assert error["extensions"]["argument"] == "Query.ticketStats(groupBy:)"
    assert error["extensions"]["maximum"] == 3
    time_stats = "query($by: [TimeDimension!]!) { timeStats(groupBy: $by) { minutes } }"
    error = refusal(await gql(time_stats, {"by": ["DAY"] * 2000}, as_=agent))
    assert error["extensions"]["argument"] == "Query.timeStats(groupBy:)"


async def test_a_dimension_named_twice_is_refused(gql, agent):
    error = refusal(await gql(STATS, {"by": ["STATUS", "STATUS"]}, as_=agent))
    assert error["message"] == "Query.ticketStats(groupBy:) names STATUS more than once."
    literal = refusal(await gql("{ timeStats(groupBy: [DAY, AGENT, DAY]) { minutes } }", as_=agent))
    assert literal["message"] == "Query.timeStats(groupBy:) names DAY more than once."


async def test_lists_without_an_entry_hold_the_default_maximum(gql, agent):
    query = "query($s: [ApprovalStatus!]) { myApprovalRequests(status: $s) { totalCount } }"
    allowed = ["PENDING"] * limits.DEFAULT_MAX_ITEMS
    assert "errors" not in await gql(query, {"s": allowed}, as_=agent)
    error = refusal(await gql(query, {"s": [*allowed, "PENDING"]}, as_=agent))
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "Query.myApprovalRequests(status:)",
        "maximum": limits.DEFAULT_MAX_ITEMS,
    }


async def test_a_variable_is_checked_where_it_is_used_and_its_default_too(gql, agent):
    defaulted = (
        "query($by: [TicketDimension!]! = [STATUS, TYPE, CHANNEL, GROUP])"
        " { ticketStats(groupBy: $by) { count } }"
    )
    assert refusal(await gql(defaulted, as_=agent))["extensions"]["maximum"] == 3
    items = "query($a: TicketDimension!, $b: TicketDimension!) { ticketStats(groupBy: [$a, $b]) { count } }"
    error = refusal(await gql(items, {"a": "STATUS", "b": "STATUS"}, as_=agent))
    assert error["message"] == "Query.ticketStats(groupBy:) names STATUS more than once."
    assert "errors" not in await gql(items, {"a": "STATUS", "b": "TYPE"}, as_=agent)
    defaults = (
        "query($a: TicketDimension = STATUS, $b: TicketDimension = TYPE)"
        " { ticketStats(groupBy: [$a, $b]) { count } }"
    )
    assert "errors" not in await gql(defaults, as_=agent)
    assert refusal(await gql(defaults, {"b": "STATUS"}, as_=agent))["message"].endswith(
        "names STATUS more than once."
    )


async def test_mutation_rules_keep_their_payload_errors_up_to_twice_their_maximum(gql, agent):
    def ticket(tags: int) -> dict:
        return {"subject": "S", "description": "D", "tags": [f"t{i}" for i in range(tags)]}

    result = await gql(CREATE_TICKET, {"input": ticket(51)}, as_=agent)
    assert result["data"]["createTicket"]["errors"] == [
        {"code": "TOO_MANY", "field": ["input", "tags"]}
    ]
    error = refusal(await gql(CREATE_TICKET, {"input": ticket(101)}, as_=agent))
    assert error["extensions"]["argument"] == "CreateTicketInput.tags"


async def test_json_values_are_bounded_in_length_and_depth(gql, agent):
    def ticket(value) -> dict:
        field = {"key": "serial", "value": value}
        return {"subject": "S", "description": "D", "customFields": [field]}

    long = refusal(await gql(CREATE_TICKET, {"input": ticket(list(range(101)))}, as_=agent))
    assert long["extensions"]["argument"] == "CustomFieldValueInput.value"
    nested: list = []
    for _ in range(limits.MAX_NESTING + 1):
        nested = [nested]
    deep = refusal(await gql(CREATE_TICKET, {"input": ticket(nested)}, as_=agent))
    assert "nests more than" in deep["message"]
    written = "[" * (limits.MAX_NESTING + 1) + "]" * (limits.MAX_NESTING + 1)
    literal = f'mutation {{ createTicket(input: {{subject: "S", description: "D", customFields: [{{key: "k", value: {written}}}]}}) {{ errors {{ code }} }} }}'
    assert "nests more than" in refusal(await gql(literal, as_=agent))["message"]


def test_every_list_of_the_schema_documents_its_maximum():
    schema = build_schema()._schema
    coordinates = limits.list_coordinates(schema)
    assert "TicketFilter.tags" in coordinates
    assert "Query.ticketStats(groupBy:)" in coordinates
    undocumented = [c for c, e in coordinates.items() if "At most" not in (e.description or "")]
    assert not undocumented
    named = set(limits.MAX_ITEMS) | set(limits.RULE_MAX_ITEMS) | limits.DISTINCT_ITEMS
    assert named <= set(coordinates), named - set(coordinates)
    sdl = build_schema().as_str()
    assert '"""At most 3 items, each at most once."""\n    groupBy: [TicketDimension!]!' in sdl
