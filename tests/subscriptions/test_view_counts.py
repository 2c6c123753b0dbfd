"""viewCounts over a real websocket: counts at once, pushed when a ticket change moves them,
never more than once a second, only of the subscriber's own views, and each shared count
computed once for all who share it."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from websockets.asyncio.client import ClientConnection

from guichet.models.people import Role
from guichet.subscriptions.view_counts import MIN_INTERVAL_SECONDS, Subscriber, registry
from tests.resolvers.tickets_helpers import make_ticket, updated
from tests.resolvers.views_helpers import created_view
from tests.subscriptions.test_ticket_history import receive, send, signed_in, silent, websocket

COUNTS = "subscription { viewCounts { view { name } count } }"


async def subscribe(ws: ClientConnection, operation_id: str = "v") -> None:
    await send(ws, {"id": operation_id, "type": "subscribe", "payload": {"query": COUNTS}})


async def next_counts(ws: ClientConnection) -> dict[str, int]:
    message = await receive(ws)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return {c["view"]["name"]: c["count"] for c in message["payload"]["data"]["viewCounts"]}


async def test_counts_come_at_once_and_move_when_a_ticket_is_assigned(
    gql, live_server, agent, admin, end_user
):
    ticket = await make_ticket(gql, end_user)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(ws)
        first = await next_counts(ws)
        assert (first["My open tickets"], first["Unassigned"]) == (0, 1)
        await updated(gql, admin, ticket["id"], assigneeId=agent.id)
        moved = await next_counts(ws)
        assert (moved["My open tickets"], moved["Unassigned"]) == (1, 0)
        # A change that moves no count sends nothing.
        await updated(gql, admin, ticket["id"], tags=["printer"])
        await silent(ws, within=MIN_INTERVAL_SECONDS + 0.5)


async def test_a_subscriber_gets_only_the_counts_of_views_they_see(
    gql, live_server, agent, make_person, group, end_user
):
    colleague = await make_person("Gus", "gus@guichet.test", Role.AGENT, groups=[group])
    await created_view(gql, agent, name="Agnès's printers", filter={"query": "printer"})
    async with websocket(live_server) as mine, websocket(live_server) as theirs:
        await signed_in(mine, agent)
        await signed_in(theirs, colleague)
        await subscribe(mine)
        await subscribe(theirs)
        assert "Agnès's printers" in await next_counts(mine)
        assert "Agnès's printers" not in await next_counts(theirs)
        await make_ticket(gql, end_user, subject="printer broken")
        assert (await next_counts(mine))["Agnès's printers"] == 1
        assert "Agnès's printers" not in await next_counts(theirs)


async def test_an_end_user_is_refused(live_server, end_user):
    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        await subscribe(ws)
        message = await receive(ws)
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


async def test_a_burst_of_changes_is_pushed_at_most_once_a_second(
    gql, live_server, agent, admin, end_user
):
    ticket = await make_ticket(gql, end_user)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(ws)
        await next_counts(ws)
        arrivals: list[tuple[float, dict[str, int]]] = [(time.monotonic(), {})]

        async def collect() -> None:
            while True:
                counts = await next_counts(ws)
                arrivals.append((time.monotonic(), counts))

        collecting = asyncio.create_task(collect())
        for n in range(9):  # assigned, unassigned, ..., assigned: each change moves the counts
            await updated(gql, admin, ticket["id"], assigneeId=agent.id if n % 2 == 0 else None)
        await asyncio.sleep(2 * MIN_INTERVAL_SECONDS + 0.5)
        collecting.cancel()
        pushes = arrivals[1:]
        assert 1 <= len(pushes) <= 4
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
        assert all(gap >= MIN_INTERVAL_SECONDS * 0.9 for gap in gaps[1:]), gaps
        assert pushes[-1][1]["My open tickets"] == 1  # as the last change left it


async def test_a_shared_count_is_computed_once_for_all_its_subscribers(
    app, gql, agent, admin, end_user, make_person, group, count_statements
):
    await make_ticket(gql, end_user)
    others = [
        await make_person(f"Agent {n}", f"agent{n}@guichet.test", Role.AGENT, groups=[group])
        for n in range(4)
    ]
    hub = registry(app.state.bus)

    async def statements(people: list[Any]) -> int:
        subscribers = [Subscriber(p.viewer) for p in people]
        for s in subscribers:
            hub.subscribers[s] = None
        try:
            with count_statements() as counter:
                await hub.recount(subscribers)
            assert all(s.sent is not None for s in subscribers)
            return counter.count
        finally:
            for s in subscribers:
                hub.subscribers.pop(s, None)

    await statements([agent])  # the built-in views are made on first use
    one = await statements([agent])
    assert await statements([agent, *others]) == one  # views listed and counted in one go each
