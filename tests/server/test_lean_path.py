"""The lean HTTP path: a planned query borrows one database connection for the whole
request, remembers its viewer, and runs a constant number of statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.models import db as database
from guichet.schema.execution import STATS
from tests.seed import seed_people, seed_tickets

DASHBOARD = (Path(__file__).resolve().parents[2] / "bench" / "dashboard.graphql").read_text()
SMALL_DASHBOARD = DASHBOARD.replace("first: 50", "first: 5")


@pytest.fixture
async def sixty_tickets():
    customers, agents = await seed_people(customers=12, agents=4)
    await seed_tickets(requesters=customers, agents=agents, tickets=60, comments_per_ticket=6)


class _Borrows:
    """Counts the connections borrowed from the pool."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        client = database.connections.get("default")
        borrow = client.acquire_connection

        def counted():
            self.count += 1
            return borrow()

        monkeypatch.setattr(client, "acquire_connection", counted)


async def test_a_planned_query_borrows_one_connection_for_all_its_statements(
    gql, sixty_tickets, agent, monkeypatch, count_statements
):
    if database.dialect() != "postgres":
        pytest.skip("SQLite has one connection: nothing is borrowed")
    await gql(DASHBOARD, as_=agent)  # the session lookup is remembered from here on
    borrows = _Borrows(monkeypatch)
    with count_statements() as statements:
        # Straight to HTTP: the client's differential run would borrow connections too.
        answer = await gql.http.post(
            "/graphql",
            json={"query": DASHBOARD},
            headers={"authorization": f"Bearer {agent.token}"},
        )
    assert answer.status_code == 200 and "errors" not in answer.json()
    # The first borrow looks the session up again (the counter starts with none
    # remembered); the plan's statements all run on the second (one when PostgreSQL
    # writes the answer: schema/execution/answers.py).
    assert statements.count >= 2
    assert borrows.count == 2


async def test_the_dashboard_over_http_runs_planned_and_as_many_statements_for_50_as_for_5(
    gql, sixty_tickets, agent, count_statements
):
    planned = STATS["planned"]
    with count_statements() as few:
        small = await gql(SMALL_DASHBOARD, as_=agent)
    with count_statements() as many:
        large = await gql(DASHBOARD, as_=agent)
    assert "errors" not in small and "errors" not in large
    assert len(large["data"]["tickets"]["edges"]) == 50
    # Never more for ten times the page (fewer when the comments' authors are people
    # already loaded for the tickets: each person is read once per request).
    assert many.count <= few.count <= 7
    assert STATS["planned"] >= planned + 2


async def test_a_remembered_viewer_costs_no_statement(gql, agent, count_statements):
    me = "{ me { id } }"
    with count_statements() as once:
        await gql(me, as_=agent)
    with count_statements() as twice:
        await gql(me, as_=agent)
        await gql(me, as_=agent)
    # Each block starts with no viewer remembered: the second request skips the lookup.
    assert twice.count == 2 * once.count - 1
