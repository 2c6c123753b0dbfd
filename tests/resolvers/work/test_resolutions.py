"""Resolutions and the help center: writing a solved ticket's resolution, publishing it as
an article, e-mailing it, and suggesting articles while a subject is typed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from tortoise.transactions import in_transaction

from guichet.models.outbox import OutboxMessage
from guichet.models.resolutions import Article, Resolution
from guichet.models.tickets import TicketEvent, TicketEventKind
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.tickets.tickets import MAX_BODY
from guichet.resolvers.work import resolutions
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import make_ticket, updated

SET_RESOLUTION = """
mutation($input: SetResolutionInput!) {
  setResolution(input: $input) {
    resolution { body updatedAt author { id } article { id title body published createdAt } }
    ticket { id number updatedAt resolution { body } }
    errors { code field message }
  }
}
"""
RESOLUTION_OF = """
query($number: Int!) {
  ticket(number: $number) { resolution { body author { id } article { id title published } } }
}
"""
SUGGEST = (
    "query($q: String!, $first: Int) { suggestArticles(query: $q, first: $first) { id title } }"
)
NODE_ARTICLE = "query($id: ID!) { node(id: $id) { id ... on Article { title published } } }"
UPDATE_ARTICLE = """
mutation($input: UpdateArticleInput!) {
  updateArticle(input: $input) { article { id title body published } errors { code field } }
}
"""
UNKNOWN_TICKET = ids.encode("Ticket", 999_999)


async def solved_ticket(gql, agent, requester, **fields) -> dict:
    """A ticket of `requester`, assigned to `agent` when opened, then SOLVED."""
    ticket = await make_ticket(gql, agent, requesterId=requester.id, assigneeId=agent.id, **fields)
    return await updated(gql, agent, ticket["id"], status="SOLVED")


async def set_resolution(gql, as_, ticket_id: str, body: str = "Replaced the fuser.", **extra):
    result = await gql(
        SET_RESOLUTION, {"input": {"ticketId": ticket_id, "body": body, **extra}}, as_=as_
    )
    assert "errors" not in result, result
    return result["data"]["setResolution"]


async def resolved(gql, as_, ticket_id: str, body: str = "Replaced the fuser.", **extra):
    payload = await set_resolution(gql, as_, ticket_id, body, **extra)
    assert payload["errors"] == [], payload["errors"]
    return payload


async def published(gql, agent, ticket: dict) -> str:
    """Publish a resolution of the ticket; the article's id."""
    payload = await resolved(gql, agent, ticket["id"], publishAsArticle=True)
    return payload["resolution"]["article"]["id"]


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def written() -> list[int]:
    """Resolutions, articles, outbox messages and RESOLUTION_SET events."""
    # Not the ticket's own mail (receipt, solved notice...: subjects "[#n] ...").
    kind = TicketEventKind.RESOLUTION_SET
    tables = (
        Resolution.all(),
        Article.all(),
        OutboxMessage.exclude(subject__startswith="[#"),
        TicketEvent.filter(kind=kind),
    )
    return [await query.count() for query in tables]


# ---------------------------------------------------------------- setting a resolution


async def test_agent_sets_the_resolution_of_a_solved_ticket(gql, agent, end_user, colleague):
    ticket = await solved_ticket(gql, agent, end_user)
    payload = await resolved(gql, agent, ticket["id"])
    assert payload["resolution"]["body"] == "Replaced the fuser."
    assert payload["resolution"]["author"] == {"id": agent.id}
    assert payload["resolution"]["article"] is None
    assert payload["ticket"]["resolution"] == {"body": "Replaced the fuser."}
    assert payload["ticket"]["updatedAt"] > ticket["updatedAt"]
    event = await TicketEvent.get(kind=TicketEventKind.RESOLUTION_SET)
    assert (event.actor_id, event.public) == (agent.row.pk, True)
    assert await OutboxMessage.exclude(subject__startswith="[#").count() == 0
    for person in (end_user, colleague, agent):  # whoever sees the ticket sees its resolution
        result = await gql(RESOLUTION_OF, {"number": ticket["number"]}, as_=person)
        assert result["data"]["ticket"]["resolution"]["body"] == "Replaced the fuser."


