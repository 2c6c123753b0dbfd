"""The conversation on a ticket: public replies, internal notes, and who sees which."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.tickets import Comment, IdempotencyKey, Ticket, TicketEvent
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    ADD_COMMENT,
    add_comment,
    close,
    commented,
    comments_of,
    get_ticket,
    make_ticket,
    updated,
)

COMMENT_NODE = "query($id: ID!) { node(id: $id) { id ... on Comment { body public } } }"


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def conversation(gql, agent, light_agent, end_user) -> dict:
    """A ticket of end_user with a reply, an internal note and a light agent's note."""
    ticket = await make_ticket(gql, end_user)
    await commented(gql, end_user, ticket["id"], "Any news?")
    await commented(gql, agent, ticket["id"], "Looking into it.")
    await commented(gql, agent, ticket["id"], "Customer is on the old plan.", public=False)
    await commented(gql, light_agent, ticket["id"], "Billing confirms.")
    return ticket


# ---------------------------------------------------------------- writing


async def test_agent_replies_publicly_by_default(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    payload = await add_comment(gql, agent, ticket["id"], "We are on it.")
    assert payload["errors"] == []
    comment = payload["comment"]
    assert (comment["body"], comment["public"], comment["via"]) == ("We are on it.", True, "WEB")
    assert comment["author"]["id"] == agent.id
    stored = await Comment.get(id=ids.decode_as(comment["id"], "Comment"))
    assert (stored.public, stored.author_id) == (True, agent.row.pk)


async def test_agent_public_reply_opens_a_new_ticket(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    payload = await add_comment(gql, agent, ticket["id"], "Hello!")
    assert payload["ticket"]["status"] == "OPEN"
    assert payload["ticket"]["updatedAt"] > ticket["updatedAt"]


async def test_agent_internal_note_keeps_a_ticket_new(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    payload = await add_comment(gql, agent, ticket["id"], "Hmm.", public=False)
    assert payload["comment"]["public"] is False
    assert payload["ticket"]["status"] == "NEW"


async def test_end_user_reply_keeps_a_ticket_new(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    payload = await add_comment(gql, end_user, ticket["id"], "More details.")
    assert payload["comment"]["via"] == "PORTAL"
    assert payload["ticket"]["status"] == "NEW"


async def test_end_user_comment_reopens_a_solved_ticket(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    payload = await add_comment(gql, end_user, ticket["id"], "Still broken!")
    assert payload["ticket"]["status"] == "OPEN"
    reopened = await get_ticket(gql, agent, ticket["number"])
    assert (reopened["status"], reopened["solvedAt"]) == ("OPEN", None)
    event = await TicketEvent.filter(field="status").order_by("-id").first()
    assert (event.actor_id, event.via, event.public) == (end_user.row.pk, "PORTAL", True)


async def test_a_colleagues_comment_reopens_a_shared_solved_ticket(gql, agent, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    payload = await add_comment(gql, colleague, ticket["id"], "Same here.")
    assert payload["ticket"]["status"] == "OPEN"


@pytest.mark.parametrize("public", [True, False])
async def test_agent_comment_does_not_reopen_a_solved_ticket(gql, agent, end_user, public):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    payload = await add_comment(gql, agent, ticket["id"], "Glad it works.", public=public)
    assert payload["ticket"]["status"] == "SOLVED"


async def test_light_agent_comment_does_not_reopen_a_solved_ticket(
    gql, agent, light_agent, end_user
):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    payload = await add_comment(gql, light_agent, ticket["id"], "FYI")
    assert payload["ticket"]["status"] == "SOLVED"


async def test_end_user_comments_are_always_public(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    assert (await add_comment(gql, end_user, ticket["id"], "a", public=True))["comment"]["public"]
    refused = await add_comment(gql, end_user, ticket["id"], "psst", public=False)
    assert refused["comment"] is None
    assert codes(refused) == [("INTERNAL_NOT_ALLOWED", ["input", "public"])]
    assert await Comment.filter(public=False).count() == 0


async def test_light_agent_comments_are_always_internal(gql, light_agent, end_user):
    ticket = await make_ticket(gql, end_user)
    payload = await add_comment(gql, light_agent, ticket["id"], "Noted.")
    assert payload["errors"] == []
    assert payload["comment"]["public"] is False
    assert payload["ticket"]["status"] == "NEW"  # a note does not open a ticket
    assert (await add_comment(gql, light_agent, ticket["id"], "b", public=False))["comment"][
        "public"
    ] is False
    refused = await add_comment(gql, light_agent, ticket["id"], "Hi customer!", public=True)
    assert codes(refused) == [("PUBLIC_NOT_ALLOWED", ["input", "public"])]
    assert await Comment.filter(public=True).count() == 0


async def test_no_comment_on_a_closed_ticket(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await close(gql, agent, ticket)
    events = await TicketEvent.all().count()
    for person in (end_user, agent):
        payload = await add_comment(gql, person, ticket["id"], "Hello?")
        assert payload["comment"] is None
        assert codes(payload) == [("TICKET_CLOSED", ["input", "ticketId"])]
    assert await Comment.all().count() == 0
    assert await TicketEvent.all().count() == events
    assert (await Ticket.get(number=ticket["number"])).status == "CLOSED"


async def test_comment_refuses_empty_or_oversized_bodies(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    for body, code in (
        ("", "REQUIRED"),
        ("  \n\t", "REQUIRED"),
        ("x" * (64 * 1024 + 1), "TOO_LONG"),
        ("nul \x00 inside", "INVALID"),
    ):
        payload = await add_comment(gql, agent, ticket["id"], body)
        assert codes(payload) == [(code, ["input", "body"])]
    assert await Comment.all().count() == 0
    assert await TicketEvent.filter(kind="COMMENT_ADDED").count() == 0
    assert (await get_ticket(gql, agent, ticket["number"]))["status"] == "NEW"
    biggest = await add_comment(gql, agent, ticket["id"], "x" * 64 * 1024)
    assert biggest["errors"] == []


async def test_commenting_on_an_invisible_or_unknown_ticket_is_not_found(
    gql, agent, end_user, other_customer
):
    ticket = await make_ticket(gql, other_customer)
    for who, target in (
        (end_user, ticket["id"]),
        (agent, ids.encode("Ticket", 999)),
        (agent, "bogus"),
    ):
        result = await gql(ADD_COMMENT, {"input": {"ticketId": target, "body": "hello"}}, as_=who)
        assert result["data"] is None
        assert error_codes(result) == ["NOT_FOUND"]
    assert await Comment.all().count() == 0


async def test_commenting_needs_sign_in(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    result = await gql(ADD_COMMENT, {"input": {"ticketId": ticket["id"], "body": "x"}})
    assert error_codes(result) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- reading


async def test_end_user_cannot_see_internal_notes(gql, agent, light_agent, end_user, colleague):
    ticket = await conversation(gql, agent, light_agent, end_user)
    for person in (end_user, colleague):
        seen = await comments_of(gql, person, ticket["number"], order="OLDEST_FIRST")
        assert seen["totalCount"] == 2
        assert [e["node"]["body"] for e in seen["edges"]] == ["Any news?", "Looking into it."]
        assert all(e["node"]["public"] for e in seen["edges"])


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "AGENT", "LIGHT_AGENT"])
async def test_staff_see_internal_notes(gql, everyone, agent, light_agent, end_user, role):
    ticket = await conversation(gql, agent, light_agent, end_user)
    seen = await comments_of(gql, everyone[role], ticket["number"], order="OLDEST_FIRST")
    assert seen["totalCount"] == 4
    assert [(e["node"]["body"], e["node"]["public"]) for e in seen["edges"]] == [
        ("Any news?", True),
        ("Looking into it.", True),
        ("Customer is on the old plan.", False),
        ("Billing confirms.", False),
    ]


async def test_an_internal_note_is_not_found_by_id_for_end_users(
    gql, agent, light_agent, end_user, other_customer
):
    ticket = await make_ticket(gql, end_user)
    note = await commented(gql, agent, ticket["id"], "secret", public=False)
    reply = await commented(gql, agent, ticket["id"], "hello")
    assert (await gql(COMMENT_NODE, {"id": note["id"]}, as_=end_user))["data"]["node"] is None
    seen = (await gql(COMMENT_NODE, {"id": reply["id"]}, as_=end_user))["data"]["node"]
    assert seen == {"id": reply["id"], "body": "hello", "public": True}
    # A public reply on someone else's ticket is hidden too.
    assert (await gql(COMMENT_NODE, {"id": reply["id"]}, as_=other_customer))["data"][
        "node"
    ] is None
    by_staff = (await gql(COMMENT_NODE, {"id": note["id"]}, as_=light_agent))["data"]["node"]
    assert by_staff["public"] is False


async def test_comments_are_newest_first_by_default_and_paged(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    for i in range(5):
        await commented(gql, agent, ticket["id"], f"c{i}")
    first = await comments_of(gql, end_user, ticket["number"], first=2)
    assert first["totalCount"] == 5
    assert [e["node"]["body"] for e in first["edges"]] == ["c4", "c3"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    bodies = [e["node"]["body"] for e in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while after:
        page = await comments_of(gql, end_user, ticket["number"], first=2, after=after)
        assert page["totalCount"] == 5
        assert page["pageInfo"]["hasPreviousPage"] is True
        bodies += [e["node"]["body"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert bodies == ["c4", "c3", "c2", "c1", "c0"]
    oldest = await comments_of(gql, end_user, ticket["number"], first=3, order="OLDEST_FIRST")
    assert [e["node"]["body"] for e in oldest["edges"]] == ["c0", "c1", "c2"]


async def test_hidden_notes_are_not_counted_on_any_page(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    for i in range(3):
        await commented(gql, agent, ticket["id"], f"public {i}")
        await commented(gql, agent, ticket["id"], f"note {i}", public=False)
    first = await comments_of(gql, end_user, ticket["number"], first=2)
    assert first["totalCount"] == 3
    second = await comments_of(
        gql, end_user, ticket["number"], first=2, after=first["pageInfo"]["endCursor"]
    )
    assert second["totalCount"] == 3
    assert [e["node"]["body"] for e in first["edges"] + second["edges"]] == [
        "public 2",
        "public 1",
        "public 0",
    ]
    assert second["pageInfo"]["hasNextPage"] is False
    past_the_end = await comments_of(
        gql, end_user, ticket["number"], first=2, after=second["pageInfo"]["endCursor"]
    )
    assert (past_the_end["totalCount"], past_the_end["edges"]) == (3, [])


async def test_total_count_of_comments_without_edges(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, agent, ticket["id"], "one")
    await commented(gql, agent, ticket["id"], "two", public=False)
    assert (await comments_of(gql, agent, ticket["number"], first=0))["totalCount"] == 2
    assert (await comments_of(gql, end_user, ticket["number"], first=0))["totalCount"] == 1


async def test_a_comment_page_holds_at_most_100(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    result = await gql(
        "query($n: Int!) { ticket(number: $n) { comments(first: 101) { totalCount } } }",
        {"n": ticket["number"]},
        as_=agent,
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_comments_of_several_tickets_in_one_list(gql, agent, end_user):
    one = await make_ticket(gql, end_user)
    two = await make_ticket(gql, end_user)
    await commented(gql, agent, one["id"], "on one")
    await commented(gql, agent, two["id"], "on two")
    await commented(gql, agent, two["id"], "note on two", public=False)
    query = """{ tickets(sort: [{field: NUMBER, direction: ASC}]) { edges { node {
        number comments { totalCount edges { node { body } } } } } } }"""
    seen = (await gql(query, as_=end_user))["data"]["tickets"]["edges"]
    assert [
        (e["node"]["number"], e["node"]["comments"]["totalCount"],
         [c["node"]["body"] for c in e["node"]["comments"]["edges"]])
        for e in seen
    ] == [(1, 1, ["on one"]), (2, 1, ["on two"])]  # fmt: skip


# ---------------------------------------------------------------- idempotent retries


async def test_retrying_a_comment_with_the_same_key_returns_the_first_comment(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    first = await commented(gql, end_user, ticket["id"], "Hello", idempotencyKey="c-1")
    again = await commented(gql, end_user, ticket["id"], "Hello", idempotencyKey="c-1")
    assert again["id"] == first["id"]
    assert await Comment.all().count() == 1
    assert await TicketEvent.filter(kind="COMMENT_ADDED").count() == 1


async def test_concurrent_retries_of_a_comment_write_it_once(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    made = await asyncio.gather(
        *(commented(gql, agent, ticket["id"], "Once", idempotencyKey="burst") for _ in range(6))
    )
    assert {c["id"] for c in made} == {made[0]["id"]}
    assert await Comment.all().count() == 1
    assert await TicketEvent.filter(kind="COMMENT_ADDED").count() == 1


async def test_same_comment_key_from_another_user_is_independent(gql, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    mine = await commented(gql, end_user, ticket["id"], "Mine", idempotencyKey="k")
    theirs = await commented(gql, colleague, ticket["id"], "Theirs", idempotencyKey="k")
    assert mine["id"] != theirs["id"]
    assert theirs["author"]["id"] == colleague.id
    assert await Comment.all().count() == 2


async def test_comment_and_ticket_keys_do_not_collide(gql, end_user):
    ticket = await make_ticket(gql, end_user, idempotencyKey="same")
    comment = await commented(gql, end_user, ticket["id"], "x", idempotencyKey="same")
    assert ids.decode_as(comment["id"], "Comment") is not None
    assert await IdempotencyKey.all().count() == 2


async def test_a_comment_key_is_forgotten_after_24_hours(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    first = await commented(gql, end_user, ticket["id"], "x", idempotencyKey="old")
    await IdempotencyKey.filter(key="old").update(
        created_at=datetime.now(UTC) - timedelta(hours=25)
    )
    again = await commented(gql, end_user, ticket["id"], "x", idempotencyKey="old")
    assert again["id"] != first["id"]
    assert await Comment.all().count() == 2


async def test_a_refused_comment_does_not_use_up_its_key(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    refused = await add_comment(gql, end_user, ticket["id"], "", idempotencyKey="k")
    assert codes(refused) == [("REQUIRED", ["input", "body"])]
    comment = await commented(gql, end_user, ticket["id"], "now", idempotencyKey="k")
    assert comment["body"] == "now"
