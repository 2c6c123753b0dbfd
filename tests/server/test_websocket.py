"""Subscriptions over a real websocket: graphql-transport-ws against uvicorn on loopback.

Every test talks to the `live_server` with the `websockets` client, as a browser would:
the bearer token goes in the `connection_init` payload, events come from the bus.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from guichet.models.auth import Session
from guichet.resolvers.context import Context
from guichet.resolvers.people import auth
from guichet.server.app import create_app
from guichet.subscriptions.notifications import notify
from tests import services
from tests.conftest import TEST_SECRET, Person
from tests.resolvers.tickets_helpers import make_ticket

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
NOTIFICATIONS = "subscription { notifications { kind message createdAt } }"
CREATED_AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TIMEOUT = 5.0

# ---------------------------------------------------------------- helpers


@asynccontextmanager
async def websocket(
    server: str, *subprotocols: str, origin: str | None = None
) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://{server}/graphql",
        subprotocols=list(subprotocols or (TRANSPORT_WS,)),
        origin=origin,
        open_timeout=TIMEOUT,
        close_timeout=2,
        # Tests leave events unread; a bounded queue would stop reading the socket, and the
        # server's close frame would then wait behind them.
        max_queue=None,
    ) as ws:
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


async def until_closed(
    ws: ClientConnection, within: float = TIMEOUT
) -> tuple[int | None, list[dict[str, Any]]]:
    """Everything the server sent until it closed the connection, and the close code."""
    messages = []
    async with asyncio.timeout(within):
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, "the server did not close the connection"
                return closed.rcvd.code, messages
            messages.append(json.loads(raw))


def bearer(person: Person | str) -> dict[str, str]:
    token = person.token if isinstance(person, Person) else person
    return {"authorization": f"Bearer {token}"}


async def signed_in(ws: ClientConnection, person: Person) -> None:
    await send(ws, {"type": "connection_init", "payload": bearer(person)})
    ack = await receive(ws)
    assert ack["type"] == "connection_ack", ack


async def subscribe(ws: ClientConnection, operation_id: str = "1") -> None:
    await send(ws, {"id": operation_id, "type": "subscribe", "payload": {"query": NOTIFICATIONS}})


def notifier(application) -> Callable[[Person, str], Awaitable[None]]:
    """Publishes a notification to one person through the application's bus."""
    context = Context(application.state.settings, None, application.state.bus)

    async def publish(person: Person, message: str) -> None:
        await notify(context, person.row.pk, "TEST", message, CREATED_AT)

    return publish


