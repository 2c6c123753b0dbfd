"""ticketHistory and notifications over a real websocket (graphql-transport-ws, uvicorn).

Tickets change through the GraphQL API (`gql`); subscribers listen on `live_server` with
the `websockets` client, the bearer token in the connection_init payload.

A subscription is live some time after `subscribe` is sent. ticketHistory subscribes to
the bus before it replays, so a subscriber that asks to replay after an existing event
and has received the replay is live: the tests act only then. "Receives nothing" is a
quiet wait of QUIET seconds, or, better, the proof that the next message is the one
expected.

A change that mails someone is followed by its NOTIFICATION_SENT events (by the system);
these tests follow the changes and pass over those (the mail and its events are tested in
tests/resolvers/mail/test_ticket_mail.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from guichet.models.tickets import Channel, TicketEvent, TicketEventKind
from guichet.resolvers import ids, topics
from guichet.resolvers.context import Context
from guichet.subscriptions.notifications import notify
from tests.conftest import Client, Person

TRANSPORT_WS = "graphql-transport-ws"
MAIL_EVENT = "NOTIFICATION_SENT"
TIMEOUT = 5.0
QUIET = 0.5

HISTORY = """
subscription($id: ID!, $after: String) {
  ticketHistory(ticketId: $id, after: $after) { id kind field newValue public actor { name } }
}
"""
NOTIFICATIONS = "subscription { notifications { kind message ticket { number } } }"

CREATE_TICKET = """
mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id number } errors { code message } }
}
"""
UPDATE_TICKET = """
mutation($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { id } errors { code message } }
}
"""
ADD_COMMENT = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } errors { code message } }
}
"""
REMOVE_ORGANIZATION_MEMBER = """
mutation($input: OrganizationMembershipInput!) {
  removeOrganizationMember(input: $input) { organization { id } errors { code message } }
}
"""
TICKET_HISTORY = """
query($number: Int!) {
  ticket(number: $number) {
    history(first: 100) { edges { cursor node { id kind field public } } }
  }
}
"""


# ---------------------------------------------------------------- the API


async def mutate(gql: Client, document: str, name: str, person: Person, input: dict) -> dict:
    response = await gql(document, {"input": input}, as_=person)
    assert "errors" not in response, response
    payload = response["data"][name]
    assert payload["errors"] == [], payload
    return payload


async def open_ticket(gql: Client, agent: Person, requester: Person, **fields: Any) -> dict:
    """A ticket opened by `agent` for `requester` (in the requester's only organization)."""
    created = await mutate(
        gql,
        CREATE_TICKET,
        "createTicket",
        agent,
        {"subject": "The printer smokes", "description": "Since this morning.", **fields}
        | {"requesterId": requester.id},
    )
    return created["ticket"]


async def comment(
    gql: Client, person: Person, ticket: dict, body: str, *, public: bool = True
) -> str:
    added = await mutate(
        gql,
        ADD_COMMENT,
        "addComment",
        person,
        {"ticketId": ticket["id"], "body": body, "public": public},
    )
    return added["comment"]["id"]


async def update(gql: Client, person: Person, ticket: dict, **fields: Any) -> None:
    await mutate(gql, UPDATE_TICKET, "updateTicket", person, {"id": ticket["id"], **fields})


async def history_of(gql: Client, ticket: dict, person: Person) -> list[dict]:
    """The ticket's history as `person` sees it, oldest first, each node with its cursor."""
    response = await gql(TICKET_HISTORY, {"number": ticket["number"]}, as_=person)
    assert "errors" not in response, response
    return [
        edge["node"] | {"cursor": edge["cursor"]}
        for edge in response["data"]["ticket"]["history"]["edges"]
    ]


async def changes_of(gql: Client, ticket: dict, person: Person) -> list[dict]:
    """`history_of`, the mail events aside."""
    return [e for e in await history_of(gql, ticket, person) if e["kind"] != MAIL_EVENT]


def pk_of(ticket: dict) -> int:
    pk = ids.decode_as(ticket["id"], "Ticket")
    assert pk is not None
    return pk


# ---------------------------------------------------------------- the websocket


@asynccontextmanager
async def websocket(server: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://{server}/graphql",
        subprotocols=[TRANSPORT_WS],
        open_timeout=TIMEOUT,
        close_timeout=2,
        max_queue=None,
    ) as ws:
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


