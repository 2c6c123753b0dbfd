"""approvalRequestAssigned and the approval notifications over a real websocket
(graphql-transport-ws, uvicorn), and the whole story of an approval, e-mail included.

approvalRequestAssigned replays nothing, so a subscription is known to be live when this
process's bus has a subscriber on the viewer's topic (broadcaster's count; with Redis,
the backend has confirmed the SUBSCRIBE by then). "Receives nothing" is proven by the
next message being the one expected, or by a quiet wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from guichet.models.outbox import OutboxMessage, OutboxStatus
from guichet.resolvers import ids, topics
from guichet.server.worker import Worker
from tests.conftest import Client, Person
from tests.server.smtp import Mailbox, smtp_server
from tests.subscriptions.test_ticket_history import (
    TIMEOUT,
    Notifications,
    bus_subscribers,
    codes,
    history_of,
    live_history,
    mutate,
    next_event,
    open_ticket,
    operation_errors,
    receive,
    send,
    signed_in,
    silent,
    websocket,
)

ASSIGNED = """
subscription($after: String) {
  approvalRequestAssigned(after: $after) {
    id subject message status
    ticket { number }
    createdBy { id }
    approvers { id }
    comments { author { id } body }
    decidedBy { id }
  }
}
"""
APPROVAL_NOTIFICATIONS = """
subscription {
  notifications { kind message ticket { number } approvalRequest { id status } }
}
"""
REQUEST_APPROVAL = """
mutation($input: RequestApprovalInput!) {
  requestApproval(input: $input) { approvalRequest { id } errors { code message } }
}
"""
RESPOND = """
mutation($input: RespondToApprovalInput!) {
  respondToApproval(input: $input) { approvalRequest { id status } errors { code message } }
}
"""
WITHDRAW = """
mutation($id: ID!) {
  withdrawApproval(id: $id) { approvalRequest { id status } errors { code message } }
}
"""
UPDATE_TICKET = """
mutation($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { status } errors { code field message } }
}
"""

SUBJECT = "Refund 120 € to Acme"
MESSAGE = "The printer was delivered broken. May I refund the customer?"


# ---------------------------------------------------------------- the API


async def request_approval(
    gql: Client, agent: Person, ticket: dict, approvers: list[Person], subject: str = SUBJECT
) -> str:
    payload = await mutate(
        gql,
        REQUEST_APPROVAL,
        "requestApproval",
        agent,
        {
            "ticketId": ticket["id"],
            "approverIds": [a.id for a in approvers],
            "subject": subject,
            "message": MESSAGE,
        },
    )
    return payload["approvalRequest"]["id"]


async def respond(
    gql: Client, person: Person, approval_id: str, decision: str | None = None, comment=None
) -> dict:
    given: dict[str, Any] = {"id": approval_id}
    if decision:
        given["decision"] = decision
    if comment:
        given["comment"] = comment
    payload = await mutate(gql, RESPOND, "respondToApproval", person, given)
    return payload["approvalRequest"]


async def withdraw(gql: Client, person: Person, approval_id: str) -> None:
    response = await gql(WITHDRAW, {"id": approval_id}, as_=person)
    assert "errors" not in response, response
    assert response["data"]["withdrawApproval"]["errors"] == []


# ---------------------------------------------------------------- the websocket


async def subscribe_assigned(
    app, ws: ClientConnection, person: Person, operation_id="a", after: str | None = None
) -> None:
    """Subscribe `person` (signed in on `ws`) to approvalRequestAssigned; without `after`,
    return once live (with `after`, the replay says so)."""
    topic = topics.approval_requests(person.row.pk)
    before = bus_subscribers(app, topic)
    payload = {"query": ASSIGNED, "variables": {"after": after}}
    await send(ws, {"id": operation_id, "type": "subscribe", "payload": payload})
    if after is not None:
        return
    async with asyncio.timeout(TIMEOUT):
        while bus_subscribers(app, topic) <= before:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.01)


async def next_assigned(ws: ClientConnection, operation_id: str = "a") -> dict[str, Any]:
    message = await receive(ws)
    assert message["type"] == "next", message
    assert message["id"] == operation_id, message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["approvalRequestAssigned"]


class ApprovalNotifications(Notifications):
    """The viewer's notifications, approval requests included."""

    async def start(self) -> None:
        await send(
            self.ws, {"id": "n", "type": "subscribe", "payload": {"query": APPROVAL_NOTIFICATIONS}}
        )

        async def keep_publishing() -> None:
            while True:
                await self.publish("READY")
                await asyncio.sleep(0.05)

        publisher = asyncio.create_task(keep_publishing())
        try:
            assert (await self.next())["kind"] == "READY"
        finally:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    async def marked(self) -> None:
        """Nothing but READY came before a marker published now."""
        await self.publish("MARKER")
        assert (await self.next_but_ready())["kind"] == "MARKER"


