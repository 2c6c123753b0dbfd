"""Whole stories, tried as a new user would, over HTTP and a real websocket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from guichet.models.outbox import OutboxMessage, OutboxStatus
from guichet.resolvers.context import Context
from guichet.server.worker import Worker
from guichet.subscriptions.notifications import notify
from tests.subscriptions.test_ticket_history import receive, send, signed_in, websocket

NOTIFICATIONS = "subscription { notifications { kind message activity { subject } } }"


async def _wait_live(ws, app, person) -> None:
    """Publish a marker until it arrives: then the subscription is live."""
    context = Context(app.state.settings, None, app.state.bus)
    async with asyncio.timeout(5):
        while True:
            await notify(context, person.row.pk, "READY", "ready", datetime.now(UTC))
            try:
                async with asyncio.timeout(0.1):
                    message = await receive(ws)
            except TimeoutError:
                continue
            assert message["payload"]["data"]["notifications"]["kind"] == "READY"
            return


async def _drain_markers(ws) -> dict:
    while True:
        message = await receive(ws)
        if message["payload"]["data"]["notifications"]["kind"] != "READY":
            return message


async def test_a_call_reminded_logged_solved_resolved_found_and_rated(
    gql, app, live_server, agent, end_user
):
    opened = await gql(
        """mutation($r: ID!, $a: ID!) { createTicket(input: {subject: "Printer jams",
           description: "The printer on floor 2 jams", requesterId: $r, assigneeId: $a}) {
           ticket { id } errors { code } } }""",
        {"r": end_user.id, "a": agent.id},
        as_=agent,
    )
    ticket_id = opened["data"]["createTicket"]["ticket"]["id"]
    worker = Worker(app.state.settings, app.state.bus, interval_seconds=0.2)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": NOTIFICATIONS}})
        await _wait_live(ws, app, agent)
        # An agent schedules a call with a POPUP + EMAIL reminder two seconds ahead...
        remind_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        added = await gql(
            """mutation($t: ID!, $at: DateTime!) { addActivity(input: {ticketId: $t, kind: CALL,
               subject: "Call Alice", remindAt: $at, reminderChannels: [POPUP, EMAIL]}) {
               activity { id } errors { code } } }""",
            {"t": ticket_id, "at": remind_at},
            as_=agent,
        )
        assert added["data"]["addActivity"]["errors"] == []
        worker.start()
        try:
            # ...and receives the popup within 5 seconds of its time, once.
            async with asyncio.timeout(7):
                popup = await _drain_markers(ws)
            assert popup["payload"]["data"]["notifications"]["kind"] == "ACTIVITY_REMINDER"
            assert popup["payload"]["data"]["notifications"]["activity"] == {
                "subject": "Call Alice"
            }
            await asyncio.sleep(1.5)  # a few more worker rounds
        finally:
            await worker.stop()
    mails = await OutboxMessage.filter(recipient=agent.email, subject__contains="Call Alice")
    assert len(mails) == 1
    assert mails[0].status is OutboxStatus.LOGGED  # no SMTP configured: kept and logged

    # Logs time, solves, writes a resolution published to the help center.
    logged = await gql(
        "mutation($t: ID!) { logTime(input: {ticketId: $t, minutes: 25, billable: true}) { errors { code } } }",
        {"t": ticket_id},
        as_=agent,
    )
    assert logged["data"]["logTime"]["errors"] == []
    solved = await gql(
        "mutation($t: ID!) { updateTicket(input: {id: $t, status: SOLVED}) { ticket { status } errors { code } } }",
        {"t": ticket_id},
        as_=agent,
    )
    assert solved["data"]["updateTicket"]["ticket"]["status"] == "SOLVED"
    resolved = await gql(
        """mutation($t: ID!) { setResolution(input: {ticketId: $t, publishAsArticle: true,
           articleTitle: "Printer jams on floor 2", body: "Replace the worn drum unit."}) {
           resolution { article { title } } errors { code } } }""",
        {"t": ticket_id},
        as_=agent,
    )
    assert resolved["data"]["setResolution"]["errors"] == []

    # A customer finds it while typing a subject, then rates the ticket.
    found = await gql('{ suggestArticles(query: "printer jams") { title } }', as_=end_user)
    assert found["data"]["suggestArticles"] == [{"title": "Printer jams on floor 2"}]
    rated = await gql(
        """mutation($t: ID!) { rateSatisfaction(input: {ticketId: $t, score: GOOD, comment: "Thanks!"}) {
           satisfaction { score } errors { code } } }""",
        {"t": ticket_id},
        as_=end_user,
    )
    assert rated["data"]["rateSatisfaction"]["satisfaction"] == {"score": "GOOD"}
