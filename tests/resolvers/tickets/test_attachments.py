"""Attachments: files that come with a new ticket or a comment, and who sees them."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace

import orjson
import pytest

from guichet.models.attachments import Attachment
from guichet.models.tickets import Comment, Ticket, TicketEvent, TicketEventKind
from guichet.resolvers.errors import Refused
from guichet.resolvers.tickets.attachments import (
    IncomingFile,
    SavedFile,
    forget_unused,
    safe_content_type,
    safe_filename,
    store_incoming,
    sweep_orphans,
)
from tests.resolvers.attachments_helpers import (
    PNG,
    TICKET_ATTACHMENTS,
    comment_with_files,
    stored_files,
    ticket_with_files,
)
from tests.resolvers.tickets_helpers import TICKETS, make_ticket


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def chunks(*parts: bytes):
    for part in parts:
        yield part


@pytest.fixture
def small_limit(app, storage_dir):
    """Uploads held to 1 MB (GUICHET_MAX_UPLOAD_MB=1)."""
    app.state.settings = replace(app.state.settings, max_upload_mb=1)


# ---------------------------------------------------------------- attaching


async def test_requester_attaches_screenshots_to_a_new_request(gql, end_user, storage_dir):
    payload = await ticket_with_files(
        gql,
        end_user,
        [("screen.png", PNG, "image/png"), ("log.txt", b"boot failed\n", "text/plain")],
    )
    assert payload["errors"] == []
    files = payload["ticket"]["attachments"]
    assert [(f["filename"], f["contentType"], f["size"]) for f in files] == [
        ("screen.png", "image/png", len(PNG)),
        ("log.txt", "text/plain", 12),
    ]
    assert files[0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert files[0]["comment"] is None  # the ticket's own file
    assert files[0]["url"] == f"http://127.0.0.1:8000/attachments/{files[0]['id']}"
    assert len(stored_files(storage_dir)) == 2
    events = await TicketEvent.filter(kind=TicketEventKind.ATTACHMENT_ADDED).order_by("id")
    assert [(e.public, orjson.loads(e.data)["filename"]) for e in events] == [
        (True, "screen.png"),
        (True, "log.txt"),
    ]


async def test_a_reply_carries_its_files(gql, agent, end_user, storage_dir):
    ticket = await make_ticket(gql, end_user)
    payload = await comment_with_files(
        gql, agent, ticket["id"], [("fix.pdf", b"%PDF-1.7 ...", "application/pdf")]
    )
    assert payload["errors"] == []
    comment = payload["comment"]
    [file] = comment["attachments"]
    assert (file["filename"], file["comment"]) == ("fix.pdf", {"id": comment["id"]})
    seen = await gql(TICKET_ATTACHMENTS, {"number": ticket["number"]}, as_=end_user)
    assert [f["filename"] for f in seen["data"]["ticket"]["attachments"]] == ["fix.pdf"]


async def test_end_user_never_sees_an_internal_notes_files(gql, agent, end_user, storage_dir):
    ticket = await make_ticket(gql, end_user)
    note = await comment_with_files(
        gql, agent, ticket["id"], [("margin.xlsx", b"secret numbers", "")], public=False
    )
    assert note["comment"]["attachments"][0]["contentType"] == "application/octet-stream"
    await comment_with_files(gql, agent, ticket["id"], [("reply.txt", b"hello", "text/plain")])

    staff = await gql(TICKET_ATTACHMENTS, {"number": ticket["number"]}, as_=agent)
    assert [f["filename"] for f in staff["data"]["ticket"]["attachments"]] == [
        "margin.xlsx",
        "reply.txt",
    ]
    customer = await gql(TICKET_ATTACHMENTS, {"number": ticket["number"]}, as_=end_user)
    assert [f["filename"] for f in customer["data"]["ticket"]["attachments"]] == ["reply.txt"]
    events = await TicketEvent.filter(kind=TicketEventKind.ATTACHMENT_ADDED).order_by("id")
    assert [(orjson.loads(e.data)["filename"], e.public) for e in events] == [
        ("margin.xlsx", False),
        ("reply.txt", True),
    ]


async def test_an_attachment_is_a_node_for_whoever_sees_what_it_belongs_to(
    gql, agent, end_user, storage_dir
):
    ticket = await make_ticket(gql, end_user)
    note = await comment_with_files(gql, agent, ticket["id"], [("n.txt", b"n", "")], public=False)
    file_id = note["comment"]["attachments"][0]["id"]
    query = "query($id: ID!) { node(id: $id) { id ... on Attachment { filename } } }"
    staff = await gql(query, {"id": file_id}, as_=agent)
    assert staff["data"]["node"] == {"id": file_id, "filename": "n.txt"}
    customer = await gql(query, {"id": file_id}, as_=end_user)
    assert customer["data"]["node"] is None


async def test_the_same_bytes_twice_are_stored_once(gql, end_user, storage_dir):
    await ticket_with_files(gql, end_user, [("a.png", PNG, "image/png")])
    await ticket_with_files(gql, end_user, [("b.png", PNG, "image/png")])
    assert await Attachment.all().count() == 2
    assert len(stored_files(storage_dir)) == 1


# ---------------------------------------------------------------- bad input


async def test_a_name_like_a_path_keeps_only_its_last_part(gql, end_user, storage_dir):
    payload = await ticket_with_files(gql, end_user, [("../../etc/passwd", b"root:x:0:0", "")])
    assert payload["ticket"]["attachments"][0]["filename"] == "passwd"
    assert not (storage_dir.parent / "etc").exists()
    assert [p.parent.parent.parent for p in stored_files(storage_dir)] == [storage_dir]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("in\x00voice\r\n.pdf", "invoice.pdf"),
        ("..", "attachment"),
        ("", "attachment"),
        (".htaccess", "htaccess"),
        ("é" * 300 + ".png", "é" * 251 + ".png"),
    ],
)
def test_file_names_are_sanitised(given, kept):
    assert safe_filename(given) == kept
    assert len(safe_filename(given)) <= 255


def test_content_types_are_kept_only_when_well_formed():
    assert safe_content_type("image/PNG; name=x") == "image/png"
    assert safe_content_type("text/html\r\nX-Evil: 1") == "application/octet-stream"
    assert safe_content_type("") == "application/octet-stream"


async def test_a_zero_byte_file_refuses_the_request(gql, end_user, storage_dir):
    payload = await ticket_with_files(
        gql, end_user, [("ok.txt", b"fine", "text/plain"), ("empty.txt", b"", "text/plain")]
    )
    assert codes(payload) == [("EMPTY_FILE", ["input", "attachments", "1"])]
    assert await Ticket.all().count() == 0
    assert await Attachment.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_file_over_the_limit_refuses_the_whole_request(
    gql, end_user, storage_dir, small_limit
):
    big = b"x" * (1024 * 1024 + 100_000)
    payload = await ticket_with_files(
        gql, end_user, [("small.txt", b"fine", "text/plain"), ("big.bin", big, "")]
    )
    assert codes(payload) == [("FILE_TOO_LARGE", ["input", "attachments", "1"])]
    assert "1 MB" in payload["errors"][0]["message"]
    assert await Ticket.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_refused_comment_leaves_no_file(gql, end_user, storage_dir):
    ticket = await make_ticket(gql, end_user)
    payload = await comment_with_files(
        gql, end_user, ticket["id"], [("a.txt", b"abc", "text/plain")], body="  "
    )
    assert codes(payload) == [("REQUIRED", ["input", "body"])]
    assert await Comment.all().count() == 0
    assert await Attachment.all().count() == 0
    assert stored_files(storage_dir) == []


async def test_a_file_of_a_ticket_kept_survives_a_refused_upload_of_the_same_bytes(
    gql, end_user, storage_dir
):
    first = await ticket_with_files(gql, end_user, [("a.png", PNG, "image/png")])
    refused = await comment_with_files(
        gql, end_user, first["ticket"]["id"], [("a.png", PNG, "image/png")], body=""
    )
    assert codes(refused) == [("REQUIRED", ["input", "body"])]
    assert len(stored_files(storage_dir)) == 1


async def test_files_sent_inside_json_are_refused(gql, end_user):
    result = await gql(
        "mutation($input: CreateTicketInput!) { createTicket(input: $input) {"
        " ticket { id } errors { code field } } }",
        {"input": {"subject": "s", "description": "d", "attachments": ["aGVsbG8="]}},
        as_=end_user,
    )
    payload = result["data"]["createTicket"]
    assert codes(payload) == [("NOT_A_FILE", ["input", "attachments", "0"])]
    assert await Ticket.all().count() == 0


# ---------------------------------------------------------------- the interface mail uses


async def test_store_incoming_refuses_an_empty_file_and_keeps_nothing(app, storage_dir):
    settings = app.state.settings
    files = [
        IncomingFile("a.txt", "text/plain", chunks(b"hello ", b"world")),
        IncomingFile("b.txt", "text/plain", chunks()),
    ]
    with pytest.raises(Refused) as refused:
        await store_incoming(settings, files, ["attachments"])
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("EMPTY_FILE", ["attachments", "1"])
    ]
    assert stored_files(storage_dir) == []


async def test_forget_unused_removes_only_files_no_attachment_refers_to(
    app, gql, end_user, storage_dir
):
    settings = app.state.settings
    await ticket_with_files(gql, end_user, [("a.png", PNG, "image/png")])
    saved = await store_incoming(
        settings,
        [
            IncomingFile("again.png", "image/png", chunks(PNG)),
            IncomingFile("new.txt", "text/plain", chunks(b"new")),
        ],
        ["attachments"],
    )
    assert [type(s) for s in saved] == [SavedFile, SavedFile]
    assert len(stored_files(storage_dir)) == 2
    await forget_unused(settings, saved)
    assert [p.name for p in stored_files(storage_dir)] == [hashlib.sha256(PNG).hexdigest()]


async def test_the_worker_sweeps_old_files_no_attachment_needs(app, gql, end_user, storage_dir):
    """Left by a process that died between saving and attaching: swept after a day; a
    file a ticket has, and one saved within the day, stay."""
    settings = app.state.settings
    await ticket_with_files(gql, end_user, [("a.png", PNG, "image/png")])
    await store_incoming(
        settings, [IncomingFile("lost.txt", "text/plain", chunks(b"lost"))], ["attachments"]
    )
    two_days_ago = time.time_ns() - 2 * 86_400 * 1_000_000_000
    for path in stored_files(storage_dir):
        os.utime(path, ns=(two_days_ago, two_days_ago))
    await store_incoming(
        settings, [IncomingFile("new.txt", "text/plain", chunks(b"new"))], ["attachments"]
    )
    assert await sweep_orphans(settings) == 1
    left = {p.name for p in stored_files(storage_dir)}
    assert left == {hashlib.sha256(PNG).hexdigest(), hashlib.sha256(b"new").hexdigest()}


async def test_a_failed_request_leaves_the_file_another_request_is_about_to_attach(
    app, gql, end_user, storage_dir
):
    """Two requests upload the same bytes (one file); the first fails and gives its files
    back before the second has attached them: the second's ticket still has its file."""
    settings = app.state.settings
    failing = await store_incoming(
        settings, [IncomingFile("a.txt", "text/plain", chunks(b"same"))], ["attachments"]
    )
    succeeding = await store_incoming(
        settings, [IncomingFile("b.txt", "text/plain", chunks(b"same"))], ["attachments"]
    )
    await forget_unused(settings, failing)
    assert [p.name for p in stored_files(storage_dir)] == [hashlib.sha256(b"same").hexdigest()]
    await forget_unused(settings, succeeding)  # and once nobody needs them, they go
    assert stored_files(storage_dir) == []


# ---------------------------------------------------------------- lists stay batched


async def test_a_ticket_list_with_attachments_costs_the_same_statements_for_any_page(
    gql, agent, end_user, storage_dir, count_statements
):
    for i in range(6):
        payload = await ticket_with_files(gql, end_user, [(f"{i}.txt", b"%d" % i, "text/plain")])
        await comment_with_files(gql, agent, payload["ticket"]["id"], [("r.txt", b"r", "")])
    query = TICKETS.replace(
        "node { id number subject status }",
        "node { id attachments { filename comment { id body } }"
        " comments(first: 2) { edges { node { attachments { filename url } } } } }",
    )
    counts = []
    for first in (2, 6):
        with count_statements() as counter:
            result = await gql(query, {"first": first}, as_=agent)
        assert "errors" not in result, result
        edges = result["data"]["tickets"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["attachments"]) == 2 for e in edges)
        counts.append(counter.count)
    assert counts[0] == counts[1]