async def signed_in(ws: ClientConnection, person: Person) -> None:
    await send(
        ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {person.token}"}}
    )
    ack = await receive(ws)
    assert ack["type"] == "connection_ack", ack


def _mail_event(message: dict[str, Any]) -> bool:
    data = (message.get("payload") or {}).get("data") or {}
    return (
        message.get("type") == "next"
        and (data.get("ticketHistory") or {}).get("kind") == MAIL_EVENT
    )


async def silent(ws: ClientConnection, within: float = QUIET) -> None:
    """Nothing arrives on the connection within `within` seconds (but mail events)."""
    try:
        async with asyncio.timeout(within):
            while _mail_event(json.loads(raw := await ws.recv())):
                pass
    except TimeoutError:
        return
    raise AssertionError(f"expected nothing, received {raw}")


async def subscribe_history(
    ws: ClientConnection, ticket_id: str, after: str | None = None, operation_id: str = "1"
) -> None:
    await send(
        ws,
        {
            "id": operation_id,
            "type": "subscribe",
            "payload": {"query": HISTORY, "variables": {"id": ticket_id, "after": after}},
        },
    )


async def receive_change(ws: ClientConnection) -> dict[str, Any]:
    """The next message, mail events passed over."""
    while _mail_event(message := await receive(ws)):
        pass
    return message


async def next_event(ws: ClientConnection, operation_id: str = "1") -> dict[str, Any]:
    """The next history event, mail events passed over."""
    message = await receive_change(ws)
    assert message["type"] == "next", message
    assert message["id"] == operation_id, message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["ticketHistory"]


async def live_history(
    ws: ClientConnection, gql: Client, person: Person, ticket: dict, operation_id: str = "1"
) -> list[dict[str, Any]]:
    """Subscribe `person` (signed in on `ws`) to the ticket's history after its first event
    and wait for the replay of the others: once it is in, the subscription is live."""
    history = await history_of(gql, ticket, person)
    assert len(history) >= 2, history
    await subscribe_history(ws, ticket["id"], after=history[0]["id"], operation_id=operation_id)
    replayed = []
    for _ in history[1:]:  # the whole replay, mail events included
        message = await receive(ws)
        assert message["type"] == "next" and message["id"] == operation_id, message
        replayed.append(message["payload"]["data"]["ticketHistory"])
    assert [e["id"] for e in replayed] == [e["id"] for e in history[1:]]
    return [e for e in replayed if e["kind"] != MAIL_EVENT]


async def operation_errors(ws: ClientConnection, operation_id: str = "1") -> list[dict]:
    """The errors an operation ends with: an `error` message, or a `next` carrying errors
    and then `complete`. No data comes with them."""
    message = await receive(ws)
    assert message["id"] == operation_id, message
    if message["type"] == "error":
        return message["payload"]
    assert message["type"] == "next", message
    assert message["payload"].get("data") is None, message
    assert (await receive(ws)) == {"id": operation_id, "type": "complete"}
    return message["payload"]["errors"]


def codes(errors: list[dict]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in errors]


def summary(event: dict[str, Any]) -> tuple:
    actor = event["actor"]["name"] if event["actor"] else None
    return (event["kind"], event["field"], event["newValue"], event["public"], actor)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def ticket(gql: Client, agent: Person, end_user: Person) -> dict:
    """Alice's ticket (Acme's, shared with its members), with a public reply: its public
    history is CREATED, COMMENT_ADDED, FIELD_CHANGED status NEW -> OPEN."""
    opened = await open_ticket(gql, agent, end_user)
    await comment(gql, agent, opened, "We are looking into it.")
    return opened


# ---------------------------------------------------------------- ticketHistory


