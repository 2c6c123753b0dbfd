"""What runs planned, at what cost in statements, and the ways around the planner."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from graphql import OperationType

from guichet.schema.execution import STATS, documents, operation_facts, print_plan, run_planned
from guichet.server.settings import load_settings
from tests.schema.execution.helpers import answer, context, same
from tests.seed import seed_people, seed_tickets

DASHBOARD = (Path(__file__).parents[3] / "bench" / "dashboard.graphql").read_text()
PAGE = DASHBOARD.replace("query Dashboard {", "query Dashboard($n: Int!) {").replace(
    "first: 50", "first: $n"
)


@pytest.fixture
async def sixty_tickets(app):
    customers, agents = await seed_people(customers=20, agents=10)
    await seed_tickets(
        requesters=customers[:10], agents=agents[:5], authors=customers[10:] + agents[5:],
        tickets=60, comments_per_ticket=7,
    )  # fmt: skip


async def _statements(app, count_statements, viewer, n: int) -> int:
    schema = app.state.schema
    before = STATS["planned"]
    with count_statements() as counter:
        result = await schema.execute(
            PAGE, variable_values={"n": n}, context_value=context(app, viewer, planner=True)
        )
    assert STATS["planned"] == before + 1
    assert not result.errors
    assert len(result.data["tickets"]["edges"]) == n
    return counter.count


async def test_the_planned_dashboard_runs_as_many_statements_for_50_tickets_as_for_5(
    app, sixty_tickets, agent, count_statements
):
    few = await _statements(app, count_statements, agent.viewer, 5)
    many = await _statements(app, count_statements, agent.viewer, 50)
    # The page and its count, the people of the tickets, the comments, their authors.
    assert few == many <= 6


async def test_the_dashboard_over_http_runs_planned(gql, sixty_tickets, agent):
    before = STATS["planned"]
    result = await gql(DASHBOARD, as_=agent)
    assert STATS["planned"] > before
    assert len(result["data"]["tickets"]["edges"]) == 50
    assert "def __make__" in print_plan(gql.app.state.schema, DASHBOARD)


async def test_the_setting_turns_the_planner_off(app, sixty_tickets, agent):
    assert load_settings({"GUICHET_PLANNER": "off"}).planner is False
    assert load_settings({}).planner is True
    before = STATS["planned"]
    result = await app.state.schema.execute(
        DASHBOARD, context_value=context(app, agent.viewer, planner=False)
    )
    assert not result.errors
    assert STATS["planned"] == before


async def test_mutations_and_introspection_run_normally(app, agent):
    before = STATS["planned"]
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Ticket") { name } }'):
        result = await app.state.schema.execute(
            query, context_value=context(app, agent.viewer, planner=True)
        )
        assert not result.errors
    mutation = "mutation { markAllNotificationsRead { errors { code } } }"
    await app.state.schema.execute(mutation, context_value=context(app, agent.viewer, planner=True))
    assert STATS["planned"] == before


async def test_run_planned_answers_like_the_schema(app, sixty_tickets, agent, end_user):
    for person in (agent, end_user):
        planned = await run_planned(
            app.state.schema, DASHBOARD, None, None, context(app, person.viewer, planner=True)
        )
        normal = await app.state.schema.execute(
            DASHBOARD, context_value=context(app, person.viewer, planner=False)
        )
        assert planned is not None
        assert answer(planned) == answer(normal)


async def test_run_planned_masks_and_refuses_like_the_schema(app, agent):
    ctx = context(app, agent.viewer, planner=True)
    invalid = await run_planned(app.state.schema, "{ tickets { nope } }", None, None, ctx)
    normal = await app.state.schema.execute("{ tickets { nope } }", context_value=ctx)
    assert answer(invalid) == answer(normal)
    assert await run_planned(app.state.schema, "mutation { logout }", None, None, ctx) is None
    off = context(app, agent.viewer, planner=False)
    assert await run_planned(app.state.schema, DASHBOARD, None, None, off) is None


async def test_facts_for_the_http_layer_are_cached_with_the_document(app):
    facts = operation_facts(app.state.schema, DASHBOARD, None, app.state.settings)
    assert facts.type is OperationType.QUERY
    assert facts.signs_in is False
    assert facts.cost > 50
    assert facts.limits == ()
    assert operation_facts(app.state.schema, DASHBOARD, None, app.state.settings) is facts
    login = 'mutation { login(input: {email: "a@b.c", password: "x"}) { token } }'
    assert operation_facts(app.state.schema, login, None).signs_in is True
    costly = replace(app.state.settings, max_query_cost=10)
    assert operation_facts(app.state.schema, DASHBOARD, None, costly).limits


async def test_a_verdict_is_reused_for_the_same_text(app, agent):
    query = "{ me { name } }"
    documents(app.state.schema).clear()
    await app.state.schema.execute(query, context_value=context(app, agent.viewer, planner=True))
    before = STATS["cached verdict"]
    await app.state.schema.execute(query, context_value=context(app, agent.viewer, planner=True))
    assert STATS["cached verdict"] == before + 1


async def test_a_list_variable_is_validated_every_time(app, agent):
    # Input limits read the variables: a document taking a list variable is never given
    # a cached verdict, so an oversized list is refused on every request.
    query = "query($tags: [String!]) { tickets(filter: {tags: $tags}) { totalCount } }"
    ctx = context(app, agent.viewer, planner=True)
    ok = await app.state.schema.execute(query, {"tags": ["a"]}, context_value=ctx)
    assert not ok.errors
    refused = await app.state.schema.execute(query, {"tags": ["t"] * 25}, context_value=ctx)
    assert refused.errors and refused.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_the_dashboard_list_is_equal_over_many_pages(app, sixty_tickets, agent):
    for n in (1, 7, 50):
        await same(app, PAGE, {"n": n}, viewer=agent.viewer)
