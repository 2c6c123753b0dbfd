"""The shared fan-out's life cycle and transports: frames, completion, ids, the legacy
protocol, several processes over Redis, recovery from a failed read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from guichet.models.people import OrganizationMember, Role
from guichet.models.tickets import Channel, TicketEvent, TicketEventKind
from guichet.resolvers import ids, topics
from guichet.resolvers.context import Viewer
from guichet.subscriptions import fanout, frames, members
from tests.conftest import Client, Person
from tests.server import test_websocket as legacy_server
from tests.subscriptions.test_fanout import SMALL, live
from tests.subscriptions.test_ticket_history import (
    comment,
    history_of,
    next_event,
    open_ticket,
    pk_of,
    receive,
    send,
    signed_in,
    silent,
    websocket,
)


@pytest.fixture
async def ticket(gql: Client, agent: Person, end_user: Person) -> dict:
    """Alice's ticket (Acme's, which shares its tickets), with a public reply."""
    opened = await open_ticket(gql, agent, end_user)
    await comment(gql, agent, opened, "We are looking into it.")
    return opened


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_a_text_frame_is_what_the_websockets_package_would_send(size):
    text = "é" * (size // 2) + "x" * (size % 2)
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert frames._text_frame(text) == expected


async def test_completed_and_closed_subscriptions_leave_the_fan_out(
    app, gql, live_server, agent, ticket
):
    shared = fanout.registry(app.state.bus)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live(ws, ticket, gql, agent, "1")
        await live(ws, ticket, gql, agent, "2")
        await send(ws, {"id": "2", "type": "complete"})
        await comment(gql, agent, ticket, "Only for 1.")
        assert (await next_event(ws, "1"))["kind"] == "COMMENT_ADDED"
        await silent(ws)
        assert sum(len(g.members) for g in shared.topics[pk_of(ticket)].groups.values()) == 1
    async with asyncio.timeout(5):
        while shared.topics or shared.outboxes:  # noqa: ASYNC110 - nothing to wait on
            await asyncio.sleep(0.01)


async def test_a_live_subscription_keeps_its_id(gql, live_server, agent, ticket):
    """Its execution is over once it is live in the fan-out; the operation is not."""
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live(ws, ticket, gql, agent, "1")
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": SMALL}})
        async with asyncio.timeout(5):
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd.code == 4409


def test_only_the_replay_variable_is_left_out_of_a_group_key():
    plain = "subscription($id: ID!, $after: String) { ticketHistory(ticketId: $id, after: $after) { id } }"
    nested = (
        "subscription($id: ID!, $after: String) { ticketHistory(ticketId: $id, after: $after)"
        " { id ticket { comments(after: $after) { totalCount } } } }"
    )
    other = (
        "subscription($id: ID!, $a: String, $x: String) { ticketHistory(ticketId: $id, after: $a)"
        " { id ticket { comments(after: $x) { totalCount } } } }"
    )
    assert members.replay_variable(plain, None) == "after"
    assert members.replay_variable(nested, None) is None
    assert members.replay_variable(other, None) == "a"

    viewer = Viewer(1, "A", "a@x.test", Role.AGENT)
    colleague = Viewer(2, "B", "b@x.test", Role.AGENT)
    customer = Viewer(3, "C", "c@x.test", Role.END_USER)

    def key(query: str, variables: dict, who: Viewer = viewer) -> tuple:
        return members.group_key(members.Operation("1", query, variables, None), who)

    assert key(plain, {"id": "T", "after": "E1"}) == key(
        plain, {"id": "T", "after": "E2"}, colleague
    )
    assert key(plain, {"id": "T"}) != key(plain, {"id": "T"}, customer)
    assert key(nested, {"id": "T", "after": "E1"}) != key(nested, {"id": "T", "after": "E2"})
    assert key(other, {"id": "T", "a": "E1", "x": "C"}) == key(
        other, {"id": "T", "a": "E2", "x": "C"}
    )
    assert key(other, {"id": "T", "x": "C"}) != key(other, {"id": "T", "x": "D"})


async def unkept(ws) -> dict:
    """The next message but the legacy protocol's keep-alives."""
    while (message := await receive(ws))["type"] == "ka":
        pass
    return message


