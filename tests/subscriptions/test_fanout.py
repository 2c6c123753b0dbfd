"""The shared fan-out of ticketHistory (subscriptions/fanout.py), over real websockets.

Each event is shaped once per group of subscribers who see the same answer; these tests
hold it to what each subscriber would get alone (the same answer as a query of the event,
as that person), to what it costs (statements per event constant in subscribers, memory
per subscription) and to losing access while subscribed.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from contextlib import AsyncExitStack
from typing import Any

import pytest

from guichet.models.db import db
from guichet.models.tickets import Channel, TicketEvent, TicketEventKind
from guichet.resolvers import ids, topics
from guichet.subscriptions import fanout
from tests.conftest import Client, Person
from tests.subscriptions.test_ticket_history import (
    comment,
    history_of,
    mutate,
    next_event,
    open_ticket,
    pk_of,
    receive,
    send,
    signed_in,
    silent,
    update,
    websocket,
)

SELECTION = """
  id kind field previousValue newValue data public via createdAt
  actor { id name role email groups { name } }
  ticket {
    number subject status tags timeSpentMinutes
    requester { name email organizations { name } }
    assignee { name }
    organization { name }
    ccs { name }
    customFields { value }
    satisfaction { score }
    activities { id }
    comments(first: 10) { totalCount edges { node { body public author { name } } } }
    history(first: 20) { totalCount edges { node { kind public } } }
  }
"""
RICH = f"subscription($id: ID!, $after: String) {{ ticketHistory(ticketId: $id, after: $after) {{ {SELECTION} }} }}"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on TicketEvent {{ {SELECTION} }} }} }}"
SMALL = (
    "subscription($id: ID!, $after: String) {"
    " ticketHistory(ticketId: $id, after: $after) { id kind public actor { name } } }"
)
ADD_MEMBER = """
mutation($input: OrganizationMembershipInput!) {
  addOrganizationMember(input: $input) { organization { id } errors { code } }
}
"""
UPDATE_ORGANIZATION = """
mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { ticket { id } errors { code } } }
"""


@pytest.fixture
async def ticket(gql: Client, agent: Person, end_user: Person) -> dict:
    """Alice's ticket (Acme's, which shares its tickets), with a public reply."""
    opened = await open_ticket(gql, agent, end_user)
    await comment(gql, agent, opened, "We are looking into it.")
    return opened


async def node_as(gql: Client, person: Person, event_id: str) -> dict:
    """The event as a query answers it to `person`. Posted as is: the suite's differential
    check of the planned executor compares errors in order, and the two executors may list
    a document's errors in different orders (the set is what is compared here)."""
    response = await gql.http.post(
        "/graphql",
        json={"query": NODE, "variables": {"id": event_id}},
        headers={"authorization": f"Bearer {person.token}"},
    )
    return response.json()


def error_shape(errors: list[dict] | None) -> list[tuple]:
    """Errors without their root field: (path below it, code, message)."""
    return sorted(
        (tuple(e.get("path", [])[1:]), e.get("extensions", {}).get("code"), e["message"])
        for e in errors or []
    )


async def subscribe(ws, ticket: dict, after: str, operation_id: str, query: str = SMALL) -> None:
    variables = {"id": ticket["id"], "after": after}
    await send(
        ws,
        {
            "id": operation_id,
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        },
    )


async def live(
    ws, ticket: dict, gql: Client, person: Person, operation_id: str, query: str = SMALL
) -> None:
    """Subscribed after the ticket's first event, its replay received: live."""
    history = await history_of(gql, ticket, person)
    await subscribe(ws, ticket, history[0]["id"], operation_id, query)
    for _ in history[1:]:
        message = await receive(ws)
        assert message["type"] == "next" and message["id"] == operation_id, message


async def test_each_role_receives_what_a_query_of_the_event_answers(
    gql, live_server, agent, light_agent, admin, end_user, colleague, ticket
):
    people = [agent, light_agent, admin, end_user, colleague]
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(websocket(live_server)) for _ in people]
        for ws, person in zip(sockets, people, strict=True):
            await signed_in(ws, person)
            await live(ws, ticket, gql, person, "1", RICH)
            await live(ws, ticket, gql, person, "2", RICH)  # a second one in the same group

        actions = [
            lambda: comment(gql, agent, ticket, "Internal: firmware 1.2.", public=False),
            lambda: update(gql, agent, ticket, tags=["printer"], priority="HIGH"),
            lambda: comment(gql, agent, ticket, "A technician comes tomorrow."),
        ]
        seen = {e["id"] for e in await history_of(gql, ticket, agent)}
        for action in actions:
            await action()
            # Compared while nothing else changes: an event is shaped as the ticket stands.
            new = [e["id"] for e in await history_of(gql, ticket, agent) if e["id"] not in seen]
            seen |= set(new)
            for ws, person in zip(sockets, people, strict=True):
                visible = {e["id"] for e in await history_of(gql, ticket, person)}
                expected = [i for i in new if i in visible]
                if person in (end_user, colleague) and action is actions[0]:
                    assert expected == []  # an internal note
                received: dict[str, list[dict]] = {"1": [], "2": []}
                for _ in range(2 * len(expected)):
                    message = await receive(ws)
                    assert message["type"] == "next", message
                    received[message["id"]].append(message["payload"])
                assert received["1"] == received["2"]
                assert [p["data"]["ticketHistory"]["id"] for p in received["1"]] == expected
                for payload in received["1"]:
                    event = payload["data"]["ticketHistory"]
                    answer = await node_as(gql, person, event["id"])
                    assert event == answer["data"]["node"], person.row.name
                    assert error_shape(payload.get("errors")) == error_shape(answer.get("errors"))
                await silent(ws, 0.05)


