"""The survey link's token: it names one ticket and its requester, is signed, and ends
with the rating window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.tickets import Ticket
from guichet.resolvers.errors import Refused
from guichet.resolvers.work.survey_tokens import read_survey_token, survey_token
from tests.resolvers.work.test_resolutions import solved_ticket

RATE = """
mutation($input: RateSatisfactionInput!) {
  rateSatisfaction(input: $input) { satisfaction { score comment } errors { code field } }
}
"""


async def token_of(settings, number: int) -> str:
    ticket = await Ticket.get(number=number)
    return survey_token(settings, ticket.id, ticket.requester_id, ticket.solved_at)


async def rate_with(gql, ticket_id: str, token: str, as_=None, score: str = "GOOD") -> dict:
    request = {"ticketId": ticket_id, "score": score, "comment": "Quick.", "surveyToken": token}
    result = await gql(RATE, {"input": request}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["rateSatisfaction"]


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def test_a_token_rates_its_ticket_as_its_requester_without_signing_in(
    gql, settings, agent, end_user
):
    ticket = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, ticket["number"])
    payload = await rate_with(gql, ticket["id"], token)
    assert payload == {"satisfaction": {"score": "GOOD", "comment": "Quick."}, "errors": []}
    # The requester may change it with the same link, during the window.
    assert (await rate_with(gql, ticket["id"], token, score="BAD"))["satisfaction"][
        "score"
    ] == "BAD"
    seen = await gql(
        "query($n: Int!) { ticket(number: $n) { satisfaction { score } } }",
        {"n": ticket["number"]},
        as_=end_user,
    )
    assert seen["data"]["ticket"]["satisfaction"] == {"score": "BAD"}


async def test_a_token_never_rates_another_ticket_even_for_someone_signed_in(
    gql, settings, agent, end_user
):
    mine = await solved_ticket(gql, agent, end_user)
    other = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, mine["number"])
    for as_ in (None, agent):
        assert codes(await rate_with(gql, other["id"], token, as_=as_)) == ["INVALID_SURVEY_TOKEN"]


async def test_a_changed_or_foreign_token_is_refused(gql, settings, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, ticket["number"])
    number, requester, expires, signature = token.split(".")
    forged = [
        f"{number}.{int(requester) + 1}.{expires}.{signature}",  # another requester
        f"{number}.{requester}.{int(expires) + 86400}.{signature}",  # a longer window
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        await token_of(replace(settings, secret_key="another deployment's key"), ticket["number"]),
        "garbage",
        "",
    ]
    for attempt in forged:
        assert codes(await rate_with(gql, ticket["id"], attempt)) == ["INVALID_SURVEY_TOKEN"]


async def test_a_token_ends_with_the_rating_window(gql, settings, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    solved_long_ago = datetime.now(UTC) - timedelta(days=settings.csat_window_days + 1)
    pk = (await Ticket.get(number=ticket["number"])).id
    token = survey_token(settings, pk, (await Ticket.get(id=pk)).requester_id, solved_long_ago)
    with pytest.raises(Refused) as refused:
        read_survey_token(settings, token)
    assert refused.value.errors[0].code == "RATING_WINDOW_CLOSED"
    assert codes(await rate_with(gql, ticket["id"], token)) == ["RATING_WINDOW_CLOSED"]


async def test_without_a_token_rating_still_needs_a_sign_in(gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    request = {"ticketId": ticket["id"], "score": "GOOD"}
    result = await gql(RATE, {"input": request})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