def approval_pk(approval_id: str) -> int:
    pk = ids.decode_as(approval_id, "ApprovalRequest")
    assert pk is not None
    return pk


@pytest.fixture
async def ticket(gql: Client, agent: Person, end_user: Person) -> dict:
    """Alice's request, assigned to Agnès."""
    return await open_ticket(gql, agent, end_user, assigneeId=agent.id)


# ---------------------------------------------------------------- approvalRequestAssigned


async def test_only_approvers_receive_a_request_assigned_to_them(
    app, gql, live_server, agent, admin, light_agent, end_user, colleague, ticket
):
    async with (
        websocket(live_server) as alice_ws,
        websocket(live_server) as louise_ws,
        websocket(live_server) as agnes_ws,
        websocket(live_server) as adam_ws,
        websocket(live_server) as bob_ws,
    ):
        sockets = {
            "alice": (alice_ws, end_user),
            "louise": (louise_ws, light_agent),
            "agnes": (agnes_ws, agent),
            "adam": (adam_ws, admin),
            "bob": (bob_ws, colleague),
        }
        for ws, person in sockets.values():
            await signed_in(ws, person)
            await subscribe_assigned(app, ws, person)

        approval_id = await request_approval(gql, agent, ticket, [end_user, light_agent])
        expected = {
            "id": approval_id,
            "subject": SUBJECT,
            "message": MESSAGE,
            "status": "PENDING",
            "ticket": {"number": ticket["number"]},
            "createdBy": {"id": agent.id},
            "approvers": [{"id": end_user.id}, {"id": light_agent.id}],
            "comments": [],
            "decidedBy": None,
        }
        assert await next_assigned(alice_ws) == expected
        assert await next_assigned(louise_ws) == expected

        # A second request, to Louise only: Alice's next message is the third request's.
        second = await request_approval(gql, agent, ticket, [light_agent], subject="Second")
        third = await request_approval(gql, admin, ticket, [end_user], subject="Third")
        assert (await next_assigned(louise_ws))["id"] == second
        assert (await next_assigned(alice_ws))["id"] == third

        # The asker, an admin asking, an Acme colleague who sees the ticket: nothing.
        for name in ("agnes", "adam", "bob", "alice", "louise"):
            await silent(sockets[name][0], 0.2)


