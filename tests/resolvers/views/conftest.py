"""Seeded tickets for the views and dashboard tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.resolvers.approvals.test_approvals import requested
from tests.resolvers.tickets_helpers import make_ticket, set_timestamps, updated
from tests.resolvers.work.test_activities import added

NOW = datetime.now(UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


@pytest.fixture
async def seeded(gql, agent, admin, end_user) -> None:
    """1 open, the agent's; 2 new, unassigned; 3 solved just now by the agent; 4 solved ten
    days ago by the admin; 5 unassigned with a pending approval; 6 the admin's, open, with an
    overdue activity; 7 the agent's, pending, with a completed overdue activity and one due
    tomorrow."""
    tickets = [await make_ticket(gql, end_user, subject=f"Ticket {n}") for n in range(1, 8)]
    one, _, three, four, five, six, seven = tickets
    await updated(gql, agent, one["id"], assigneeId=agent.id, status="OPEN")
    await updated(gql, agent, three["id"], assigneeId=agent.id, status="SOLVED")
    await updated(gql, agent, four["id"], assigneeId=admin.id, status="SOLVED")
    await set_timestamps(4, solved_at=NOW - timedelta(days=10))
    await requested(gql, agent, five, [admin])
    await updated(gql, agent, six["id"], assigneeId=admin.id, status="OPEN")
    await added(gql, agent, six, dueAt=ago(hours=2))
    await updated(gql, agent, seven["id"], assigneeId=agent.id, status="PENDING")
    done = await added(gql, agent, seven, dueAt=ago(days=1))
    await gql(
        "mutation($id: ID!) { updateActivity(input: {id: $id, completed: true}) { errors { code } } }",
        {"id": done["id"]},
        as_=agent,
    )
    await added(gql, agent, seven, dueAt=(NOW + timedelta(days=1)).isoformat())
