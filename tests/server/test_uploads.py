"""The GraphQL multipart request spec on /graphql: files streamed to the store, the body
limit kept for operations and map, and nothing left behind by a refused or broken upload."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import orjson
import pytest

from guichet.models.attachments import Attachment
from guichet.models.tickets import Ticket
from guichet.server.graphql_http import MAX_BODY_BYTES
from tests.resolvers.attachments_helpers import (
    CREATE_TICKET_WITH_FILES,
    PNG,
    stored_files,
    upload,
)

NEW_TICKET = {"input": {"subject": "Broken", "description": "See file.", "attachments": [None]}}
SLOT = "variables.input.attachments.0"


@pytest.fixture
def small_limit(app, storage_dir):
    app.state.settings = replace(app.state.settings, max_upload_mb=1)


@pytest.fixture
async def live_client(live_server):
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=30) as client:
        yield client


async def test_a_screenshot_goes_up_and_comes_back_over_real_http(
    live_client, end_user, storage_dir
):
    response = await upload(
        live_client,
        end_user,
        CREATE_TICKET_WITH_FILES,
        NEW_TICKET,
        [(SLOT, "s.png", PNG, "image/png")],
    )
    assert response.status_code == 200, response.text
    [file] = response.json()["data"]["createTicket"]["ticket"]["attachments"]
    downloaded = await live_client.get(
        file["url"].removeprefix("http://127.0.0.1:8000"),
        headers={"authorization": f"Bearer {end_user.token}"},
    )
    assert (downloaded.status_code, downloaded.content) == (200, PNG)


async def test_files_are_not_held_to_the_body_limit(live_client, end_user, storage_dir):
    big = bytes(range(256)) * (MAX_BODY_BYTES // 256 + 2_000)
    response = await upload(
        live_client, end_user, CREATE_TICKET_WITH_FILES, NEW_TICKET, [(SLOT, "big.bin", big, "")]
    )
    body = response.json()
    assert body["data"]["createTicket"]["errors"] == []
    assert body["data"]["createTicket"]["ticket"]["attachments"][0]["size"] == len(big)


async def test_operations_are_held_to_the_body_limit(gql, end_user, storage_dir):
    variables = {"input": {**NEW_TICKET["input"], "description": "x" * MAX_BODY_BYTES}}
    response = await upload(
        gql.http, end_user, CREATE_TICKET_WITH_FILES, variables, [(SLOT, "a.txt", b"a", "")]
    )
    assert response.status_code == 413
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_file_over_the_limit_is_refused_over_real_http(
    live_client, end_user, storage_dir, small_limit
):
    big = b"z" * (1024 * 1024 + 1)
    response = await upload(
        live_client, end_user, CREATE_TICKET_WITH_FILES, NEW_TICKET, [(SLOT, "big.bin", big, "")]
    )
    payload = response.json()["data"]["createTicket"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("FILE_TOO_LARGE", ["input", "attachments", "0"])
    ]
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_file_far_over_the_limit_is_cut_off_with_413(
    gql, end_user, storage_dir, small_limit
):
    boundary = "huge"
    response = await gql.http.post(
        "/graphql",
        content=in_chunks(raw_multipart(boundary, b"z" * (3 * 1024 * 1024))),
        headers={
            "authorization": f"Bearer {end_user.token}",
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


def raw_multipart(boundary: str, content: bytes, *, end: bool = True) -> bytes:
    """A multipart body written out by hand: operations, map, one file (and the end)."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'.encode()
        + orjson.dumps({"query": CREATE_TICKET_WITH_FILES, "variables": NEW_TICKET})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'.encode()
        + orjson.dumps({"0": [SLOT]})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + (f"\r\n--{boundary}--\r\n".encode() if end else b"")
    )


