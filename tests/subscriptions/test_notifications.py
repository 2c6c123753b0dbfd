"""The notifications subscription over a real websocket: live, resumed with `after:` (a
notification's id or cursor), replayed after a pub/sub outage, and only ever the viewer's.

A subscription without `after:` replays nothing: it is known to be live once this
process's bus has a subscriber on the viewer's topic. With `after:`, receiving the replay
says so.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from websockets.asyncio.client import ClientConnection

from guichet.resolvers import ids, topics
from guichet.resolvers.context import Context
from guichet.subscriptions.notifications import notify
from tests.conftest import Client, Person
from tests.subscriptions.test_ticket_history import (
    TIMEOUT,
    bus_subscribers,
    codes,
    open_ticket,
    operation_errors,
    receive,
    send,
    signed_in,
    silent,
    websocket,
)

SUBSCRIPTION = """
subscription($after: String) {
  notifications(after: $after) { id kind message readAt ticket { number } }
}
"""
LIST = """
query { notifications(first: 100) { edges { cursor node { id kind ticket { number } } } } }
"""


async def subscribe(
    app, ws: ClientConnection, person: Person, after: str | None = None, operation_id="n"
) -> None:
    """Subscribe `person` (signed in on `ws`); without `after`, return once live."""
    topic = topics.user_notifications(person.row.pk)
    before = bus_subscribers(app, topic)
    payload = {"query": SUBSCRIPTION, "variables": {"after": after}}
    await send(ws, {"id": operation_id, "type": "subscribe", "payload": payload})
    if after is None:
        async with asyncio.timeout(TIMEOUT):
            while bus_subscribers(app, topic) <= before:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)


async def next_notification(ws: ClientConnection, operation_id: str = "n") -> dict[str, Any]:
    message = await receive(ws)
    assert message["type"] == "next", message
    assert message["id"] == operation_id, message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["notifications"]


async def assigned(gql: Client, admin: Person, agent: Person, requester: Person, n: int) -> int:
    """`admin` opens a ticket assigned to `agent` (who is told); returns its number."""
    ticket = await open_ticket(gql, admin, requester, subject=f"Printer {n}", assigneeId=agent.id)
    return ticket["number"]


async def listed(gql: Client, person: Person) -> list[dict[str, Any]]:
    """The person's bell menu, newest first, each node with its cursor."""
    response = await gql(LIST, as_=person)
    assert "errors" not in response, response
    return [e["node"] | {"cursor": e["cursor"]} for e in response["data"]["notifications"]["edges"]]


def publisher(app) -> Context:
    return Context(app.state.settings, None, app.state.bus)


# ---------------------------------------------------------------- resuming


async def test_a_reconnecting_widget_replays_missed_notifications(
    app, gql, live_server, agent, admin, end_user
):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(app, ws, agent)
        first = await assigned(gql, admin, agent, end_user, 1)
        seen = await next_notification(ws)
        assert (seen["kind"], seen["ticket"], seen["readAt"]) == (
            "TICKET_ASSIGNED",
            {"number": first},
            None,
        )

    # The widget is gone (a laptop asleep) while two more tickets are assigned.
    missed = [await assigned(gql, admin, agent, end_user, n) for n in (2, 3)]

    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(app, ws, agent, after=seen["id"])
        replayed = [await next_notification(ws) for _ in missed]
        assert [n["ticket"]["number"] for n in replayed] == missed
        # Then live, nothing twice.
        later = await assigned(gql, admin, agent, end_user, 4)
        live = await next_notification(ws)
        assert live["ticket"] == {"number": later}
        await silent(ws)
    # The widget now holds the whole bell menu.
    menu = await listed(gql, agent)
    assert [n["id"] for n in menu] == [n["id"] for n in (live, *replayed[::-1], seen)]


async def test_a_widget_resumes_from_a_cursor_of_the_bell_menu(
    app, gql, live_server, agent, admin, end_user
):
    numbers = [await assigned(gql, admin, agent, end_user, n) for n in range(4)]
    oldest = (await listed(gql, agent))[-1]
    assert oldest["ticket"] == {"number": numbers[0]}
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(app, ws, agent, after=oldest["cursor"])
        replayed = [(await next_notification(ws))["ticket"]["number"] for _ in numbers[1:]]
        assert replayed == numbers[1:]
        await silent(ws)


