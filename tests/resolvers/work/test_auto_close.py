"""Auto-close: the worker closes tickets solved more than autoCloseSolvedAfterDays ago, each
as a SYSTEM status event, once, whatever number of workers run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from guichet.models.approvals import ApprovalRequest
from guichet.models.tickets import Channel, Ticket, TicketEvent, TicketStatus
from guichet.resolvers import topics
from guichet.resolvers.context import Context
from guichet.resolvers.work import auto_close
from guichet.server.worker import Worker
from tests.resolvers.tickets_helpers import make_ticket, updated

UPDATE = """
mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { errors { code } } }
"""


async def auto_close_after(gql, admin, days: int) -> None:
    result = await gql(UPDATE, {"input": {"autoCloseSolvedAfterDays": days}}, as_=admin)
    assert result["data"]["updateSettings"]["errors"] == []


async def solved_days_ago(gql, agent, requester, days: float) -> dict:
    ticket = await make_ticket(gql, agent, requesterId=requester.id, assigneeId=agent.id)
    await updated(gql, agent, ticket["id"], status="SOLVED")
    await Ticket.filter(number=ticket["number"]).update(
        solved_at=datetime.now(UTC) - timedelta(days=days)
    )
    return ticket


async def status_of(ticket: dict) -> TicketStatus:
    return (await Ticket.get(number=ticket["number"])).status


async def closing_events(ticket: dict) -> list[TicketEvent]:
    row = await Ticket.get(number=ticket["number"])
    return await TicketEvent.filter(ticket_id=row.id, field="status", new_value='"CLOSED"')


def system(app) -> Context:
    return Context(app.state.settings, None, app.state.bus)


async def test_tickets_solved_longer_ago_than_the_setting_close(gql, app, admin, agent, end_user):
    await auto_close_after(gql, admin, 3)
    old = await solved_days_ago(gql, agent, end_user, 4)
    recent = await solved_days_ago(gql, agent, end_user, 2)
    assert await auto_close.close_solved_tickets(system(app)) == 1
    assert await status_of(old) is TicketStatus.CLOSED
    assert await status_of(recent) is TicketStatus.SOLVED
    [event] = await closing_events(old)
    assert (event.actor_id, event.via, event.public) == (None, Channel.SYSTEM, True)
    assert (json.loads(event.previous_value), event.impersonator_id) == ("SOLVED", None)
    assert await closing_events(recent) == []


async def test_zero_never_closes(gql, app, admin, agent, end_user):
    ticket = await solved_days_ago(gql, agent, end_user, 3000)
    assert await auto_close.close_solved_tickets(system(app)) == 0  # the default: 0
    await auto_close_after(gql, admin, 0)
    assert await auto_close.close_solved_tickets(system(app)) == 0
    assert await status_of(ticket) is TicketStatus.SOLVED


async def test_reopened_and_waiting_for_approval_tickets_stay_open(
    gql, app, admin, agent, end_user
):
    await auto_close_after(gql, admin, 1)
    reopened = await solved_days_ago(gql, agent, end_user, 5)
    await updated(gql, agent, reopened["id"], status="OPEN")
    waiting = await solved_days_ago(gql, agent, end_user, 5)
    await ApprovalRequest.create(
        ticket_id=(await Ticket.get(number=waiting["number"])).id,
        subject="Refund?",
        message="Please approve.",
        created_by_id=agent.row.pk,
    )
    assert await auto_close.close_solved_tickets(system(app)) == 0
    assert await status_of(reopened) is TicketStatus.OPEN
    assert await status_of(waiting) is TicketStatus.SOLVED


async def test_closes_in_batches_and_publishes_each_event_after_commit(
    gql, app, admin, agent, end_user
):
    await auto_close_after(gql, admin, 1)
    tickets = [await solved_days_ago(gql, agent, end_user, 2 + i) for i in range(5)]
    heard: list[dict] = []
    first = await Ticket.get(number=tickets[0]["number"])
    async with app.state.bus.subscribe(topics.ticket_history(first.id)) as messages:

        async def listen() -> None:
            async for message in messages:
                heard.append(message)
                return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.05)
        assert await auto_close.close_solved_tickets(system(app), batch=2) == 5
        async with asyncio.timeout(5):
            await listener
    [event] = await closing_events(tickets[0])
    assert heard == [{"event": event.id, "ticket": first.id}]
    for ticket in tickets:
        assert await status_of(ticket) is TicketStatus.CLOSED


async def test_several_workers_at_once_close_each_ticket_once(gql, app, admin, agent, end_user):
    await auto_close_after(gql, admin, 1)
    tickets = [await solved_days_ago(gql, agent, end_user, 3) for _ in range(12)]
    closed = await asyncio.gather(
        *(auto_close.close_solved_tickets(system(app), batch=3) for _ in range(4))
    )
    assert sum(closed) == 12
    for ticket in tickets:
        assert len(await closing_events(ticket)) == 1


async def test_the_worker_runs_the_job(gql, app, admin, agent, end_user):
    await auto_close_after(gql, admin, 2)
    ticket = await solved_days_ago(gql, agent, end_user, 3)
    worker = Worker(app.state.settings, app.state.bus)
    await worker.run_once(tick=0)
    assert await status_of(ticket) is TicketStatus.CLOSED
