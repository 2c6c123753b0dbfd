"""Answers PostgreSQL writes (schema/execution/answers.py): the same JSON as Python's, one
statement, and Python again wherever the answer needs an error.

Every query here also runs through the normal executor (the client's differential mode),
which must answer the same data and errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from guichet.models import db as database
from guichet.models.people import User
from guichet.schema.execution import STATS
from guichet.server.rate_limits import returned_objects
from tests.seed import seed_people, seed_tickets
from tests.server.test_rate_limits import limited, post

DASHBOARD = (Path(__file__).resolve().parents[3] / "bench" / "dashboard.graphql").read_text()

pytestmark = pytest.mark.usefixtures("tickets_with_conversations")


@pytest.fixture
async def tickets_with_conversations(end_user, agent):
    customers, agents = await seed_people(customers=5, agents=3)
    me = await User.get(id=end_user.row.pk)
    await seed_tickets(
        requesters=[me, *customers], agents=agents, tickets=30, comments_per_ticket=4
    )


@pytest.fixture
def postgres_only():
    if database.dialect() != "postgres":
        pytest.skip("answers are written by PostgreSQL only")


def _answered_in_sql():
    before = STATS["answered in SQL"]
    return lambda: STATS["answered in SQL"] - before


@pytest.mark.usefixtures("postgres_only")
async def test_the_dashboard_list_is_one_statement_written_by_postgres(
    gql, agent, count_statements
):
    answered = _answered_in_sql()
    await gql(DASHBOARD, as_=agent)  # remembers the session
    with count_statements() as statements:
        response = await gql.http.post(
            "/graphql",
            json={"query": DASHBOARD},
            headers={"authorization": f"Bearer {agent.token}"},
        )
    body = response.json()
    assert "errors" not in body and body["data"]["tickets"]["totalCount"] == 30
    assert answered() == 2
    # The session lookup (counted blocks start with none remembered) and the answer.
    assert statements.count == 2


@pytest.mark.usefixtures("postgres_only")
async def test_an_end_user_sees_only_public_replies_and_their_own_address(gql, end_user):
    answered = _answered_in_sql()
    query = """{ tickets(first: 50) { edges { node {
        requester { id email }
        comments(first: 10) { totalCount edges { node { public author { email } } } }
    } } } }"""
    body = await gql(query, as_=end_user)
    assert answered() == 1 and "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["tickets"]["edges"]]
    assert nodes and all(n["requester"]["id"] == end_user.row.id for n in nodes)
    assert {n["requester"]["email"] for n in nodes} == {end_user.row.email_address}
    comments = [c["node"] for n in nodes for c in n["comments"]["edges"]]
    assert comments and all(c["public"] for c in comments)
    assert all(n["comments"]["totalCount"] == len(n["comments"]["edges"]) for n in nodes)
    assert {c["author"]["email"] for c in comments} <= {end_user.row.email_address, None}


@pytest.mark.usefixtures("postgres_only")
async def test_pages_cursors_and_page_info_match_python_on_every_page(gql, agent):
    query = """query Page($after: String) {
      tickets(first: 7, after: $after, sort: [{field: NUMBER, direction: ASC}]) {
        __typename totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { __typename cursor node { __typename id number createdAt priority type group { id } } }
      } }"""
    answered = _answered_in_sql()
    after, pages = None, 0
    while True:
        data = (await gql(query, {"after": after}, as_=agent))["data"]["tickets"]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == 5 and answered() == 5
    assert data["edges"][-1]["node"]["number"] == 30


@pytest.mark.usefixtures("postgres_only")
async def test_the_cost_budget_counts_the_objects_postgres_wrote(settings, agent):
    answered = _answered_in_sql()
    async with limited(settings, cost_budget=100_000, cost_restore_rate=100) as (_, http):
        response = await post(http, DASHBOARD, as_=agent)
    body = orjson.loads(response.content)
    assert answered() == 1
    assert body["extensions"]["cost"]["actualQueryCost"] == returned_objects(body["data"]) > 300


@pytest.mark.usefixtures("postgres_only")
async def test_a_null_where_none_may_be_is_answered_in_python_with_its_error(gql, agent):
    await database.db().execute_query("UPDATE ticket SET status = 'LOST' WHERE number = 3")
    answered = _answered_in_sql()
    body = await gql(
        "{ tickets(first: 5, sort: [{field: NUMBER, direction: ASC}]) { edges { node { status } } } }",
        as_=agent,
    )
    assert answered() == 0
    assert body["errors"] and body["data"] is None


@pytest.mark.usefixtures("postgres_only")
async def test_refused_arguments_are_answered_in_python_with_their_error(gql, agent):
    answered = _answered_in_sql()
    bad_cursor = await gql(
        '{ tickets(first: 2) { edges { node { comments(after: "nope") { totalCount } } } } }',
        as_=agent,
    )
    too_many = await gql("{ tickets(first: 500) { totalCount } }", as_=agent)
    from_the_end = await gql("{ tickets(last: 3) { edges { node { number } } } }", as_=agent)
    assert answered() == 0
    assert bad_cursor["errors"] and too_many["errors"]
    assert len(from_the_end["data"]["tickets"]["edges"]) == 3


async def test_with_the_setting_off_answers_are_shaped_in_python(settings, agent):
    answered = _answered_in_sql()
    async with limited(settings, sql_answers=False) as (_, http):
        response = await post(http, DASHBOARD, as_=agent)
    assert response.status_code == 200 and "errors" not in response.json()
    assert answered() == 0


@pytest.mark.usefixtures("postgres_only")
async def test_one_ticket_and_me_are_written_by_postgres_for_whoever_may_see_them(
    gql, agent, end_user, other_customer
):
    query = """query One($n: Int!) {
      me { id name email role }
      ticket(number: $n) { number subject requester { id email } assignee { name }
        comments(first: 3, order: OLDEST_FIRST) { totalCount edges { cursor node { body } } } }
    }"""
    mine = await gql("{ tickets(first: 1) { edges { node { number } } } }", as_=end_user)
    number = mine["data"]["tickets"]["edges"][0]["node"]["number"]
    answered = _answered_in_sql()
    seen = await gql(query, {"n": number}, as_=agent)
    own = await gql(query, {"n": number}, as_=end_user)
    hidden = await gql(query, {"n": number}, as_=other_customer)
    missing = await gql(query, {"n": 999}, as_=agent)
    assert answered() == 4
    assert seen["data"]["ticket"]["number"] == number and seen["data"]["me"]["role"] == "AGENT"
    assert own["data"]["ticket"]["requester"]["email"] == end_user.row.email_address
    assert hidden["data"]["ticket"] is None and hidden["data"]["me"]["id"] == other_customer.row.id
    assert missing["data"]["ticket"] is None


async def test_signed_out_the_root_fields_answer_their_errors(gql):
    answered = _answered_in_sql()
    body = await gql("{ me { id } ticket(number: 1) { number } }")
    assert answered() == 0 and body["errors"]