async def test_resolution_before_the_ticket_is_solved_is_refused(gql, agent, end_user):
    new = await make_ticket(gql, end_user)
    opened = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    pending = await updated(gql, agent, opened["id"], status="PENDING")
    reopened = await solved_ticket(gql, agent, end_user)
    await updated(gql, agent, reopened["id"], status="OPEN")
    for ticket in (new, pending, reopened):
        payload = await set_resolution(gql, agent, ticket["id"])
        assert codes(payload) == [("NOT_SOLVED", ["input", "ticketId"])]
        assert payload["resolution"] is None
    assert await written() == [0, 0, 0, 0]


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_only_agents_and_above_set_resolutions(gql, everyone, agent, end_user, role):
    ticket = await solved_ticket(gql, agent, end_user)
    result = await gql(
        SET_RESOLUTION, {"input": {"ticketId": ticket["id"], "body": "x"}}, as_=everyone[role]
    )
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert await written() == [0, 0, 0, 0]


@pytest.mark.parametrize("role", ["ADMIN", "OWNER"])
async def test_admins_and_the_owner_set_resolutions(gql, everyone, agent, end_user, role):
    ticket = await solved_ticket(gql, agent, end_user)
    payload = await resolved(gql, everyone[role], ticket["id"])
    assert payload["resolution"]["author"] == {"id": everyone[role].id}


async def test_resolution_of_an_unknown_ticket_is_not_found(gql, agent):
    for target in (UNKNOWN_TICKET, "bogus", ids.encode("User", 1)):
        result = await gql(SET_RESOLUTION, {"input": {"ticketId": target, "body": "x"}}, as_=agent)
        assert error_codes(result) == ["NOT_FOUND"]
    assert await written() == [0, 0, 0, 0]