async def test_an_agent_receives_each_new_event_in_order(gql, live_server, agent, ticket):
    name = agent.row.name
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live_history(ws, gql, agent, ticket)

        await comment(gql, agent, ticket, "Logs attached.", public=False)
        assert summary(await next_event(ws)) == ("COMMENT_ADDED", None, None, False, name)

        await update(gql, agent, ticket, priority="HIGH")
        assert summary(await next_event(ws)) == ("FIELD_CHANGED", "priority", "HIGH", True, name)

        await comment(gql, agent, ticket, "Replaced the fuser.")
        await update(gql, agent, ticket, subject="The printer smoked", tags=["hardware"])
        received = [await next_event(ws) for _ in range(3)]
        assert [summary(e) for e in received] == [
            ("COMMENT_ADDED", None, None, True, name),
            ("FIELD_CHANGED", "subject", "The printer smoked", True, name),
            ("FIELD_CHANGED", "tags", ["hardware"], False, name),
        ]
        await silent(ws)
    # In the order of the ticket's history, which has them last.
    history = await changes_of(gql, ticket, agent)
    assert [e["id"] for e in received] == [e["id"] for e in history[-3:]]


async def test_an_end_user_never_receives_internal_notes_nor_tag_changes(
    gql, live_server, agent, end_user, ticket
):
    async with websocket(live_server) as agent_ws, websocket(live_server) as user_ws:
        await signed_in(agent_ws, agent)
        await signed_in(user_ws, end_user)
        await live_history(agent_ws, gql, agent, ticket)
        await live_history(user_ws, gql, end_user, ticket)

        await comment(gql, agent, ticket, "Customer is on the old firmware.", public=False)
        await update(gql, agent, ticket, tags=["vip", "printer"])
        await comment(gql, agent, ticket, "A technician comes tomorrow.")

        for_agent = [await next_event(agent_ws) for _ in range(3)]
        assert [summary(e) for e in for_agent] == [
            ("COMMENT_ADDED", None, None, False, agent.row.name),
            ("FIELD_CHANGED", "tags", ["printer", "vip"], False, agent.row.name),
            ("COMMENT_ADDED", None, None, True, agent.row.name),
        ]
        # The end user's very next message is the public reply: nothing came before it.
        for_user = await next_event(user_ws)
        assert for_user == for_agent[2]
        await silent(user_ws)
        await silent(agent_ws, 0)

    # The replay filters alike.
    async with websocket(live_server) as user_ws:
        await signed_in(user_ws, end_user)
        replayed = await live_history(user_ws, gql, end_user, ticket)
        assert all(e["public"] for e in replayed)
        assert replayed[-1] == for_user


async def test_an_outsider_cannot_subscribe_to_a_ticket(
    gql, live_server, agent, other_customer, ticket
):
    first = (await history_of(gql, ticket, agent))[0]["id"]
    async with websocket(live_server) as ws:
        await signed_in(ws, other_customer)
        await subscribe_history(ws, ticket["id"], after=first)
        errors = await operation_errors(ws)
        assert codes(errors) == ["NOT_FOUND"]
        # Exactly as for a ticket that does not exist.
        await subscribe_history(ws, ids.encode("Ticket", 999_999), operation_id="2")
        assert [e["message"] for e in await operation_errors(ws, "2")] == [
            e["message"] for e in errors
        ]
        await comment(gql, agent, ticket, "Anyone listening?")
        await update(gql, agent, ticket, priority="URGENT")
        await silent(ws)


async def test_events_of_other_tickets_never_arrive(gql, live_server, agent, end_user, ticket):
    other = await open_ticket(gql, agent, end_user, subject="Another printer")
    await comment(gql, agent, other, "Also looking into it.")
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live_history(ws, gql, agent, ticket, operation_id="mine")
        await live_history(ws, gql, agent, other, operation_id="other")

        await comment(gql, agent, other, "Other: a note.", public=False)
        await update(gql, agent, other, priority="LOW", tags=["elsewhere"])
        await comment(gql, agent, ticket, "Mine: a reply.")
        await comment(gql, agent, other, "Other: a reply.")

        received = [await receive_change(ws) for _ in range(5)]
        await silent(ws)
    mine = [m for m in received if m["id"] == "mine"]
    others = [m for m in received if m["id"] == "other"]
    assert [m["type"] for m in received] == ["next"] * 5
    assert [summary(m["payload"]["data"]["ticketHistory"]) for m in mine] == [
        ("COMMENT_ADDED", None, None, True, agent.row.name)
    ]
    assert len(others) == 4
    mine_ids = {e["id"] for e in await history_of(gql, ticket, agent)}
    other_ids = {e["id"] for e in await history_of(gql, other, agent)}
    assert {m["payload"]["data"]["ticketHistory"]["id"] for m in mine} <= mine_ids
    assert {m["payload"]["data"]["ticketHistory"]["id"] for m in others} <= other_ids