async def receive_while_publishing(
    ws: ClientConnection,
    publish: Callable[[], Awaitable[None]],
    *,
    operation_id: str = "1",
    kind: str = "next",
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Publish every 50 ms until the subscription `operation_id` receives its first event.

    A subscription is live some time after `subscribe` is sent, and the protocol does not
    say when; publishing until something arrives avoids guessing. Everything received on
    the way is appended to `seen`.
    """

    async def keep_publishing() -> None:
        while True:
            await publish()
            await asyncio.sleep(0.05)

    publisher = asyncio.create_task(keep_publishing())
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = json.loads(await ws.recv())
                if seen is not None:
                    seen.append(message)
                assert message["type"] in (kind, "ka"), message
                if message["type"] == kind and message.get("id") == operation_id:
                    return message
    finally:
        publisher.cancel()
        # Bounded: a publisher that does not stop when cancelled fails the test, not the run.
        done, _ = await asyncio.wait({publisher}, timeout=TIMEOUT)
        assert done, "the publisher did not stop when cancelled"
        with suppress(asyncio.CancelledError):
            await publisher


def notification(message: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["notifications"]


@asynccontextmanager
async def served(settings, **changes: Any) -> AsyncIterator[tuple[Any, str]]:
    """A second app with other settings, served by uvicorn on its own port."""
    application = create_app(dataclasses.replace(settings, **changes))
    async with services.served(application) as address:
        yield application, address


# ---------------------------------------------------------------- signed in


async def test_a_signed_in_subscriber_receives_its_notifications(app, live_server, agent):
    publish = notifier(app)
    async with websocket(live_server) as ws:
        assert ws.subprotocol == TRANSPORT_WS
        await signed_in(ws, agent)
        await subscribe(ws)
        first = await receive_while_publishing(ws, lambda: publish(agent, "Ticket #1 is yours"))
        assert first["id"] == "1"
        assert notification(first) == {
            "kind": "TEST",
            "message": "Ticket #1 is yours",
            "createdAt": CREATED_AT.isoformat(),
        }
        # Now that it is live, a single publication arrives (after what is left over from
        # the publishing loop).
        await publish(agent, "published once")
        leftovers = []
        while notification(message := await receive(ws))["message"] != "published once":
            leftovers.append(notification(message)["message"])
        assert set(leftovers) <= {"Ticket #1 is yours"}
        # `complete` ends the subscription; the connection stays usable.
        await send(ws, {"id": "1", "type": "complete"})
        await send(ws, {"type": "ping"})
        while (message := await receive(ws))["type"] == "next":
            pass
        assert message == {"type": "pong"}


async def test_a_user_never_receives_another_users_notifications(app, live_server, agent, end_user):
    publish = notifier(app)
    async with websocket(live_server) as agent_ws, websocket(live_server) as user_ws:
        await signed_in(agent_ws, agent)
        await signed_in(user_ws, end_user)
        await subscribe(agent_ws)
        await subscribe(user_ws)
        agent_seen: list[dict[str, Any]] = []
        user_seen: list[dict[str, Any]] = []
        # Both subscriptions live; the end user's events are published while the agent's
        # subscription is live, and the other way round.
        await receive_while_publishing(
            agent_ws, lambda: publish(agent, "for the agent"), seen=agent_seen
        )
        await receive_while_publishing(
            user_ws, lambda: publish(end_user, "for the end user"), seen=user_seen
        )
        await receive_while_publishing(
            agent_ws, lambda: publish(agent, "for the agent"), seen=agent_seen
        )
        # A last marker each: one bus delivers in order, so anything leaked from the other
        # user would have arrived before it.
        for ws, person, seen in ((agent_ws, agent, agent_seen), (user_ws, end_user, user_seen)):
            await publish(person, "marker")
            while True:
                message = await receive(ws)
                seen.append(message)
                if notification(message)["message"] == "marker":
                    break
    assert {notification(m)["message"] for m in agent_seen} == {"for the agent", "marker"}
    assert {notification(m)["message"] for m in user_seen} == {"for the end user", "marker"}


async def test_a_second_connection_init_is_refused_with_4429(live_server, agent):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await send(ws, {"type": "connection_init", "payload": bearer(agent)})
        code, _ = await until_closed(ws)
    assert code == 4429


# ---------------------------------------------------------------- refused


async def _refused_connection(
    server: str, payload: dict[str, Any] | None, app, victim: Person
) -> tuple[int | None, list[dict[str, Any]]]:
    """connection_init with `payload`, then a subscribe sent anyway and an event published
    to `victim`: returns the close code and every message the server sent."""
    publish = notifier(app)
    async with websocket(server) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        await send(ws, init)
        with suppress(ConnectionClosed):
            await subscribe(ws)
        for _ in range(5):
            await publish(victim, "should never be seen")
            await asyncio.sleep(0.02)
        return await until_closed(ws)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="no-payload"),
        pytest.param({}, id="empty-payload"),
        pytest.param({"authorization": ""}, id="empty-authorization"),
        pytest.param({"authorization": "Bearer"}, id="bearer-without-token"),
        pytest.param({"authorization": "Bearer garbage"}, id="garbage"),
        pytest.param({"authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param({"token": "anything"}, id="wrong-key"),
    ],
)
async def test_connection_init_without_a_valid_token_is_closed_with_4403(
    app, live_server, agent, payload
):
    code, messages = await _refused_connection(live_server, payload, app, agent)
    assert code == 4403
    assert messages == []


async def test_a_raw_token_without_the_bearer_scheme_is_refused(app, live_server, agent):
    code, messages = await _refused_connection(
        live_server, {"authorization": agent.token}, app, agent
    )
    assert code == 4403
    assert messages == []


async def test_a_forged_token_is_closed_with_4403(app, live_server, agent):
    session_id, expires, signature = agent.token.split(".")
    for forged in (
        f"{session_id}.{expires}.forged",
        f"{session_id}.9999999999.{signature}",  # extended expiry, old signature
        f"{'0' * 32}.{expires}.{signature}",  # someone else's session id
    ):
        code, messages = await _refused_connection(live_server, bearer(forged), app, agent)
        assert code == 4403, forged
        assert messages == [], forged


async def test_a_token_signed_with_another_key_is_closed_with_4403(app, live_server, agent):
    session_id, expires, _ = agent.token.split(".")
    payload = f"{session_id}.{expires}"
    signed_elsewhere = f"{payload}.{auth._sign('another-secret-key-' + '0' * 32, payload)}"
    code, messages = await _refused_connection(live_server, bearer(signed_elsewhere), app, agent)
    assert code == 4403
    assert messages == []


async def test_a_revoked_token_is_closed_with_4403(app, live_server, agent):
    token, session_id = await auth.issue_token(TEST_SECRET, agent.row.pk, timedelta(days=1))
    await auth.logout(dataclasses.replace(agent.viewer, session_id=session_id))
    code, messages = await _refused_connection(live_server, bearer(token), app, agent)
    assert code == 4403
    assert messages == []
    # The agent's other session still signs in.
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)


async def test_an_expired_token_is_closed_with_4403(app, live_server, agent):
    token, session_id = await auth.issue_token(TEST_SECRET, agent.row.pk, timedelta(days=1))
    await Session.filter(id=session_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    code, messages = await _refused_connection(live_server, bearer(token), app, agent)
    assert code == 4403
    assert messages == []


async def test_subscribing_before_connection_init_is_closed_with_4401(app, live_server, agent):
    async with websocket(live_server) as ws:
        await subscribe(ws)
        code, messages = await until_closed(ws)
    assert code == 4401
    assert messages == []


async def test_no_connection_init_within_5_seconds_is_closed_with_4408(live_server):
    async with websocket(live_server) as ws:
        started = asyncio.get_running_loop().time()
        code, messages = await until_closed(ws, within=10)
        waited = asyncio.get_running_loop().time() - started
    assert code == 4408
    assert messages == []
    assert 4.5 <= waited < 8


@pytest.mark.parametrize("subprotocol", [LEGACY_WS, "graphql-whatever"])
async def test_a_subprotocol_other_than_graphql_transport_ws_is_closed_with_4406(
    live_server, settings, subprotocol
):
    assert not settings.legacy_graphql_ws
    async with websocket(live_server, subprotocol) as ws:
        assert ws.subprotocol is None
        code, messages = await until_closed(ws)
    assert code == 4406
    assert messages == []


# ---------------------------------------------------------------- the operation cap


async def test_operations_beyond_the_cap_are_refused_and_the_connection_stays(
    app, live_server, agent, settings
):
    """strawberry answers an operation over the cap with an `error` message for that id
    ("Subscription limit reached") and keeps the connection and the other operations."""
    cap = settings.max_subscriptions_per_connection
    publish = notifier(app)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        for number in range(1, cap + 1):
            await subscribe(ws, str(number))
        await subscribe(ws, "over")
        refusal = await receive(ws)
        assert refusal["type"] == "error"
        assert refusal["id"] == "over"
        assert [e["message"] for e in refusal["payload"]] == ["Subscription limit reached"]
        # The operations under the cap run: each receives.
        received: set[str] = set()
        seen: list[dict[str, Any]] = []
        for number in range(1, cap + 1):
            if str(number) not in received:
                await receive_while_publishing(
                    ws, lambda: publish(agent, "to all"), operation_id=str(number), seen=seen
                )
                received |= {m["id"] for m in seen if m["type"] == "next"}
        assert "over" not in received
        # Completing one frees a place.
        await send(ws, {"id": "1", "type": "complete"})
        await subscribe(ws, "replacement")
        await receive_while_publishing(
            ws, lambda: publish(agent, "to all"), operation_id="replacement"
        )


async def test_the_cap_follows_the_setting(app, settings, agent):
    async with (
        served(settings, max_subscriptions_per_connection=2) as (_app, address),
        websocket(address) as ws,
    ):
        await signed_in(ws, agent)
        for operation_id in ("1", "2", "3"):
            await subscribe(ws, operation_id)
        refusal = await receive(ws)
    assert refusal["type"] == "error"
    assert refusal["id"] == "3"


async def test_an_operation_takes_the_settings_in_effect_when_it_starts(
    gql, live_server, admin, end_user
):
    """A socket opened before an admin changed the support address answers with the new
    one: the settings are not those of the connection's start."""
    ticket = await make_ticket(gql, end_user)
    query = {"query": "query($n: Int!) { ticket(number: $n) { replyTo } }"}
    query["variables"] = {"n": ticket["number"]}

    async def reply_to(ws: ClientConnection, operation_id: str) -> str:
        await send(ws, {"id": operation_id, "type": "subscribe", "payload": query})
        answer, done = await receive(ws), await receive(ws)
        assert (answer["type"], done["type"]) == ("next", "complete"), (answer, done)
        return answer["payload"]["data"]["ticket"]["replyTo"]

    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        before = await reply_to(ws, "1")
        changed = await gql(
            'mutation { updateSettings(input: {supportEmail: "help@acme.test"}) { errors { code } } }',
            as_=admin,
        )
        assert changed["data"]["updateSettings"]["errors"] == []
        after = await reply_to(ws, "2")
    assert before != after == f"help+id{ticket['number']}@acme.test"


# ---------------------------------------------------------------- origins


async def test_a_page_on_another_origin_cannot_open_the_websocket(live_server):
    with pytest.raises(InvalidStatus) as refused:
        async with websocket(live_server, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_same_origin_and_non_browser_clients_may_open_it(live_server, agent):
    for origin in (f"http://{live_server}", None):
        async with websocket(live_server, origin=origin) as ws:
            await signed_in(ws, agent)


async def test_allowed_origins_match_as_browsers_send_them(app, settings, agent):
    # Configured with capitals and the default port; browsers send neither.
    async with served(settings, allowed_origins=("https://Helpdesk.Example.com:443",)) as (
        _app,
        address,
    ):
        async with websocket(address, origin="https://helpdesk.example.com") as ws:
            await signed_in(ws, agent)
        with pytest.raises(InvalidStatus) as refused:
            async with websocket(address, origin="https://other.example.com"):
                pass
        assert refused.value.response.status_code == 403


# ---------------------------------------------------------------- legacy graphql-ws


async def test_the_legacy_protocol_works_when_enabled(app, settings, agent):
    async with served(settings, legacy_graphql_ws=True) as (legacy, address):
        publish = notifier(legacy)
        async with websocket(address, LEGACY_WS) as ws:
            assert ws.subprotocol == LEGACY_WS
            await send(ws, {"type": "connection_init", "payload": bearer(agent)})
            assert (await receive(ws))["type"] == "connection_ack"
            await send(ws, {"id": "1", "type": "start", "payload": {"query": NOTIFICATIONS}})
            data = await receive_while_publishing(
                ws, lambda: publish(agent, "hello, old client"), kind="data"
            )
            assert notification(data) == {
                "kind": "TEST",
                "message": "hello, old client",
                "createdAt": CREATED_AT.isoformat(),
            }
            await send(ws, {"id": "1", "type": "stop"})
        # graphql-transport-ws still works on that app.
        async with websocket(address) as ws:
            assert ws.subprotocol == TRANSPORT_WS
            await signed_in(ws, agent)


async def test_the_legacy_protocol_refuses_a_bad_token(app, settings, agent):
    async with (
        served(settings, legacy_graphql_ws=True) as (_legacy, address),
        websocket(address, LEGACY_WS) as ws,
    ):
        await send(ws, {"type": "connection_init", "payload": bearer("garbage")})
        await send(ws, {"id": "1", "type": "start", "payload": {"query": NOTIFICATIONS}})
        code, messages = await until_closed(ws)
    assert [m["type"] for m in messages] == ["connection_error"]
    assert code == 1011
