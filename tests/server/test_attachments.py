"""GET /attachments/{id}: the file, for whoever may see what it belongs to; 404 for others."""

from __future__ import annotations

import hashlib

import httpx

from guichet.models.people import Organization
from guichet.resolvers import ids
from guichet.server.attachments import content_disposition
from tests.resolvers.attachments_helpers import PNG, comment_with_files, ticket_with_files
from tests.resolvers.tickets_helpers import make_ticket


async def download(gql, as_, url: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {as_.token}"} if as_ else {}
    return await gql.http.get(url.removeprefix("http://127.0.0.1:8000"), headers=headers)


async def internal_note_file(gql, agent, end_user) -> str:
    ticket = await make_ticket(gql, end_user)
    note = await comment_with_files(
        gql, agent, ticket["id"], [("margin.csv", b"cost,42\n", "text/csv")], public=False
    )
    return note["comment"]["attachments"][0]["url"]


async def test_requester_downloads_their_screenshot(gql, end_user, storage_dir):
    payload = await ticket_with_files(gql, end_user, [("écran 1.png", PNG, "image/png")])
    response = await download(gql, end_user, payload["ticket"]["attachments"][0]["url"])
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(PNG))
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"_cran 1.png\"; filename*=UTF-8''%C3%A9cran%201.png"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(response.content).hexdigest() == hashlib.sha256(PNG).hexdigest()


async def test_end_user_cannot_download_an_internal_notes_file(
    gql, agent, light_agent, end_user, storage_dir
):
    url = await internal_note_file(gql, agent, end_user)
    refused = await download(gql, end_user, url)
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await download(gql, agent, url)).status_code == 200
    assert (await download(gql, light_agent, url)).status_code == 200


async def test_another_customer_gets_404_as_for_a_missing_file(
    gql, end_user, other_customer, storage_dir
):
    payload = await ticket_with_files(gql, end_user, [("bill.pdf", b"%PDF", "application/pdf")])
    url = payload["ticket"]["attachments"][0]["url"]
    hidden = await download(gql, other_customer, url)
    missing = await download(gql, end_user, "/attachments/" + ids.encode("Attachment", 999_999))
    nonsense = await download(gql, end_user, "/attachments/not-an-id")
    assert hidden.status_code == missing.status_code == nonsense.status_code == 404
    assert hidden.json() == missing.json() == nonsense.json()


async def test_a_colleague_of_a_sharing_organization_downloads_its_files(
    gql, end_user, colleague, org, storage_dir
):
    await Organization.filter(id=org.pk).update(shared_tickets=True)
    payload = await ticket_with_files(gql, end_user, [("a.txt", b"shared", "text/plain")])
    response = await download(gql, colleague, payload["ticket"]["attachments"][0]["url"])
    assert (response.status_code, response.content) == (200, b"shared")


async def test_downloading_needs_a_signed_in_viewer(gql, end_user, storage_dir):
    payload = await ticket_with_files(gql, end_user, [("a.txt", b"abc", "text/plain")])
    response = await download(gql, None, payload["ticket"]["attachments"][0]["url"])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_uploaded_web_page_is_only_ever_a_download(gql, end_user, storage_dir):
    page = b"<script>alert(document.cookie)</script>"
    payload = await ticket_with_files(gql, end_user, [("x.html", page, "text/html")])
    response = await download(gql, end_user, payload["ticket"]["attachments"][0]["url"])
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("sandbox")


async def test_a_file_missing_from_the_store_answers_404(gql, end_user, storage_dir):
    payload = await ticket_with_files(gql, end_user, [("a.txt", b"gone", "text/plain")])
    for path in storage_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    response = await download(gql, end_user, payload["ticket"]["attachments"][0]["url"])
    assert response.status_code == 404


def test_file_names_in_the_disposition_header_cannot_break_it():
    assert content_disposition('a"b\\c.txt') == (
        "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt"
    )