async def test_a_subscriber_who_loses_access_stops_receiving_and_the_stream_completes(
    gql, live_server, agent, end_user, colleague, org, ticket
):
    async with websocket(live_server) as bob_ws, websocket(live_server) as alice_ws:
        await signed_in(bob_ws, colleague)
        await signed_in(alice_ws, end_user)
        await live_history(bob_ws, gql, colleague, ticket)
        await live_history(alice_ws, gql, end_user, ticket)
        # Bob sees Acme's ticket through the organization.
        await comment(gql, agent, ticket, "Bob, can you check the printer room?")
        assert (await next_event(bob_ws))["kind"] == "COMMENT_ADDED"
        assert (await next_event(alice_ws))["kind"] == "COMMENT_ADDED"

        await mutate(
            gql,
            REMOVE_ORGANIZATION_MEMBER,
            "removeOrganizationMember",
            agent,
            {"organizationId": ids.encode("Organization", org.pk), "userId": colleague.id},
        )
        await comment(gql, agent, ticket, "Only for Alice now.")
        # Alice receives it; Bob's stream completes instead, and nothing follows.
        assert (await next_event(alice_ws))["kind"] == "COMMENT_ADDED"
        assert await receive_change(bob_ws) == {"id": "1", "type": "complete"}
        await comment(gql, agent, ticket, "Still only for Alice.")
        assert (await next_event(alice_ws))["kind"] == "COMMENT_ADDED"
        await silent(bob_ws)


async def test_replay_after_an_event_then_live_events(gql, live_server, agent, end_user, ticket):
    await comment(gql, agent, ticket, "Internal: ordered a part.", public=False)
    await update(gql, agent, ticket, tags=["parts"])
    await comment(gql, end_user, ticket, "Thanks, any news?")
    await update(gql, agent, ticket, priority="HIGH")
    agent_history = await changes_of(gql, ticket, agent)
    user_history = await changes_of(gql, ticket, end_user)
    assert [e["kind"] for e in user_history] == [
        "CREATED",
        "COMMENT_ADDED",
        "FIELD_CHANGED",
        "COMMENT_ADDED",
        "FIELD_CHANGED",
    ]
    assert len(agent_history) == 7

    async with websocket(live_server) as user_ws, websocket(live_server) as agent_ws:
        await signed_in(user_ws, end_user)
        await signed_in(agent_ws, agent)
        # After an early event, by its id (the end user) or by its cursor (the agent).
        await subscribe_history(user_ws, ticket["id"], after=user_history[1]["id"])
        await subscribe_history(agent_ws, ticket["id"], after=agent_history[1]["cursor"])
        user_replay = [await next_event(user_ws) for _ in user_history[2:]]
        agent_replay = [await next_event(agent_ws) for _ in agent_history[2:]]
        assert [e["id"] for e in user_replay] == [e["id"] for e in user_history[2:]]
        assert [e["id"] for e in agent_replay] == [e["id"] for e in agent_history[2:]]

        # Then live, none twice.
        await comment(gql, agent, ticket, "Internal: the part arrived.", public=False)
        await comment(gql, agent, ticket, "The part arrived.")
        live_for_agent = [await next_event(agent_ws) for _ in range(2)]
        assert [e["public"] for e in live_for_agent] == [False, True]
        assert await next_event(user_ws) == live_for_agent[1]
        await silent(user_ws)
        await silent(agent_ws, 0)

    seen = [e["id"] for e in agent_replay + live_for_agent]
    assert seen == [e["id"] for e in (await changes_of(gql, ticket, agent))[2:]]