async def in_chunks(body: bytes, size: int = 64 * 1024):
    """The body as a network delivers it: in pieces."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_an_upload_cut_short_leaves_nothing(live_server, end_user, storage_dir):
    boundary = "cut-short-boundary"
    head = raw_multipart(boundary, b"", end=False)
    host, port = live_server.split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            f"POST /graphql HTTP/1.1\r\nHost: {live_server}\r\n"
            f"Authorization: Bearer {end_user.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + 10_000_000}\r\n\r\n"
        ).encode()
        + head
        + b"y" * 300_000
    )
    await writer.drain()
    incoming = storage_dir / "incoming"
    for _ in range(500):  # the server is writing the file...
        if stored_files(storage_dir):
            break
        await asyncio.sleep(0.01)
    assert stored_files(storage_dir), "the upload never reached the store"
    writer.close()  # ... when the client goes away
    await writer.wait_closed()
    for _ in range(500):
        if not stored_files(storage_dir):
            break
        await asyncio.sleep(0.01)
    assert stored_files(storage_dir) == []
    assert incoming.exists() and not any(incoming.iterdir())
    assert await Ticket.all().count() == 0
    assert await Attachment.all().count() == 0


async def test_a_body_that_ends_early_is_refused_and_leaves_nothing(gql, end_user, storage_dir):
    boundary = "early"
    body = raw_multipart(boundary, b"half a file", end=False)
    response = await gql.http.post(
        "/graphql",
        content=body,
        headers={
            "authorization": f"Bearer {end_user.token}",
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 400
    assert "stopped" in response.json()["errors"][0]["message"]
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


# ---------------------------------------------------------------- refused before any file


async def test_uploading_needs_a_signed_in_viewer(gql, storage_dir):
    response = await upload(
        gql.http, None, CREATE_TICKET_WITH_FILES, NEW_TICKET, [(SLOT, "a.txt", b"a", "")]
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert stored_files(storage_dir) == []


async def test_files_go_with_mutations_only(gql, end_user, storage_dir):
    response = await upload(
        gql.http,
        end_user,
        "query($f: Upload) { viewer { id } }",
        {"f": None},
        [("variables.f", "a", b"a", "")],
    )
    assert response.status_code == 400
    assert "mutation" in response.json()["errors"][0]["message"]
    assert stored_files(storage_dir) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"map": "{}", "operations": "{}"}, "starts with the operations part"),
        ({"operations": "[]", "map": "{}"}, "no batches"),
        ({"operations": "{not json", "map": "{}"}, "not valid JSON"),
        ({"operations": '{"query": "mutation { x }"}', "map": '{"0": "variables.f"}'}, "map must"),
    ],
)
async def test_malformed_multipart_requests_are_refused(gql, end_user, data, message):
    response = await gql.http.post(
        "/graphql",
        data=data,
        files={"0": ("a", b"a")},
        headers={"authorization": f"Bearer {end_user.token}"},
    )
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


async def test_a_map_path_outside_the_variables_is_refused(gql, end_user, storage_dir):
    response = await upload(
        gql.http,
        end_user,
        CREATE_TICKET_WITH_FILES,
        NEW_TICKET,
        [("variables.input.subject", "a", b"a", "")],
    )
    assert response.status_code == 400
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_file_no_variable_takes_is_not_kept(gql, end_user, storage_dir):
    response = await gql.http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(
                {"query": CREATE_TICKET_WITH_FILES, "variables": NEW_TICKET}
            ).decode(),
            "map": orjson.dumps({"0": [SLOT]}).decode(),
        },
        files={"0": ("a.txt", b"kept"), "stray": ("b.txt", b"not kept")},
        headers={"authorization": f"Bearer {end_user.token}"},
    )
    payload = response.json()["data"]["createTicket"]
    assert [f["filename"] for f in payload["ticket"]["attachments"]] == ["a.txt"]
    assert len(stored_files(storage_dir)) == 1


async def test_a_multipart_body_without_a_boundary_is_refused(gql, end_user):
    response = await gql.http.post(
        "/graphql",
        content=b"{}",
        headers={
            "authorization": f"Bearer {end_user.token}",
            "content-type": "multipart/form-data",
        },
    )
    assert response.status_code == 400
    assert "boundary" in response.json()["errors"][0]["message"]


async def test_files_may_sit_in_a_variable_of_their_own(gql, end_user, storage_dir):
    query = (
        'mutation($f: [Upload!]) { createTicket(input: {subject: "Blank screen",'
        ' description: "See file", attachments: $f}) {'
        " ticket { attachments { filename } } errors { code } } }"
    )
    response = await upload(
        gql.http, end_user, query, {"f": [None, None]},
        [("variables.f.0", "a.png", PNG, "image/png"), ("variables.f.1", "b.txt", b"b", "")],
    )  # fmt: skip
    payload = response.json()["data"]["createTicket"]
    assert [f["filename"] for f in payload["ticket"]["attachments"]] == ["a.png", "b.txt"]


async def test_a_document_that_does_not_parse_reads_no_file(gql, end_user, storage_dir):
    response = await upload(
        gql.http, end_user, "mutation {", {"f": None}, [("variables.f", "a", b"a", "")]
    )
    assert response.status_code == 200
    assert "Syntax Error" in response.json()["errors"][0]["message"]
    assert stored_files(storage_dir) == []