async def test_the_legacy_protocol_gets_data_messages_and_complete(
    app, settings, gql, agent, end_user, colleague, org, ticket
):
    async with legacy_server.served(settings, legacy_graphql_ws=True) as (legacy, address):
        history = await history_of(gql, ticket, colleague)
        async with legacy_server.websocket(address, legacy_server.LEGACY_WS) as ws:
            await send(ws, {"type": "connection_init", "payload": legacy_server.bearer(colleague)})
            assert (await receive(ws))["type"] == "connection_ack"
            variables = {"id": ticket["id"], "after": history[0]["id"]}
            await send(
                ws,
                {"id": "h", "type": "start", "payload": {"query": SMALL, "variables": variables}},
            )
            for _ in history[1:]:
                assert (await unkept(ws))["type"] == "data"
            ticket_pk = pk_of(ticket)
            event = await TicketEvent.create(
                ticket_id=ticket_pk, kind=TicketEventKind.FIELD_CHANGED, actor_id=agent.row.pk,
                via=Channel.WEB, field="subject", public=True,
            )  # fmt: skip
            await legacy.state.bus.publish(topics.ticket_history(ticket_pk), {"event": event.id})
            message = await unkept(ws)
            assert message["type"] == "data" and message["id"] == "h", message
            assert message["payload"]["data"]["ticketHistory"]["id"] == ids.encode(
                "TicketEvent", event.id
            )
            # Bob leaves Acme: the next event ends his stream.
            await OrganizationMember.filter(user_id=colleague.row.pk).delete()
            later = await TicketEvent.create(
                ticket_id=ticket_pk, kind=TicketEventKind.FIELD_CHANGED, actor_id=agent.row.pk,
                via=Channel.WEB, field="subject", public=True,
            )  # fmt: skip
            await legacy.state.bus.publish(topics.ticket_history(ticket_pk), {"event": later.id})
            assert await unkept(ws) == {"id": "h", "type": "complete"}


async def test_an_event_that_could_not_be_read_arrives_once_the_database_answers(
    app, gql, live_server, agent, ticket, monkeypatch
):
    monkeypatch.setattr(fanout, "RETRY_SECONDS", 0.05)
    failures = iter([RuntimeError("the database is away"), RuntimeError("still away")])
    real_fetch = fanout.fetch

    async def flaky(text: str, *params: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return await real_fetch(text, *params)

    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await live(ws, ticket, gql, agent, "1")
        monkeypatch.setattr(fanout, "fetch", flaky)
        await comment(gql, agent, ticket, "Written while reads fail.")
        assert (await next_event(ws))["kind"] == "COMMENT_ADDED"
        await silent(ws)


async def test_events_written_on_one_process_reach_the_fan_out_of_another_through_redis(
    settings, redis_url, agent, end_user, ticket
):
    prefix = {"broadcast_url": redis_url, "topic_prefix": f"fanout-{uuid.uuid4().hex}:"}
    async with (
        legacy_server.served(settings, **prefix) as (writer, _),
        legacy_server.served(settings, **prefix) as (_reader, address),
    ):
        gql = Client(writer)
        try:
            async with websocket(address) as agent_ws, websocket(address) as user_ws:
                await signed_in(agent_ws, agent)
                await signed_in(user_ws, end_user)
                await live(agent_ws, ticket, gql, agent, "1")
                await live(user_ws, ticket, gql, end_user, "1")
                await comment(gql, agent, ticket, "Internal, from the other process.", public=False)
                await comment(gql, agent, ticket, "Public, from the other process.")
                for_agent = [await next_event(agent_ws) for _ in range(2)]
                assert [e["public"] for e in for_agent] == [False, True]
                assert await next_event(user_ws) == for_agent[1]
                await silent(user_ws)
        finally:
            await gql.http.aclose()
