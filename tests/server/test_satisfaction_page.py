"""GET/POST /satisfaction over real HTTP: the survey mail's links work without a front
end; opening a link (as a mail scanner does) rates nothing, the button does."""

from __future__ import annotations

import httpx

from guichet.models.resolutions import SatisfactionRating
from guichet.models.tickets import Ticket
from guichet.resolvers.work.survey_tokens import survey_token
from tests.resolvers.work.test_resolutions import solved_ticket


async def token_of(settings, number: int) -> str:
    ticket = await Ticket.get(number=number)
    return survey_token(settings, ticket.id, ticket.requester_id, ticket.solved_at)


async def test_opening_the_link_asks_and_the_button_rates(
    live_server, settings, gql, agent, end_user
):
    ticket = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, ticket["number"])
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        shown = await client.get("/satisfaction", params={"token": token, "score": "BAD"})
        assert shown.status_code == 200
        assert shown.headers["content-type"].startswith("text/html")
        assert shown.headers["referrer-policy"] == "no-referrer"
        assert "Bad, I&#x27;m unsatisfied" in shown.text and "method=post" in shown.text
        assert await SatisfactionRating.all().count() == 0  # a GET never rates

        sent = await client.post(
            "/satisfaction", data={"token": token, "score": "BAD", "comment": "Too slow."}
        )
        assert sent.status_code == 200 and "Thank you" in sent.text
    rating = await SatisfactionRating.get()
    assert (rating.ticket_id, rating.score, rating.comment) == (
        (await Ticket.get(number=ticket["number"])).id,
        "BAD",
        "Too slow.",
    )


async def test_a_bad_link_is_refused_with_a_clear_page(live_server, settings, gql, agent, end_user):
    ticket = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, ticket["number"])
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        for params in (
            {"token": token[:-1] + ("A" if token[-1] != "A" else "B"), "score": "GOOD"},
            {"token": token, "score": "SUPERB"},
            {"score": "GOOD"},
        ):
            for response in (
                await client.get("/satisfaction", params=params),
                await client.post("/satisfaction", data=params),
            ):
                assert response.status_code == 400, params
                assert "This link cannot be used" in response.text
    assert await SatisfactionRating.all().count() == 0


async def test_a_reopened_ticket_is_not_rated_from_its_link(
    live_server, settings, gql, agent, end_user
):
    ticket = await solved_ticket(gql, agent, end_user)
    token = await token_of(settings, ticket["number"])
    await Ticket.filter(number=ticket["number"]).update(status="OPEN")
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        refused = await client.post("/satisfaction", data={"token": token, "score": "GOOD"})
    assert refused.status_code == 400 and "The ticket is open" in refused.text
    assert await SatisfactionRating.all().count() == 0
