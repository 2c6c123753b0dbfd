"""Ticket.firstReplyAt: set by the first public reply of an agent, and never again."""

from __future__ import annotations

from guichet.models.tickets import Channel, Comment
from guichet.resolvers.mail.inbound import receive_mail
from tests.conftest import error_codes
from tests.resolvers.inbound_helpers import mail, raw
from tests.resolvers.tickets_helpers import add_comment, commented, make_ticket

FIRST_REPLY = "query($number: Int!) { ticket(number: $number) { firstReplyAt } }"


async def _first_reply(gql, person, number: int):
    return await gql(FIRST_REPLY, {"number": number}, as_=person)


async def test_the_first_public_reply_of_an_agent_sets_first_reply_at_once(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, end_user, ticket["id"], "Any news?")
    await commented(gql, agent, ticket["id"], "Checking with billing.", public=False)
    unanswered = await _first_reply(gql, agent, ticket["number"])
    assert unanswered["data"]["ticket"]["firstReplyAt"] is None

    first = (await add_comment(gql, agent, ticket["id"], "We are on it."))["comment"]
    await commented(gql, agent, ticket["id"], "Fixed now.")
    answered = await _first_reply(gql, agent, ticket["number"])
    assert answered["data"]["ticket"]["firstReplyAt"] == first["createdAt"]


async def test_light_agents_notes_and_customers_replies_are_not_first_replies(
    gql, agent, light_agent, end_user
):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, light_agent, ticket["id"], "Billing confirms.")
    await commented(gql, end_user, ticket["id"], "Hello?")
    result = await _first_reply(gql, agent, ticket["number"])
    assert result["data"]["ticket"]["firstReplyAt"] is None


async def test_customers_do_not_see_first_reply_at(gql, end_user, light_agent):
    ticket = await make_ticket(gql, end_user)
    result = await _first_reply(gql, end_user, ticket["number"])
    assert result["data"]["ticket"]["firstReplyAt"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    seen = await _first_reply(gql, light_agent, ticket["number"])
    assert "errors" not in seen


async def test_an_agents_reply_by_mail_is_a_first_reply(app, gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    message = mail(sender=agent.email, body=f"#id {ticket['number']}\n\nWe are on it.")
    await receive_mail(app.state.settings, raw(message), bus=app.state.bus)
    [reply] = await Comment.filter(ticket__number=ticket["number"])
    result = await _first_reply(gql, agent, ticket["number"])
    assert reply.via == Channel.EMAIL
    assert result["data"]["ticket"]["firstReplyAt"] == reply.created_at.isoformat()
