"""Values the database never gives, injected through the loaders: both executors answer
alike (nulls in non-null positions, wrong leaf types, failures, denied viewers)."""

from __future__ import annotations

import dataclasses

import pytest

from guichet.resolvers.people import people
from guichet.resolvers.tickets import comments
from guichet.resolvers.work import time_tracking
from tests.schema.execution.helpers import both, same, swapped
from tests.seed import seed_people, seed_tickets

LIST = """
{ tickets(first: 4) { edges { node {
    number
    requester { name }
    assignee { name }
    comments(first: 2) { edges { node { body public via author { name } } } }
} } } }
"""


@pytest.fixture
async def tickets(app):
    customers, agents = await seed_people(customers=6, agents=3)
    await seed_tickets(
        requesters=customers[:3], agents=agents[:2], authors=customers[3:] + agents[2:],
        tickets=5, comments_per_ticket=3,
    )  # fmt: skip


def _pages(change):
    """Comment pages whose rows went through `change(row)`."""
    return swapped(
        comments.comment_pages,
        lambda _key, page: dataclasses.replace(page, rows=[change(r) for r in page.rows]),
    )


async def test_a_null_requester_nulls_its_ticket_with_one_error(app, tickets, agent):
    # Ticket.requester is User!: a null nulls the ticket (edges' node is non-null, so the
    # edge list, which is nullable nowhere, nulls the whole connection up to `tickets`).
    swaps = swapped(people.users_by_id, lambda _key, user: None)
    result = await same(app, LIST, viewer=agent.viewer, swaps=swaps)
    assert result["data"] is None or result["data"]["tickets"] is None
    assert result["errors"][0]["message"] == "Unexpected error."


async def test_a_null_author_in_a_list_of_comments(app, tickets, agent):
    first = {}

    def some_missing(key, user):
        first.setdefault("key", key)
        return None if key == first["key"] else user

    swaps = swapped(people.users_by_id, some_missing)
    planned, normal = await both(app, LIST, viewer=agent.viewer, swaps=swaps)
    assert planned == normal


async def test_a_nullable_relation_answering_null_is_null_without_error(app, tickets, agent):
    query = "{ tickets(first: 3) { edges { node { number assignee { name } } } } }"
    swaps = swapped(people.users_by_id, lambda _key, user: None)
    result = await same(app, query, viewer=agent.viewer, swaps=swaps)
    assert "errors" not in result
    assert all(e["node"]["assignee"] is None for e in result["data"]["tickets"]["edges"])


async def test_wrong_leaf_types_fail_like_graphql_core(app, tickets, agent):
    swaps = _pages(
        lambda row: dataclasses.replace(row, public="yes", body=12, via="CARRIER_PIGEON")
    )
    result = await same(app, LIST, viewer=agent.viewer, swaps=swaps)
    messages = {e["message"] for e in result["errors"]}
    assert any("Boolean cannot represent" in m for m in messages)


async def test_a_string_where_an_int_is_declared(app, tickets, agent):
    query = "{ tickets(first: 3) { edges { node { number timeSpentMinutes } } } }"
    swaps = swapped(time_tracking.minutes_by_ticket, lambda _key, minutes: "lots")
    result = await same(app, query, viewer=agent.viewer, swaps=swaps)
    assert len(result["errors"]) == 3
    assert "Int cannot represent" in result["errors"][0]["message"]
    assert result["errors"][0]["path"] == ["tickets", "edges", 0, "node", "timeSpentMinutes"]


async def test_an_unknown_enum_value_and_a_wrong_date(app, tickets, agent):
    swaps = _pages(lambda row: dataclasses.replace(row, via="CARRIER_PIGEON", created_at="today"))
    query = "{ tickets(first: 2) { edges { node { comments(first: 2) { edges { node { via createdAt } } } } } } }"
    planned, normal = await both(app, query, viewer=agent.viewer, swaps=swaps)
    assert planned == normal


async def test_a_failing_batch_function_is_masked_at_each_position(app, tickets, agent):
    async def broken(context, keys):
        raise RuntimeError("the database caught fire")

    query = "{ tickets(first: 3) { edges { node { number assignee { name } } } } }"
    result = await same(app, query, viewer=agent.viewer, swaps={people.users_by_id: broken})
    assert {e["message"] for e in result["errors"]} == {"Unexpected error."}
    assert {e["extensions"]["code"] for e in result["errors"]} == {"INTERNAL_SERVER_ERROR"}
    assert len(result["errors"]) == 3


async def test_denied_fields_in_a_list_answer_forbidden_at_each_position(
    app, tickets, end_user, agent
):
    # Tickets of the end user: make them the requester of every ticket.
    swaps = swapped(people.users_by_id, lambda _key, user: user)
    query = """
    { tickets(first: 5) { edges { node { number tags timeSpentMinutes
        requester { groups { name } } } } } }
    """
    result = await same(app, query, viewer=end_user.viewer, swaps=swaps)
    for error in result.get("errors", []):
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["path"][:3] == ["tickets", "edges", error["path"][2]]
    staff = await same(app, query, viewer=agent.viewer)
    assert "errors" not in staff