async def test_replay_while_notifications_keep_coming_loses_nothing_and_repeats_nothing(
    app, gql, live_server, agent
):
    """Notifications go on while the subscription starts: whatever the moment it goes
    live, each arrives once, in order."""
    context = publisher(app)
    first = await notify(context, agent.row.pk, "FIRST", "before the widget")
    written = 12

    async def keep_notifying() -> None:
        for n in range(written):
            await notify(context, agent.row.pk, f"STEP_{n}", f"step {n}")
            await asyncio.sleep(0.01)

    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        writer = asyncio.create_task(keep_notifying())
        try:
            await asyncio.sleep(0.01 * (written // 3))  # some before the subscription
            await subscribe(app, ws, agent, after=ids.encode("Notification", first))
            await writer
        finally:
            writer.cancel()
            with suppress(asyncio.CancelledError):
                await writer
        received = [(await next_notification(ws))["kind"] for _ in range(written)]
        await silent(ws)
    assert received == [f"STEP_{n}" for n in range(written)]


async def test_a_subscriber_replays_what_the_bus_lost_when_it_resumes(
    app, gql, live_server, agent, admin, end_user, outage
):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(app, ws, agent)
        first = await assigned(gql, admin, agent, end_user, 1)
        assert (await next_notification(ws))["ticket"] == {"number": first}

        # Redis is away: the rows are written, their ids never reach the subscriber.
        with outage.lost():
            lost = [await assigned(gql, admin, agent, end_user, n) for n in (2, 3)]
        assert outage.dropped >= 2
        await silent(ws)

        outage.resume()
        assert [(await next_notification(ws))["ticket"]["number"] for _ in lost] == lost
        # Live again, and a second RESUMED with nothing missed sends nothing twice.
        later = await assigned(gql, admin, agent, end_user, 4)
        assert (await next_notification(ws))["ticket"] == {"number": later}
        outage.resume()
        await silent(ws)


# ---------------------------------------------------------------- whose


async def test_users_never_see_each_others_notifications(
    app, gql, live_server, agent, owner, admin, end_user
):
    context = publisher(app)
    olivias = await notify(context, owner.row.pk, "FOR_OLIVIA", "Olivia's")
    async with websocket(live_server) as agnes_ws, websocket(live_server) as olivia_ws:
        await signed_in(agnes_ws, agent)
        await signed_in(olivia_ws, owner)
        # Agnès resumes after Olivia's notification: she replays her own only.
        mine = await notify(context, agent.row.pk, "FOR_AGNES", "Agnès's")
        await subscribe(app, agnes_ws, agent, after=ids.encode("Notification", olivias))
        assert (await next_notification(agnes_ws))["id"] == ids.encode("Notification", mine)
        await subscribe(app, olivia_ws, owner)

        # A message naming Olivia's notification on Agnès's topic is not delivered to her.
        for pk in (olivias, 999_999, -1, "x"):
            await app.state.bus.publish(
                topics.user_notifications(agent.row.pk), {"notification": pk}
            )
        number = await assigned(gql, admin, owner, end_user, 1)
        assert (await next_notification(olivia_ws))["ticket"] == {"number": number}
        number = await assigned(gql, admin, agent, end_user, 2)
        assert (await next_notification(agnes_ws))["ticket"] == {"number": number}
        await silent(agnes_ws)
        await silent(olivia_ws, 0)


async def test_after_must_be_a_notification_id_or_cursor(gql, live_server, agent, end_user):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        for n, after in enumerate(["garbage", "", agent.id, ids.encode("Notification", "x")]):
            payload = {"query": SUBSCRIPTION, "variables": {"after": after}}
            await send(ws, {"id": str(n), "type": "subscribe", "payload": payload})
            assert codes(await operation_errors(ws, str(n))) == ["BAD_USER_INPUT"], after
        await silent(ws)
