"""An ended session reaches the websockets already open with it.

Real websocket clients against uvicorn on loopback (the `live_server` fixture), sessions
ended through the API (logout, changePassword) or behind its back (a row revoked in the
database while the bus message is lost, a token that expires).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from guichet.models.auth import Session
from guichet.resolvers.context import Context
from guichet.resolvers.people import auth
from guichet.server.auth import viewer_for
from tests.conftest import PASSWORD, TEST_SECRET, Person, error_codes
from tests.server.test_websocket import receive, send, signed_in, until_closed, websocket

ME_LIVE = "subscription { notifications { kind message } }"
LOGOUT = "mutation { logout { errors { code } } }"
CHANGE_PASSWORD = """
mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { token errors { code } }
}
"""
# Well within the 5 seconds the issue allows: the bus brings it at once, the poll within 2 s.
WITHIN = 5.0


async def _listening(ws, person: Person) -> None:
    await signed_in(ws, person)
    await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": ME_LIVE}})
    # A ping answered means the subscribe message was taken in before it.
    await send(ws, {"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


async def _another_session(person: Person, ttl: timedelta = timedelta(days=1)) -> Person:
    token, _ = await auth.issue_token(TEST_SECRET, person.row.pk, ttl)
    return Person(person.row, token)


async def test_logout_closes_the_sessions_websocket_with_4401(gql, live_server, agent):
    async with websocket(live_server) as ws:
        await _listening(ws, agent)
        assert (await gql(LOGOUT, as_=agent))["data"]["logout"]["errors"] == []
        code, messages = await until_closed(ws, within=WITHIN)
    assert code == 4401
    assert messages == []


async def test_logout_leaves_the_users_other_sessions_and_other_users_open(
    gql, live_server, agent, end_user
):
    phone = await _another_session(agent)
    async with (
        websocket(live_server) as laptop_ws,
        websocket(live_server) as phone_ws,
        websocket(live_server) as customer_ws,
    ):
        for ws, person in ((laptop_ws, agent), (phone_ws, phone), (customer_ws, end_user)):
            await _listening(ws, person)
        await gql(LOGOUT, as_=agent)
        code, _ = await until_closed(laptop_ws, within=WITHIN)
        assert code == 4401
        for ws in (phone_ws, customer_ws):
            await send(ws, {"type": "ping"})
            assert (await receive(ws))["type"] == "pong"


async def test_a_password_change_closes_every_websocket_of_the_user(gql, live_server, agent):
    phone = await _another_session(agent)
    async with websocket(live_server) as laptop_ws, websocket(live_server) as phone_ws:
        await _listening(laptop_ws, agent)
        await _listening(phone_ws, phone)
        changed = await gql(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}},
            as_=agent,
        )
        assert changed["data"]["changePassword"]["errors"] == []
        for ws in (laptop_ws, phone_ws):
            code, messages = await until_closed(ws, within=WITHIN)
            assert (code, messages) == (4401, [])
    # The new token works, on a new socket.
    renewed = Person(agent.row, changed["data"]["changePassword"]["token"])
    async with websocket(live_server) as ws:
        await _listening(ws, renewed)


async def test_a_session_revoked_without_a_message_is_found_in_the_database(
    app, live_server, agent
):
    """The bus message may be lost (Redis away): each process also polls the database."""
    async with websocket(live_server) as ws:
        await _listening(ws, agent)
        session_id = agent.token.split(".")[0]
        await Session.filter(id=session_id).update(revoked_at=datetime.now(UTC))
        code, _ = await until_closed(ws, within=WITHIN)
    assert code == 4401


async def test_a_token_that_expires_while_its_socket_is_open_closes_it(live_server, agent):
    short = await _another_session(agent, ttl=timedelta(seconds=2))
    async with websocket(live_server) as ws:
        await _listening(ws, short)
        code, _ = await until_closed(ws, within=WITHIN + 2)
    assert code == 4401


async def test_an_operation_on_an_ended_connection_is_unauthenticated(app, agent):
    """Between the end of the session and the close of the socket, nothing runs as the
    viewer: the connection's context no longer has one."""
    context = Context(app.state.settings, None, app.state.bus)
    context.viewer = await viewer_for(app.state, f"Bearer {agent.token}")
    live_sessions = app.state.live_sessions
    live_sessions.register(context)
    assert await live_sessions.end(session_ids=[context.viewer.session_id]) == 1
    result = await app.state.schema.execute("{ me { id } }", context_value=context)
    assert error_codes({"errors": [e.formatted for e in result.errors]}) == ["UNAUTHENTICATED"]
    assert live_sessions.open_connections == 0


async def test_a_closed_socket_is_forgotten(app, live_server, agent):
    async with websocket(live_server) as ws:
        await _listening(ws, agent)
        assert app.state.live_sessions.open_connections == 1
    async with asyncio.timeout(WITHIN):
        while app.state.live_sessions.open_connections:  # noqa: ASYNC110 - a plain count
            await asyncio.sleep(0.02)


async def test_a_new_subscription_on_a_revoked_socket_never_runs(gql, live_server, agent):
    async with websocket(live_server) as ws:
        await _listening(ws, agent)
        await gql(LOGOUT, as_=agent)
        await send(ws, {"id": "2", "type": "subscribe", "payload": {"query": ME_LIVE}})
        code, messages = await until_closed(ws, within=WITHIN)
        assert code == 4401
        assert [m for m in messages if m.get("type") == "next"] == []
