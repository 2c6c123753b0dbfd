"""POST /inbound/email, as a mail provider's inbound webhook calls it, over real HTTP."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from guichet.models.mail import MailMessage
from tests.resolvers.inbound_helpers import mail, raw, ticket_count

TOKEN = "inbound-token-0123456789"
RFC822 = {"content-type": "message/rfc822"}


@pytest.fixture
def inbound_token(app):
    settings = app.state.settings
    app.state.settings = replace(settings, inbound_token=TOKEN, max_upload_mb=1)
    yield TOKEN
    app.state.settings = settings


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=10) as client:
        yield client


async def post(http, body: bytes, *, token: str | None = TOKEN, **headers: str):
    sent = {**RFC822, **headers}
    if token is not None:
        sent["x-guichet-inbound-token"] = token
    return await http.post("/inbound/email", content=body, headers=sent)


async def test_inbound_route_opens_a_ticket(http, inbound_token):
    response = await post(http, raw(mail()))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "RECEIVED", "action": "TICKET_OPENED", "reason": None, "ticket": 1,
    }  # fmt: skip
    assert await ticket_count() == 1


async def test_inbound_route_answers_200_for_an_ignored_mail(http, inbound_token):
    response = await post(http, raw(mail(Auto_Submitted="auto-replied")))
    assert response.status_code == 200
    assert response.json()["status"] == "IGNORED"
    assert response.json()["reason"] == "auto-reply (Auto-Submitted: auto-replied)"
    assert await ticket_count() == 0


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
async def test_inbound_route_refuses_a_wrong_token(http, inbound_token, token):
    response = await post(http, raw(mail()), token=token)
    assert response.status_code == 401
    assert await ticket_count() == 0
    assert await MailMessage.all().count() == 0


async def test_inbound_route_is_off_without_a_token(http):
    response = await post(http, raw(mail()), token="")
    assert response.status_code == 404
    assert await MailMessage.all().count() == 0


async def test_inbound_route_takes_only_a_raw_message(http, inbound_token):
    wrong = await post(http, b'{"from": "x"}', **{"content-type": "application/json"})
    assert wrong.status_code == 415
    empty = await post(http, b"")
    assert empty.status_code == 400
    assert await MailMessage.all().count() == 0


async def test_inbound_route_refuses_a_message_over_the_cap(http, inbound_token):
    # 1 MB uploads: messages up to 1 MB * 4/3 + 1 MB.
    response = await post(http, raw(mail()) + b"x" * (3 * 2**20))
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert await ticket_count() == 0

    async def chunks():  # no Content-Length: read until the cap, then refused
        yield raw(mail())
        for _ in range(30):
            yield b"x" * 2**17

    streamed = await http.post(
        "/inbound/email", content=chunks(), headers={**RFC822, "x-guichet-inbound-token": TOKEN}
    )
    assert streamed.status_code == 413
    assert await ticket_count() == 0


async def test_inbound_route_refuses_huge_headers(http, inbound_token):
    message = mail()
    for i in range(1200):
        message[f"X-Filler-{i}"] = "x" * 60
    response = await post(http, raw(message))
    assert response.status_code == 413
    assert response.json()["reason"] == "headers larger than 64 kB"
    assert await ticket_count() == 0