async def test_replay_while_the_ticket_changes_loses_nothing_and_repeats_nothing(
    gql, live_server, agent, ticket
):
    """Comments go on while the subscription starts: whatever the moment it goes live,
    each event arrives once, in order."""
    first = (await history_of(gql, ticket, agent))[0]
    written = 12

    async def keep_commenting() -> None:
        for n in range(written):
            await comment(gql, agent, ticket, f"Step {n}.", public=n % 2 == 0)

    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        writer = asyncio.create_task(keep_commenting())
        try:
            await asyncio.sleep(0.02 * (written // 3))  # some before the subscription
            await subscribe_history(ws, ticket["id"], after=first["id"])
            await writer
        finally:
            writer.cancel()
            with suppress(asyncio.CancelledError):
                await writer
        expected = [e["id"] for e in (await changes_of(gql, ticket, agent))[1:]]
        received = [(await next_event(ws))["id"] for _ in expected]
        await silent(ws)
    assert received == expected


async def test_events_published_out_of_order_all_arrive(app, gql, live_server, agent, ticket):
    """Each transaction publishes after it commits, so two changes of one ticket (e.g. in
    two processes) may be published in the opposite order of their ids: both arrive."""
    ticket_pk = pk_of(ticket)

    async def recorded() -> TicketEvent:
        return await TicketEvent.create(
            ticket_id=ticket_pk, kind=TicketEventKind.FIELD_CHANGED, actor_id=agent.row.pk,
            via=Channel.WEB, field="subject", public=True,
        )  # fmt: skip

    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live_history(ws, gql, agent, ticket)
        earlier, later = await recorded(), await recorded()
        for event in (later, earlier):
            await app.state.bus.publish(
                topics.ticket_history(ticket_pk), {"event": event.id, "ticket": ticket_pk}
            )
        received = [(await next_event(ws))["id"] for _ in range(2)]
        await silent(ws)
    assert received == [ids.encode("TicketEvent", e.id) for e in (later, earlier)]


async def test_an_event_up_to_after_published_late_is_not_sent(
    app, gql, live_server, agent, ticket
):
    """A client read the history (up to event X) before X was published, then subscribes
    after X: X's late publication must not reach it a second time."""
    ticket_pk = pk_of(ticket)
    topic = topics.ticket_history(ticket_pk)
    last = (await history_of(gql, ticket, agent))[-1]
    late = await TicketEvent.get(id=ids.decode_as(last["id"], "TicketEvent"))
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe_history(ws, ticket["id"], after=last["id"])  # nothing to replay
        # Nothing is replayed, so nothing says when the subscription is live but the bus.
        async with asyncio.timeout(TIMEOUT):
            while not bus_subscribers(app, topic):  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        new = await TicketEvent.create(
            ticket_id=ticket_pk, kind=TicketEventKind.FIELD_CHANGED, actor_id=agent.row.pk,
            via=Channel.WEB, field="subject", public=True,
        )  # fmt: skip
        for event in (late, new, late):
            await app.state.bus.publish(topic, {"event": event.id, "ticket": ticket_pk})
        assert (await next_event(ws))["id"] == ids.encode("TicketEvent", new.id)
        await silent(ws)


async def test_a_subscriber_replays_the_events_the_bus_lost_when_it_resumes(
    gql, live_server, agent, end_user, ticket, outage
):
    async with websocket(live_server) as agent_ws, websocket(live_server) as user_ws:
        await signed_in(agent_ws, agent)
        await signed_in(user_ws, end_user)
        await live_history(agent_ws, gql, agent, ticket)
        await live_history(user_ws, gql, end_user, ticket)

        # Redis is away: the events are recorded, their ids never reach the subscribers.
        with outage.lost():
            await comment(gql, agent, ticket, "Written while Redis was away.", public=False)
            await update(gql, agent, ticket, priority="HIGH")
        await silent(agent_ws)

        outage.resume()
        lost = [await next_event(agent_ws) for _ in range(2)]
        assert [summary(e)[:4] for e in lost] == [
            ("COMMENT_ADDED", None, None, False),
            ("FIELD_CHANGED", "priority", "HIGH", True),
        ]
        # Each replays what it may see only.
        assert await next_event(user_ws) == lost[1]
        # Live again; a second RESUMED with nothing missed sends nothing twice.
        await comment(gql, agent, ticket, "Back to normal.")
        assert (await next_event(agent_ws))["kind"] == "COMMENT_ADDED"
        assert (await next_event(user_ws))["kind"] == "COMMENT_ADDED"
        outage.resume()
        await silent(agent_ws)
        await silent(user_ws, 0)
    history = await changes_of(gql, ticket, agent)
    assert [e["id"] for e in lost] == [e["id"] for e in history[-3:-1]]


async def test_a_subscriber_that_asked_no_replay_resumes_from_where_it_started(
    app, gql, live_server, agent, ticket, outage
):
    """Without `after`, a RESUMED replays the events recorded since the subscription
    started, not the ticket's whole history."""
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe_history(ws, ticket["id"])
        async with asyncio.timeout(TIMEOUT):
            while not bus_subscribers(app, topics.ticket_history(pk_of(ticket))):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await comment(gql, agent, ticket, "Live.")
        assert (await next_event(ws))["kind"] == "COMMENT_ADDED"  # the stream is running
        with outage.lost():
            await update(gql, agent, ticket, priority="LOW")
        outage.resume()
        assert summary(await next_event(ws))[:3] == ("FIELD_CHANGED", "priority", "LOW")
        await silent(ws)


def bus_subscribers(app, topic: str) -> int:
    """How many subscriptions of this process listen to the topic (broadcaster's count)."""
    return len(app.state.bus._broadcast._subscribers.get(topic, ()))


async def test_after_must_be_an_event_cursor_or_id(gql, live_server, agent, ticket):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        for n, after in enumerate(["garbage", "", ticket["id"], ids.encode("TicketEvent", "x")]):
            await subscribe_history(ws, ticket["id"], after=after, operation_id=str(n))
            assert codes(await operation_errors(ws, str(n))) == ["BAD_USER_INPUT"], after
        await comment(gql, agent, ticket, "Nobody subscribed.")
        await silent(ws)


# ---------------------------------------------------------------- notifications


class Notifications:
    """A notifications subscription, made live by publishing READY until one arrives."""

    def __init__(self, app, ws: ClientConnection, person: Person) -> None:
        self.context = Context(app.state.settings, None, app.state.bus)
        self.ws = ws
        self.person = person

    async def publish(self, kind: str) -> None:
        await notify(self.context, self.person.row.pk, kind, kind.lower(), datetime.now(UTC))

    async def start(self) -> None:
        await send(self.ws, {"id": "n", "type": "subscribe", "payload": {"query": NOTIFICATIONS}})

        async def keep_publishing() -> None:
            while True:
                await self.publish("READY")
                await asyncio.sleep(0.05)

        publisher = asyncio.create_task(keep_publishing())
        try:
            assert (await self.next())["kind"] == "READY"
        finally:
            publisher.cancel()
            with suppress(asyncio.CancelledError):
                await publisher

    async def next(self) -> dict[str, Any]:
        message = await receive(self.ws)
        assert message["type"] == "next" and message["id"] == "n", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["notifications"]

    async def next_but_ready(self) -> dict[str, Any]:
        """The next notification that is not one of the READY still on their way."""
        while (notification := await self.next())["kind"] == "READY":
            pass
        return notification


async def test_an_agent_is_notified_of_a_ticket_assigned_to_them_by_someone_else(
    app, gql, live_server, agent, admin, end_user
):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        notifications = Notifications(app, ws, agent)
        await notifications.start()

        created = await open_ticket(gql, admin, end_user, assigneeId=agent.id)
        assigned = await notifications.next_but_ready()
        assert assigned["kind"] == "TICKET_ASSIGNED"
        assert assigned["ticket"] == {"number": created["number"]}
        assert f"#{created['number']}" in assigned["message"]

        unassigned = await open_ticket(gql, admin, end_user, subject="Nobody's yet")
        await update(gql, admin, unassigned, assigneeId=agent.id)
        assert await notifications.next_but_ready() == {
            "kind": "TICKET_ASSIGNED",
            "message": f"Ticket #{unassigned['number']} is assigned to you: Nobody's yet",
            "ticket": {"number": unassigned["number"]},
        }
        # Changing something else on it notifies nobody again.
        await update(gql, admin, unassigned, priority="HIGH")
        await notifications.publish("MARKER")
        assert (await notifications.next_but_ready())["kind"] == "MARKER"


async def test_an_agent_assigning_themself_is_not_notified(app, gql, live_server, agent, end_user):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        notifications = Notifications(app, ws, agent)
        await notifications.start()

        await open_ticket(gql, agent, end_user, assigneeId=agent.id)
        unassigned = await open_ticket(gql, agent, end_user, subject="Mine soon")
        await update(gql, agent, unassigned, assigneeId=agent.id)
        # The mutations have returned (their notifications are published before): the
        # next notification is the marker published after them.
        await notifications.publish("MARKER")
        assert (await notifications.next_but_ready())["kind"] == "MARKER"
        await silent(ws)