async def test_bad_resolution_input_is_refused_and_nothing_is_written(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    cases = [
        ({"body": ""}, [("REQUIRED", ["input", "body"])]),
        ({"body": "  \n "}, [("REQUIRED", ["input", "body"])]),
        ({"body": "x" * (MAX_BODY + 1)}, [("TOO_LONG", ["input", "body"])]),
        ({"body": "nul \x00"}, [("INVALID", ["input", "body"])]),
        ({"articleTitle": " ", "publishAsArticle": True}, [("REQUIRED", ["input", "articleTitle"])]),
        ({"articleTitle": "t" * 251, "publishAsArticle": True}, [("TOO_LONG", ["input", "articleTitle"])]),
        ({"body": "", "articleTitle": "t" * 251}, [("REQUIRED", ["input", "body"]), ("TOO_LONG", ["input", "articleTitle"])]),
    ]  # fmt: skip
    for fields, expected in cases:
        request = {"body": "fine", "notifyRequester": True, **fields}
        payload = await set_resolution(gql, agent, ticket["id"], **request)
        assert codes(payload) == expected, fields
    assert await written() == [0, 0, 0, 0]
    at_most = {"body": "b" * MAX_BODY, "publishAsArticle": True, "articleTitle": "t" * 250}
    payload = await resolved(gql, agent, ticket["id"], **at_most)
    assert len(payload["resolution"]["body"]) == MAX_BODY
    assert payload["resolution"]["article"]["title"] == "t" * 250


async def test_later_calls_update_the_one_resolution_closed_ticket_included(
    gql, agent, admin, end_user
):
    ticket = await solved_ticket(gql, agent, end_user)
    await resolved(gql, agent, ticket["id"], "First attempt.")
    await updated(gql, agent, ticket["id"], status="CLOSED")
    payload = await resolved(gql, admin, ticket["id"], "What really fixed it.")
    assert payload["resolution"]["body"] == "What really fixed it."
    assert payload["resolution"]["author"] == {"id": admin.id}
    assert await Resolution.all().count() == 1
    assert await TicketEvent.filter(kind=TicketEventKind.RESOLUTION_SET).count() == 2


async def test_concurrent_first_resolutions_write_one_row_and_one_article(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    payloads = await asyncio.gather(
        *(
            set_resolution(gql, agent, ticket["id"], f"Attempt {i}", publishAsArticle=True)
            for i in range(6)
        )
    )
    assert all(p["errors"] == [] for p in payloads)
    assert await Resolution.all().count() == 1
    assert await Article.all().count() == 1
    resolution = await Resolution.get(ticket_id=ids.decode_as(ticket["id"], "Ticket"))
    article = await Article.get(id=resolution.article_id)
    assert article.body == resolution.body


async def test_racing_first_writers_meet_at_the_unique_index(gql, agent, end_user):
    """Without the ticket lock: the second insert waits on the index, fails inside its
    savepoint, and its transaction goes on with the first writer's row."""
    ticket = await solved_ticket(gql, agent, end_user)
    pk, first_in = ids.decode_as(ticket["id"], "Ticket"), asyncio.Event()

    async def writer(body: str, first: bool) -> tuple[int, bool]:
        if not first:
            await first_in.wait()
        async with in_transaction():
            row, created = await resolutions.claim_one(
                Resolution, pk, body=body, author_id=agent.row.pk
            )
            if first:
                first_in.set()
                await asyncio.sleep(0.05)
            await Resolution.filter(id=row.id).update(body=row.body + "!")
        return row.id, created

    (a, a_created), (b, b_created) = await asyncio.gather(writer("a", True), writer("b", False))
    assert (a == b, a_created, b_created) == (True, True, False)
    assert [r.body for r in await Resolution.all()] == ["a!!"]


# ---------------------------------------------------------------- publishing and e-mailing


async def test_the_article_is_created_once_then_updated(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user, subject="Printer on fire")
    first = await resolved(gql, agent, ticket["id"], "Unplug it.", publishAsArticle=True)
    article = first["resolution"]["article"]
    assert (article["title"], article["body"], article["published"]) == (
        "Printer on fire", "Unplug it.", True,
    )  # fmt: skip
    titled = await resolved(
        gql, agent, ticket["id"], "Unplug it, then call us.", publishAsArticle=True,
        articleTitle="  When a printer smokes  ",
    )  # fmt: skip
    assert titled["resolution"]["article"]["id"] == article["id"]
    assert titled["resolution"]["article"]["title"] == "When a printer smokes"
    assert titled["resolution"]["article"]["body"] == "Unplug it, then call us."
    kept = await resolved(gql, agent, ticket["id"], "Unplug it first.", publishAsArticle=True)
    assert kept["resolution"]["article"]["id"] == article["id"]
    assert kept["resolution"]["article"]["title"] == "When a printer smokes"
    unpublished_edit = await resolved(gql, agent, ticket["id"], "Internal wording only.")
    assert unpublished_edit["resolution"]["article"]["body"] == "Unplug it first."
    assert await Article.all().count() == 1
    events = await TicketEvent.filter(kind=TicketEventKind.RESOLUTION_SET).order_by("id")
    assert orjson.loads(events[0].data) == {
        "article": article["id"], "published": True, "notifiedRequester": False,
    }  # fmt: skip
    assert orjson.loads(events[-1].data)["published"] is False


async def test_the_requester_is_emailed_exactly_when_asked(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user, subject="Mouse")
    await resolved(gql, agent, ticket["id"], "New batteries.")
    await resolved(gql, agent, ticket["id"], "New batteries.", notifyRequester=False)
    assert await OutboxMessage.exclude(subject__startswith="[#").count() == 0
    await resolved(gql, agent, ticket["id"], "New batteries, AA.", notifyRequester=True)
    message = await OutboxMessage.exclude(subject__startswith="[#").get()
    assert message.recipient == end_user.email
    assert f"#{ticket['number']}" in message.subject and "Mouse" in message.subject
    assert "New batteries, AA." in message.body
    assert f"/tickets/{ticket['number']}" in message.body
    refused = await set_resolution(gql, agent, ticket["id"], "", notifyRequester=True)
    assert refused["errors"] and await OutboxMessage.exclude(subject__startswith="[#").count() == 1


async def test_customers_see_a_published_article_not_an_unpublished_one_until_republished(
    gql, agent, light_agent, end_user, colleague
):
    ticket = await solved_ticket(gql, agent, end_user)
    article_id = await published(gql, agent, ticket)
    for person in (end_user, colleague, light_agent, agent):
        node = (await gql(NODE_ARTICLE, {"id": article_id}, as_=person))["data"]["node"]
        assert node["id"] == article_id
    await gql(UPDATE_ARTICLE, {"input": {"id": article_id, "published": False}}, as_=agent)
    for person, sees in ((end_user, False), (colleague, False), (light_agent, True), (agent, True)):
        node = (await gql(NODE_ARTICLE, {"id": article_id}, as_=person))["data"]["node"]
        assert (node is not None) is sees
        resolution = (await gql(RESOLUTION_OF, {"number": ticket["number"]}, as_=person))["data"]
        assert (resolution["ticket"]["resolution"]["article"] is not None) is sees
    again = await resolved(gql, agent, ticket["id"], publishAsArticle=True)  # republishes it
    assert again["resolution"]["article"]["id"] == article_id
    assert (await gql(NODE_ARTICLE, {"id": article_id}, as_=end_user))["data"]["node"]["published"]
    assert await Article.all().count() == 1


async def test_agents_edit_articles_and_others_may_not(gql, everyone, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    article_id = await published(gql, agent, ticket)
    edit = {"id": article_id, "title": " Better title ", "body": "Better body"}
    result = await gql(UPDATE_ARTICLE, {"input": edit}, as_=agent)
    assert result["data"]["updateArticle"]["article"] == {
        "id": article_id, "title": "Better title", "body": "Better body", "published": True,
    }  # fmt: skip
    for role in ("END_USER", "LIGHT_AGENT"):
        result = await gql(UPDATE_ARTICLE, {"input": {"id": article_id}}, as_=everyone[role])
        assert error_codes(result) == ["FORBIDDEN"]
    for bad, expected in (
        ({"title": ""}, "REQUIRED"),
        ({"body": "x" * (MAX_BODY + 1)}, "TOO_LONG"),
    ):
        result = await gql(UPDATE_ARTICLE, {"input": {"id": article_id, **bad}}, as_=agent)
        assert [e["code"] for e in result["data"]["updateArticle"]["errors"]] == [expected]
    unknown = ids.encode("Article", 999)
    result = await gql(UPDATE_ARTICLE, {"input": {"id": unknown, "title": "x"}}, as_=agent)
    assert error_codes(result) == ["NOT_FOUND"]
    assert (await Article.get()).title == "Better title"


# ---------------------------------------------------------------- suggestions


async def article(title: str, body: str = "Nothing to see.", *, age_days: int = 0, published=True):
    made = await Article.create(title=title, body=body, published=published)
    created = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=age_days)
    await Article.filter(id=made.id).update(created_at=created)
    return ids.encode("Article", made.id)


async def suggest(gql, person, query: str, first: int | None = None) -> list[str]:
    result = await gql(SUGGEST, {"q": query, "first": first}, as_=person)
    assert "errors" not in result, result
    return [a["id"] for a in result["data"]["suggestArticles"]]


async def test_a_title_match_ranks_above_a_body_match(gql, end_user):
    in_body = await article("Paper tray", "If the printer jams, open the tray.", age_days=0)
    in_title = await article("Printer driver", "Download it.", age_days=5)
    await article("Mouse", "Batteries.")
    assert await suggest(gql, end_user, "Printer") == [in_title, in_body]


async def test_the_whole_phrase_in_a_title_earns_a_bonus(gql, end_user):
    scattered = await article("Jam in the printer tray", age_days=0)
    phrase = await article("Printer jam on floor two", age_days=9)
    assert await suggest(gql, end_user, "printer jam") == [phrase, scattered]


async def test_unpublished_articles_are_never_suggested(gql, agent, end_user):
    await article("Printer secrets", "printer printer", published=False)
    shown = await article("Printer basics")
    for person in (end_user, agent):
        assert await suggest(gql, person, "printer") == [shown]


async def test_ties_are_newest_first_and_first_limits_them(gql, light_agent):
    made = [await article(f"VPN guide {i}", age_days=i) for i in range(25)]
    assert await suggest(gql, light_agent, "vpn") == made[:5]
    assert await suggest(gql, light_agent, "vpn", first=2) == made[:2]
    assert await suggest(gql, light_agent, "vpn", first=20) == made[:20]
    assert await suggest(gql, light_agent, "vpn", first=0) == []
    for bad in (21, -1):
        result = await gql(SUGGEST, {"q": "vpn", "first": bad}, as_=light_agent)
        assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_short_words_wildcards_and_words_past_ten_match_nothing(gql, end_user):
    await article("A fuser on fire", "Call 100% of us now")
    ten = "one two three four five six seven eight nine ten"
    for query in ("", "  ", "a on", "f_ser", "10%", f"{ten} fuser"):
        assert await suggest(gql, end_user, query) == [], query
    assert await suggest(gql, end_user, "FUS") != []


def reference_score(a: Article, query: str) -> int:
    """The ranking rule, in Python, for comparison with the SQL."""
    words, phrase = resolutions.search_words(query)
    title, body = a.title.lower(), a.body.lower()
    score = sum(3 * (w in title) + (w in body) for w in words)
    return score + (5 if phrase and phrase in title else 0)


async def test_suggestions_rank_as_the_rule_computed_over_the_orm(app, end_user, count_statements):
    rng_words = ["printer", "jam", "toner", "paper", "tray", "driver", "wifi", "floor"]
    for i in range(40):
        pick = [rng_words[(i * k + k) % len(rng_words)] for k in range(1, 4)]
        await article(
            " ".join(pick[:2]).title(), " ".join(pick), age_days=i % 7, published=i % 9 != 0
        )
    context = Context(app.state.settings, end_user.viewer, None)
    for query in ("printer jam", "toner tray driver", "wifi", "Paper tray!", "floor printer jam"):
        with count_statements() as counter:
            got = await resolutions.suggest_articles(context, query, 20)
        assert counter.count == 1
        published = await Article.filter(published=True)
        expected = sorted(
            (a for a in published if reference_score(a, query) > 0),
            key=lambda a: (-reference_score(a, query), -a.created_at.timestamp(), -a.id),
        )[:20]
        assert [r.pk for r in got] == [a.id for a in expected], query


def test_search_words_are_lower_cased_unique_and_at_most_ten():
    words, phrase = resolutions.search_words("Printer PRINTER on Fire-fire, ok")
    assert words == ["printer", "fire"]
    assert phrase == "printer printer on fire fire ok"
    many, _ = resolutions.search_words(" ".join(f"word{i}" for i in range(15)))
    assert many == [f"word{i}" for i in range(10)]
    assert resolutions.search_words("one")[1] is None


# ---------------------------------------------------------------- SQL reads


async def test_resolution_and_article_reads_match_the_orm(app, gql, agent, end_user):
    tickets = [await solved_ticket(gql, agent, end_user, subject=f"T{i}") for i in range(4)]
    for i, ticket in enumerate(tickets[:3]):
        await resolved(gql, agent, ticket["id"], f"Fix {i}", publishAsArticle=i % 2 == 0)
    await Article.create(title="Draft", body="d", published=False)
    keys = [ids.decode_as(t["id"], "Ticket") for t in tickets]
    rows = await resolutions.resolutions_by_ticket(Context(app.state.settings, agent.viewer), keys)
    for key, row in zip(keys, rows, strict=True):
        expected = await Resolution.get_or_none(ticket_id=key)
        if expected is None:
            assert row is None
            continue
        assert (row.pk, row.body, row.author_id, row.article_id, row.updated_at) == (
            expected.id, expected.body, expected.author_id, expected.article_id, expected.updated_at,
        )  # fmt: skip
    every = [a.id for a in await Article.all().order_by("id")]
    for person, filters in ((agent, {}), (end_user, {"published": True})):
        found = await resolutions.articles_by_id(Context(app.state.settings, person.viewer), every)
        assert [r.pk for r in found if r] == [
            a.id for a in await Article.filter(**filters).order_by("id")
        ]
