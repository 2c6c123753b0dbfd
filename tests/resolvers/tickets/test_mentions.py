"""Mentions (resolvers/tickets/mentions.py): `@email`, `@"Full Name"` and `@Full Name` of a
member of staff in a comment notify them, once, never the author; end users are never
mentioned."""

from __future__ import annotations

import pytest

from guichet.models.notifications import Notification
from guichet.models.people import Role
from guichet.resolvers.context import Viewer
from guichet.resolvers.tickets.mentions import mentioned
from tests.resolvers.tickets_helpers import commented, make_ticket
from tests.subscriptions.test_notifications import next_notification, subscribe
from tests.subscriptions.test_ticket_history import signed_in, silent, websocket

ANA = Viewer(1, "Ana", "ana@guichet.test", Role.AGENT)
ANA_LOPEZ = Viewer(2, "Ana  Lopez", "lopez@guichet.test", Role.AGENT)
LOUISE = Viewer(3, "Louise Light", "light@guichet.test", Role.LIGHT_AGENT)
STAFF = [ANA, ANA_LOPEZ, LOUISE]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@ana@guichet.test please look", [ANA]),
        ("@ANA@Guichet.Test.", [ANA]),  # any case, a sentence's full stop
        ('@"ana lopez" and @"Louise Light"', [ANA_LOPEZ, LOUISE]),
        ("@Ana Lopez, can you?", [ANA_LOPEZ]),  # the longest name first
        ("@Ana, can you?", [ANA]),
        ("@Ana Lopezz", [ANA]),  # "Ana Lopez" does not end where a word ends
        ("@Analyst", []),
        ("cc: @Louise Light\n@louise light again", [LOUISE]),  # once per comment
        ("write to ana@guichet.test", []),  # an address in a sentence is no mention
        ('@"Nobody Here" @', []),
        ("no mention at all", []),
        ("@lopez@guichet.test @Ana", [ANA_LOPEZ, ANA]),  # in order of first mention
    ],
)
def test_how_a_mention_is_read(body, expected):
    assert mentioned(body, STAFF) == expected


async def mentions_of(person) -> list[tuple[str, int | None]]:
    rows = await Notification.filter(user_id=person.row.pk, kind="MENTIONED").order_by("id")
    return [(n.kind, n.ticket_id) for n in rows]


async def test_an_agent_mentioned_by_address_or_name_is_notified_once(gql, agent, admin, end_user):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, admin, ticket["id"], "@agent@guichet.test and @Agnès Agent: see above")
    told = await Notification.filter(user_id=agent.row.pk, kind="MENTIONED")
    assert len(told) == 1
    assert (
        told[0].message
        == f"Adam Admin mentioned you on ticket #{ticket['number']}: Printer on fire"
    )
    assert await mentions_of(admin) == []  # the author's own name is not in the body anyway


async def test_the_author_is_never_notified_of_their_own_mention(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, agent, ticket["id"], "Note to self, @Agnès Agent", public=False)
    assert await mentions_of(agent) == []


async def test_internal_notes_mention_staff_light_agents_included(
    gql, agent, light_agent, admin, end_user
):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, light_agent, ticket["id"], '@"Agnès Agent" @Adam Admin billing?')
    assert len(await mentions_of(agent)) == 1
    assert len(await mentions_of(admin)) == 1
    await commented(gql, agent, ticket["id"], "@Louise Light thanks", public=False)
    assert len(await mentions_of(light_agent)) == 1


async def test_a_mention_of_an_end_user_notifies_nobody(gql, agent, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, agent, ticket["id"], "@Bob Colleague @alice@acme.test see this")
    assert await Notification.filter(kind="MENTIONED").count() == 0


async def test_a_customer_may_mention_an_agent_in_a_public_reply(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, end_user, ticket["id"], "@Agnès Agent any news?")
    assert len(await mentions_of(agent)) == 1


async def test_a_refused_comment_mentions_nobody(gql, agent, light_agent, end_user):
    ticket = await make_ticket(gql, end_user)
    result = await gql(
        "mutation($input: AddCommentInput!) { addComment(input: $input) { errors { code } } }",
        {"input": {"ticketId": ticket["id"], "body": "@Agnès Agent hi", "public": True}},
        as_=light_agent,
    )
    assert result["data"]["addComment"]["errors"] == [{"code": "PUBLIC_NOT_ALLOWED"}]
    assert await mentions_of(agent) == []


async def test_a_mentioned_agent_is_told_live(app, gql, live_server, agent, admin, end_user):
    ticket = await make_ticket(gql, end_user)
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await subscribe(app, ws, agent)
        await commented(gql, admin, ticket["id"], "@agent@guichet.test over to you", public=False)
        seen = await next_notification(ws)
        assert (seen["kind"], seen["ticket"]) == ("MENTIONED", {"number": ticket["number"]})
        await silent(ws)
