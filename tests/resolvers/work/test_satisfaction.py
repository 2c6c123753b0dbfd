"""Satisfaction: the requester rates a solved ticket during the window after solving; the
rating is for the requester and staff; agents read the statistics."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from guichet.models.resolutions import SatisfactionRating, SatisfactionScore
from guichet.models.tickets import Ticket, TicketEvent, TicketEventKind
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.errors import Refused
from guichet.resolvers.work import satisfaction
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import close, history_of, make_ticket, updated
from tests.resolvers.work.test_resolutions import resolved, solved_ticket

RATE = """
mutation($input: RateSatisfactionInput!) {
  rateSatisfaction(input: $input) {
    satisfaction { score comment updatedAt }
    errors { code field message }
  }
}
"""
SATISFACTION_OF = "query($n: Int!) { ticket(number: $n) { id satisfaction { score comment } } }"
STATS = """
query($from: DateTime, $to: DateTime) { satisfactionStats(from: $from, to: $to) { good bad score } }
"""
UNKNOWN_TICKET = ids.encode("Ticket", 999_999)


async def rate(gql, as_, ticket_id: str, score: str = "GOOD", comment: str | None = None):
    request = {"ticketId": ticket_id, "score": score, "comment": comment}
    result = await gql(RATE, {"input": request}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["rateSatisfaction"]


async def rated(gql, as_, ticket_id: str, score: str = "GOOD", comment: str | None = None):
    payload = await rate(gql, as_, ticket_id, score, comment)
    assert payload["errors"] == [], payload["errors"]
    return payload["satisfaction"]


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def seen_by(gql, person, number: int) -> dict | None:
    result = await gql(SATISFACTION_OF, {"n": number}, as_=person)
    assert "errors" not in result, result
    return result["data"]["ticket"]["satisfaction"]


async def nothing_rated() -> bool:
    kind = TicketEventKind.SATISFACTION_RATED
    return not await SatisfactionRating.exists() and not await TicketEvent.exists(kind=kind)


async def solved_days_ago(ticket: dict, days: float) -> None:
    when = datetime.now(UTC) - timedelta(days=days)
    await Ticket.filter(id=ids.decode_as(ticket["id"], "Ticket")).update(solved_at=when)


# ---------------------------------------------------------------- rating


async def test_the_requester_rates_a_solved_ticket(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    rating = await rated(gql, end_user, ticket["id"], "GOOD", "Quick and kind.")
    assert (rating["score"], rating["comment"]) == ("GOOD", "Quick and kind.")
    assert await seen_by(gql, end_user, ticket["number"]) == {
        "score": "GOOD", "comment": "Quick and kind.",
    }  # fmt: skip
    event = await TicketEvent.get(kind=TicketEventKind.SATISFACTION_RATED)
    assert (event.actor_id, event.public) == (end_user.row.pk, False)
    assert (event.previous_value, orjson.loads(event.new_value)) == (None, "GOOD")
    assert orjson.loads(event.data) == {"comment": "Quick and kind."}
    kinds = [
        e["node"]["kind"] for e in (await history_of(gql, end_user, ticket["number"]))["edges"]
    ]
    assert "SATISFACTION_RATED" not in kinds  # an internal event
    kinds = [e["node"]["kind"] for e in (await history_of(gql, agent, ticket["number"]))["edges"]]
    assert kinds[-1] == "SATISFACTION_RATED"


async def test_the_requester_changes_the_rating(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    first = await rated(gql, end_user, ticket["id"], "BAD", "Slow.")
    second = await rated(gql, end_user, ticket["id"], "GOOD")
    assert (second["score"], second["comment"]) == ("GOOD", None)
    assert second["updatedAt"] >= first["updatedAt"]
    assert await SatisfactionRating.all().count() == 1
    events = await TicketEvent.filter(kind=TicketEventKind.SATISFACTION_RATED).order_by("id")
    assert [(orjson.loads(e.previous_value or "null"), orjson.loads(e.new_value)) for e in events] == [
        (None, "BAD"), ("BAD", "GOOD"),
    ]  # fmt: skip


async def test_a_closed_ticket_is_rated(gql, agent, end_user):
    ticket = await close(gql, agent, await make_ticket(gql, end_user))
    assert (await rated(gql, end_user, ticket["id"], "BAD"))["score"] == "BAD"


async def test_concurrent_first_ratings_write_one_row(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    scores = ["GOOD", "BAD"] * 3
    await asyncio.gather(*(rated(gql, end_user, ticket["id"], s) for s in scores))
    assert await SatisfactionRating.all().count() == 1
    assert await TicketEvent.filter(kind=TicketEventKind.SATISFACTION_RATED).count() == 6


async def test_only_the_requester_rates_a_ticket(gql, everyone, agent, end_user, colleague):
    ticket = await solved_ticket(gql, agent, end_user)
    others = [colleague, *(everyone[r] for r in ("LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"))]
    for person in others:  # each of them sees the ticket
        payload = await rate(gql, person, ticket["id"])
        assert codes(payload) == [("NOT_REQUESTER", ["input", "ticketId"])]
        assert payload["satisfaction"] is None
    assert await nothing_rated()


async def test_who_cannot_see_the_ticket_gets_not_found(gql, agent, end_user, other_customer):
    ticket = await solved_ticket(gql, agent, end_user)
    for person, target in (
        (other_customer, ticket["id"]),
        (end_user, UNKNOWN_TICKET),
        (end_user, "bogus"),
    ):
        result = await gql(RATE, {"input": {"ticketId": target, "score": "BAD"}}, as_=person)
        assert result["data"] is None
        assert error_codes(result) == ["NOT_FOUND"]
    assert error_codes(await gql(RATE, {"input": {"ticketId": ticket["id"], "score": "BAD"}})) == [
        "UNAUTHENTICATED"
    ]
    assert await nothing_rated()


async def test_a_ticket_that_is_not_solved_cannot_be_rated(gql, agent, end_user):
    new = await make_ticket(gql, end_user)
    opened = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    reopened = await solved_ticket(gql, agent, end_user)
    await updated(gql, agent, reopened["id"], status="OPEN")
    for ticket in (new, opened, reopened):
        payload = await rate(gql, end_user, ticket["id"])
        assert codes(payload) == [("NOT_SOLVED", ["input", "ticketId"])]
    assert await nothing_rated()


async def test_the_rating_window_closes_after_28_days(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    await solved_days_ago(ticket, 27.9)
    await rated(gql, end_user, ticket["id"], "BAD")
    await solved_days_ago(ticket, 28.1)
    payload = await rate(gql, end_user, ticket["id"], "GOOD")
    assert codes(payload) == [("RATING_WINDOW_CLOSED", ["input", "ticketId"])]
    assert (await SatisfactionRating.get()).score is SatisfactionScore.BAD
    closed = await close(gql, agent, await make_ticket(gql, end_user))
    await solved_days_ago(closed, 40)
    assert codes(await rate(gql, end_user, closed["id"])) == [
        ("RATING_WINDOW_CLOSED", ["input", "ticketId"])
    ]


async def test_the_window_follows_the_setting(app, gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    await solved_days_ago(ticket, 3)
    short = Context(replace(app.state.settings, csat_window_days=2), end_user.viewer)
    with pytest.raises(Refused) as refused:
        await satisfaction.rate(
            short, ticket_id=ticket["id"], score=SatisfactionScore.GOOD, comment=None
        )
    assert refused.value.errors[0].code == "RATING_WINDOW_CLOSED"
    longer = Context(replace(app.state.settings, csat_window_days=4), end_user.viewer)
    row = await satisfaction.rate(
        longer, ticket_id=ticket["id"], score=SatisfactionScore.GOOD, comment=None
    )
    assert row.score is SatisfactionScore.GOOD


async def test_bad_comments_are_refused_and_blank_ones_dropped(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    for comment, code in (("x" * 10_001, "TOO_LONG"), ("nul \x00", "INVALID")):
        assert codes(await rate(gql, end_user, ticket["id"], "GOOD", comment)) == [
            (code, ["input", "comment"])
        ]
    assert await nothing_rated()
    assert (await rated(gql, end_user, ticket["id"], "GOOD", "  \n"))["comment"] is None
    assert (await rated(gql, end_user, ticket["id"], "GOOD", "y" * 10_000))[
        "comment"
    ] == "y" * 10_000


# ---------------------------------------------------------------- who sees a rating


async def test_a_shared_organization_member_sees_the_ticket_but_not_its_rating(
    gql, everyone, agent, end_user, colleague
):
    ticket = await solved_ticket(gql, agent, end_user)
    await rated(gql, end_user, ticket["id"], "BAD", "Meh.")
    result = await gql(SATISFACTION_OF, {"n": ticket["number"]}, as_=colleague)
    assert "errors" not in result  # silently null
    assert result["data"]["ticket"] == {"id": ticket["id"], "satisfaction": None}
    for role in ("END_USER", "LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"):
        assert await seen_by(gql, everyone[role], ticket["number"]) == {
            "score": "BAD", "comment": "Meh.",
        }  # fmt: skip


async def test_rating_reads_match_the_orm(app, gql, agent, end_user, colleague):
    mine = [await solved_ticket(gql, agent, end_user) for _ in range(3)]
    theirs = [await solved_ticket(gql, agent, colleague) for _ in range(2)]
    for i, ticket in enumerate(mine[:2] + theirs[:1]):
        requester = end_user if ticket in mine else colleague
        await rated(gql, requester, ticket["id"], "GOOD" if i % 2 else "BAD", f"c{i}")
    keys = [ids.decode_as(t["id"], "Ticket") for t in mine + theirs]
    for person in (agent, end_user, colleague):
        rows = await satisfaction.ratings_by_ticket(
            Context(app.state.settings, person.viewer), keys
        )
        for key, row in zip(keys, rows, strict=True):
            expected = await SatisfactionRating.get_or_none(ticket_id=key)
            ticket = await Ticket.get(id=key)
            if expected is None or not (person is agent or ticket.requester_id == person.row.pk):
                assert row is None
                continue
            assert (row.pk, row.score, row.comment, row.updated_at) == (
                expected.id, expected.score, expected.comment, expected.updated_at,
            )  # fmt: skip


async def test_a_ticket_list_reads_resolutions_and_ratings_in_fixed_statements(
    gql, agent, end_user, count_statements
):
    listing = (
        "{ tickets(first: 50) { edges { node { number satisfaction { score }"
        " resolution { body author { name } article { title } } } } } }"
    )
    counts = []
    for size in (2, 8):
        while len(made := await Ticket.all()) < size:
            ticket = await solved_ticket(gql, agent, end_user)
            await resolved(gql, agent, ticket["id"], publishAsArticle=len(made) % 2 == 0)
            await rated(gql, end_user, ticket["id"], "GOOD")
        with count_statements() as counter:
            result = await gql(listing, as_=end_user)
        nodes = [e["node"] for e in result["data"]["tickets"]["edges"]]
        assert len(nodes) == size and all(n["satisfaction"] and n["resolution"] for n in nodes)
        counts.append(counter.count)
    assert counts[0] == counts[1]


# ---------------------------------------------------------------- statistics


async def stats(gql, person, **args) -> dict:
    result = await gql(STATS, {k.rstrip("_"): v for k, v in args.items()}, as_=person)
    assert "errors" not in result, result
    return result["data"]["satisfactionStats"]


async def test_statistics_count_as_the_orm_counts(gql, agent, end_user, colleague):
    assert await stats(gql, agent) == {"good": 0, "bad": 0, "score": None}
    tickets = [await solved_ticket(gql, agent, end_user) for _ in range(7)]
    for i, ticket in enumerate(tickets[:6]):
        await rated(gql, end_user, ticket["id"], "BAD" if i % 3 == 0 else "GOOD")
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for i, rating in enumerate(await SatisfactionRating.all().order_by("id")):
        await SatisfactionRating.filter(id=rating.id).update(updated_at=base + timedelta(days=i))
    everything = await SatisfactionRating.all()
    good = sum(r.score is SatisfactionScore.GOOD for r in everything)
    bad = sum(r.score is SatisfactionScore.BAD for r in everything)
    assert await stats(gql, agent) == {"good": good, "bad": bad, "score": good / (good + bad)}
    since, until = base + timedelta(days=1), base + timedelta(days=4)
    window = [r for r in everything if since <= r.updated_at < until]
    expected_good = sum(r.score is SatisfactionScore.GOOD for r in window)
    got = await stats(gql, agent, from_=since.isoformat(), to=until.isoformat())
    assert got == {
        "good": expected_good,
        "bad": len(window) - expected_good,
        "score": expected_good / len(window),
    }
    later = await stats(gql, agent, from_=(base + timedelta(days=30)).isoformat())
    assert later == {"good": 0, "bad": 0, "score": None}
    earlier = await stats(gql, agent, to=(base + timedelta(days=2)).isoformat())
    assert earlier["good"] + earlier["bad"] == 2


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_customers_and_light_agents_get_no_statistics(gql, everyone, role):
    result = await gql(STATS, {}, as_=everyone[role])
    assert result["data"] == {"satisfactionStats": None}
    assert error_codes(result) == ["FORBIDDEN"]


@pytest.mark.parametrize("role", ["AGENT", "ADMIN", "OWNER"])
async def test_agents_and_above_read_statistics(gql, everyone, role):
    assert await stats(gql, everyone[role]) == {"good": 0, "bad": 0, "score": None}