async def test_approvers_receive_each_change_of_their_request(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    async with (
        websocket(live_server) as alice_ws,
        websocket(live_server) as louise_ws,
        websocket(live_server) as agnes_ws,
    ):
        for ws, person in ((alice_ws, end_user), (louise_ws, light_agent), (agnes_ws, agent)):
            await signed_in(ws, person)
            await subscribe_assigned(app, ws, person)
        approval_id = await request_approval(gql, agent, ticket, [end_user, light_agent])
        for ws in (alice_ws, louise_ws):
            assert (await next_assigned(ws))["status"] == "PENDING"

        # Louise asks a question: both approvers see it.
        await respond(gql, light_agent, approval_id, comment="Which invoice?")
        for ws in (alice_ws, louise_ws):
            changed = await next_assigned(ws)
            assert (changed["id"], changed["status"]) == (approval_id, "PENDING")
            assert changed["comments"] == [
                {"author": {"id": light_agent.id}, "body": "Which invoice?"}
            ]

        # Alice decides: both see the decision.
        await respond(gql, end_user, approval_id, "APPROVE")
        for ws in (alice_ws, louise_ws):
            decided = await next_assigned(ws)
            assert (decided["status"], decided["decidedBy"]) == ("APPROVED", {"id": end_user.id})

        # A withdrawn request too.
        other = await request_approval(gql, agent, ticket, [end_user], subject="Another")
        assert (await next_assigned(alice_ws))["id"] == other
        await withdraw(gql, agent, other)
        assert (await next_assigned(alice_ws))["status"] == "WITHDRAWN"

        # A refused answer changes nothing and tells nobody.
        response = await gql(
            RESPOND, {"input": {"id": approval_id, "decision": "DENY"}}, as_=end_user
        )
        assert response["data"]["respondToApproval"]["errors"][0]["code"] == "ALREADY_DECIDED"

        await silent(agnes_ws)
        await silent(alice_ws, 0)
        await silent(louise_ws, 0)


async def test_a_subscriber_receives_only_requests_they_are_an_approver_of(
    app, gql, live_server, agent, end_user, colleague, ticket
):
    """Even a message on their own topic about someone else's request is not delivered."""
    theirs = await request_approval(gql, agent, ticket, [end_user])
    mine = await request_approval(gql, agent, ticket, [colleague])
    async with websocket(live_server) as ws:
        await signed_in(ws, colleague)
        await subscribe_assigned(app, ws, colleague)
        topic = topics.approval_requests(colleague.row.pk)
        for pk in (approval_pk(theirs), 999_999, approval_pk(mine)):
            await app.state.bus.publish(topic, {"approvalRequest": pk})
        assert (await next_assigned(ws))["id"] == mine
        await silent(ws)


async def test_a_reconnecting_approver_replays_requests_assigned_and_changed_meanwhile(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        await subscribe_assigned(app, ws, end_user)
        first = await request_approval(gql, agent, ticket, [end_user, light_agent])
        assert (await next_assigned(ws))["id"] == first

    # Alice is away: Louise asks a question on the first request, a second one is
    # assigned to Alice, a third to Louise only.
    await respond(gql, light_agent, first, comment="Which invoice?")
    second = await request_approval(gql, agent, ticket, [end_user], subject="Second")
    await request_approval(gql, agent, ticket, [light_agent], subject="Not Alice's")

    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        await subscribe_assigned(app, ws, end_user, after=first)
        # In the order of their changes, each as it is now.
        changed, new = await next_assigned(ws), await next_assigned(ws)
        assert (changed["id"], changed["status"]) == (first, "PENDING")
        assert changed["comments"] == [{"author": {"id": light_agent.id}, "body": "Which invoice?"}]
        assert (new["id"], new["subject"], new["status"]) == (second, "Second", "PENDING")
        # Then live, nothing twice.
        await respond(gql, end_user, second, "APPROVE")
        decided = await next_assigned(ws)
        assert (decided["id"], decided["status"]) == (second, "APPROVED")
        await silent(ws)


async def test_an_approver_resumes_after_a_history_event(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    """`after` may be a history event's cursor: only what changed after that event."""
    first = await request_approval(gql, agent, ticket, [end_user])
    second = await request_approval(gql, agent, ticket, [end_user], subject="Second")
    history = await history_of(gql, ticket, agent)
    asked = [e for e in history if e["kind"] == "APPROVAL_REQUESTED"]
    await respond(gql, end_user, first, comment="Is it the full amount?")
    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        await subscribe_assigned(app, ws, end_user, after=asked[-1]["cursor"])
        assert (await next_assigned(ws))["id"] == first
        await silent(ws)
        await subscribe_assigned(app, ws, end_user, "b", after=asked[0]["id"])
        assert [(await next_assigned(ws, "b"))["id"] for _ in range(2)] == [second, first]
        await silent(ws)


async def test_a_resumed_approver_receives_the_changes_the_bus_lost(
    app, gql, live_server, agent, light_agent, end_user, ticket, outage
):
    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        await subscribe_assigned(app, ws, end_user)
        first = await request_approval(gql, agent, ticket, [end_user, light_agent])
        assert (await next_assigned(ws))["id"] == first  # the stream is running

        with outage.lost():
            await respond(gql, light_agent, first, "DENY", "Not under warranty.")
            second = await request_approval(gql, agent, ticket, [end_user], subject="Second")
        await silent(ws)

        outage.resume()
        denied, new = await next_assigned(ws), await next_assigned(ws)
        assert (denied["id"], denied["status"]) == (first, "DENIED")
        assert (new["id"], new["status"]) == (second, "PENDING")
        outage.resume()
        await silent(ws)


async def test_after_names_a_request_of_the_viewers_or_a_history_event(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    not_hers = await request_approval(gql, agent, ticket, [light_agent])
    async with websocket(live_server) as ws:
        await signed_in(ws, end_user)
        for n, after in enumerate(["garbage", "", ticket["id"], not_hers]):
            payload = {"query": ASSIGNED, "variables": {"after": after}}
            await send(ws, {"id": str(n), "type": "subscribe", "payload": payload})
            assert codes(await operation_errors(ws, str(n))) == ["BAD_USER_INPUT"], after
        await silent(ws)


# ---------------------------------------------------------------- notifications


async def test_approvers_are_notified_of_a_request(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    async with websocket(live_server) as alice_ws, websocket(live_server) as agnes_ws:
        await signed_in(alice_ws, end_user)
        await signed_in(agnes_ws, agent)
        alice = ApprovalNotifications(app, alice_ws, end_user)
        agnes = ApprovalNotifications(app, agnes_ws, agent)
        await alice.start()
        await agnes.start()

        approval_id = await request_approval(gql, agent, ticket, [end_user, light_agent])
        notification = await alice.next_but_ready()
        assert notification == {
            "kind": "APPROVAL_REQUESTED",
            "message": notification["message"],
            "ticket": {"number": ticket["number"]},
            "approvalRequest": {"id": approval_id, "status": "PENDING"},
        }
        assert SUBJECT in notification["message"]
        assert f"#{ticket['number']}" in notification["message"]
        # The asking agent is not notified of their own request.
        await agnes.marked()


async def test_the_asking_agent_is_notified_of_each_comment_and_decision(
    app, gql, live_server, agent, light_agent, end_user, ticket
):
    async with websocket(live_server) as agnes_ws, websocket(live_server) as alice_ws:
        await signed_in(agnes_ws, agent)
        await signed_in(alice_ws, end_user)
        agnes = ApprovalNotifications(app, agnes_ws, agent)
        alice = ApprovalNotifications(app, alice_ws, end_user)
        await agnes.start()
        await alice.start()
        approval_id = await request_approval(gql, agent, ticket, [end_user, light_agent])
        assert (await alice.next_but_ready())["kind"] == "APPROVAL_REQUESTED"

        await respond(gql, end_user, approval_id, comment="Is it the full amount?")
        commented = await agnes.next_but_ready()
        assert commented["kind"] == "APPROVAL_COMMENTED"
        assert commented["approvalRequest"] == {"id": approval_id, "status": "PENDING"}
        assert commented["ticket"] == {"number": ticket["number"]}
        assert end_user.row.name in commented["message"]

        await respond(gql, light_agent, approval_id, "DENY", "Not under warranty.")
        decided = await agnes.next_but_ready()
        assert decided["kind"] == "APPROVAL_DECIDED"
        assert decided["approvalRequest"] == {"id": approval_id, "status": "DENIED"}
        assert "denied" in decided["message"]
        assert light_agent.row.name in decided["message"]

        # One notification per response; approvers are not notified of each other's.
        await agnes.marked()
        await alice.marked()


async def test_an_end_user_approver_follows_the_ticket_history_of_their_request_only(
    app, gql, live_server, agent, light_agent, other_customer, ticket
):
    """Carol (Globex) reads Alice's ticket only because she decides a request on it."""
    mine = await request_approval(gql, agent, ticket, [other_customer])
    await mutate(
        gql,
        "mutation($input: AddCommentInput!) { addComment(input: $input) { errors { code } } }",
        "addComment",
        agent,
        {"ticketId": ticket["id"], "body": "We'll refund you."},
    )
    async with websocket(live_server) as ws:
        await signed_in(ws, other_customer)
        replayed = await live_history(ws, gql, other_customer, ticket)
        assert "APPROVAL_REQUESTED" in [e["kind"] for e in replayed]

        theirs = await request_approval(gql, agent, ticket, [light_agent], subject="Not Carol's")
        await respond(gql, light_agent, theirs, "APPROVE")
        await respond(gql, other_customer, mine, "APPROVE", "Go ahead.")
        received = [await next_event(ws) for _ in range(2)]
        assert [(e["kind"], e["public"]) for e in received] == [
            ("APPROVAL_COMMENTED", False),
            ("APPROVAL_APPROVED", False),
        ]
        await silent(ws)


# ---------------------------------------------------------------- the whole story


async def test_an_end_user_approves_a_refund_and_the_agent_solves_the_ticket(
    app, gql, live_server, settings, agent, end_user, ticket
):
    """Agnès asks Alice to approve a refund. Alice, subscribed, sees it arrive and gets
    the e-mail after a worker round; she asks a question, then approves. Agnès, blocked
    from solving until then, solves."""
    mailbox = Mailbox()
    with smtp_server(mailbox) as smtp_url:
        worker = Worker(replace(settings, smtp_url=smtp_url), app.state.bus)
        async with websocket(live_server) as alice_ws, websocket(live_server) as agnes_ws:
            await signed_in(alice_ws, end_user)
            await signed_in(agnes_ws, agent)
            await subscribe_assigned(app, alice_ws, end_user)
            agnes = ApprovalNotifications(app, agnes_ws, agent)
            await agnes.start()

            # Agnès asks.
            approval_id = await request_approval(gql, agent, ticket, [end_user])
            arrived = await next_assigned(alice_ws)
            assert (arrived["id"], arrived["subject"], arrived["status"]) == (
                approval_id,
                SUBJECT,
                "PENDING",
            )
            assert arrived["ticket"] == {"number": ticket["number"]}

            # The e-mail reaches Alice's mail server after a worker round.
            assert mailbox.messages == []
            await worker.run_once()
            # With the receipt of her request, queued when it was opened (issue 13).
            receipt, mail = await mailbox.wait_for(2)
            assert receipt["Subject"].startswith(f"[#{ticket['number']}] Request received")
            assert mail["To"] == end_user.email
            body = mail.get_content()
            assert SUBJECT in mail["Subject"] and f"#{ticket['number']}" in mail["Subject"]
            for part in (f"#{ticket['number']}", SUBJECT, MESSAGE, f"/approvals/{approval_id}"):
                assert part in body

            # Agnès may not solve yet.
            solve = {"id": ticket["id"], "status": "SOLVED"}
            blocked = await gql(UPDATE_TICKET, {"input": solve}, as_=agent)
            assert blocked["data"]["updateTicket"]["errors"][0]["code"] == "APPROVAL_PENDING"

            # Alice asks a question; Agnès is told at once, and by e-mail.
            await respond(gql, end_user, approval_id, comment="Is it the full 120 €?")
            assert (await next_assigned(alice_ws))["comments"] == [
                {"author": {"id": end_user.id}, "body": "Is it the full 120 €?"}
            ]
            assert (await agnes.next_but_ready())["kind"] == "APPROVAL_COMMENTED"
            blocked = await gql(UPDATE_TICKET, {"input": solve}, as_=agent)
            assert blocked["data"]["updateTicket"]["errors"][0]["code"] == "APPROVAL_PENDING"

            # Alice approves.
            assert (await respond(gql, end_user, approval_id, "APPROVE"))["status"] == "APPROVED"
            assert (await next_assigned(alice_ws))["status"] == "APPROVED"
            decided = await agnes.next_but_ready()
            assert decided["kind"] == "APPROVAL_DECIDED"
            assert decided["approvalRequest"] == {"id": approval_id, "status": "APPROVED"}

            await worker.run_once()
            question, approval = (await mailbox.wait_for(4))[2:]
            assert (question["To"], approval["To"]) == (agent.email, agent.email)
            assert "Is it the full 120 €?" in question.get_content()
            assert "approved" in approval["Subject"]

            # Now Agnès solves.
            solved = await gql(UPDATE_TICKET, {"input": solve}, as_=agent)
            assert solved["data"]["updateTicket"] == {"ticket": {"status": "SOLVED"}, "errors": []}
            await silent(alice_ws)

    # All sent but the solved notice, queued last, that no worker round took yet.
    assert [m.status for m in await OutboxMessage.all().order_by("id")] == [
        OutboxStatus.SENT
    ] * 4 + [OutboxStatus.PENDING]
    assert len(mailbox.attempts) == 4