async def test_a_customer_whose_ticket_moves_to_another_organization_stops_receiving(
    gql, live_server, agent, end_user, colleague, other_org, ticket
):
    async with websocket(live_server) as alice_ws, websocket(live_server) as bob_ws:
        await signed_in(alice_ws, end_user)
        await signed_in(bob_ws, colleague)
        await live(alice_ws, ticket, gql, end_user, "1")
        await live(bob_ws, ticket, gql, colleague, "1")

        await mutate(
            gql,
            ADD_MEMBER,
            "addOrganizationMember",
            agent,
            {"organizationId": ids.encode("Organization", other_org.pk), "userId": end_user.id},
        )
        await mutate(
            gql,
            UPDATE_ORGANIZATION,
            "updateTicket",
            agent,
            {"id": ticket["id"], "organizationId": ids.encode("Organization", other_org.pk)},
        )
        # The change itself is the first event Bob may no longer see.
        assert (await next_event(alice_ws))["kind"] == "FIELD_CHANGED"
        assert await receive(bob_ws) == {"id": "1", "type": "complete"}
        await comment(gql, agent, ticket, "Only for Alice now.")
        assert (await next_event(alice_ws))["kind"] == "COMMENT_ADDED"
        await silent(bob_ws)


class Statements:
    """Counts the statements run on the database connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        connection_type = type(db())
        for name in ("execute_query", "execute_query_dict"):
            original = getattr(connection_type, name)

            async def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                text = str(args[1:2])
                # live_sessions' poll, and the settings watch's (server/settings_watch.py)
                if 'FROM "session"' not in text and "help_center_settings" not in text:
                    self.count += 1
                return await _original(*args, **kwargs)

            monkeypatch.setattr(connection_type, name, counted)


async def delivery_statements(
    app, statements: Statements, ticket: dict, agent, sockets, per_socket: int
) -> int:
    """Statements run while one event reaches every subscription of every socket."""
    ticket_pk = pk_of(ticket)
    event = await TicketEvent.create(
        ticket_id=ticket_pk, kind=TicketEventKind.FIELD_CHANGED, actor_id=agent.row.pk,
        via=Channel.WEB, field="subject", public=True,
    )  # fmt: skip
    before = statements.count
    await app.state.bus.publish(topics.ticket_history(ticket_pk), {"event": event.id})
    wanted = ids.encode("TicketEvent", event.id)
    for ws in sockets:
        got = []
        for _ in range(per_socket):
            message = await receive(ws)
            got.append((message["id"], message["payload"]["data"]["ticketHistory"]["id"]))
        assert sorted(got) == sorted((str(n), wanted) for n in range(per_socket))
    for ws in sockets:
        await silent(ws, 0.05)
    return statements.count - before


async def test_delivering_an_event_runs_as_many_statements_for_50_subscribers_as_for_5(
    app, gql, live_server, agent, light_agent, admin, end_user, colleague, ticket, monkeypatch
):
    people = [agent, light_agent, admin, end_user, colleague]
    statements = Statements(monkeypatch)
    async with AsyncExitStack() as stack:
        sockets = []
        for person in people:
            ws = await stack.enter_async_context(websocket(live_server))
            await signed_in(ws, person)
            await live(ws, ticket, gql, person, "0")
            sockets.append(ws)
        for_5 = await delivery_statements(app, statements, ticket, agent, sockets, 1)
        for ws, person in zip(sockets, people, strict=True):
            for n in range(1, 10):
                await live(ws, ticket, gql, person, str(n))
        for_50 = await delivery_statements(app, statements, ticket, agent, sockets, 10)
        # Written through uvicorn's own websocket protocol, a socket's frames at once.
        outboxes = fanout.registry(app.state.bus).outboxes.values()
        assert len(outboxes) == 5 and all(o._protocol is not None for o in outboxes)
    # The event read once, the customers' audience once, then each of the 5 groups (3 staff
    # roles, 2 customers) shapes it once: the actor and the selection's nothing else.
    assert for_5 == for_50, (for_5, for_50)
    assert for_50 <= 2 + 5 * 2


async def test_a_subscription_holds_at_most_30_kib(gql, live_server, agent, ticket):
    """Measured on sockets already open, each with a subscription: what one more costs."""
    async with AsyncExitStack() as stack:
        sockets = []
        for _ in range(10):
            ws = await stack.enter_async_context(websocket(live_server))
            await signed_in(ws, agent)
            await live(ws, ticket, gql, agent, "0", SMALL)
            sockets.append(ws)
        history = await history_of(gql, ticket, agent)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for n in range(1, 11):
                for ws in sockets:
                    await subscribe(ws, ticket, history[0]["id"], str(n), SMALL)
                for ws in sockets:
                    for _ in history[1:]:
                        assert (await receive(ws))["type"] == "next"
            await asyncio.sleep(0.2)
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        per_subscription = grown / 100
        print(f"{per_subscription / 1024:.1f} KiB per subscription")
        for stat in after.compare_to(before, "lineno")[:15]:
            print(stat)
        assert per_subscription <= 30 * 1024
