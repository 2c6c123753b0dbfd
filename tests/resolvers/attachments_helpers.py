"""Uploading files as a GraphQL multipart client does (graphql-multipart-request-spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.resolvers.tickets_helpers import TICKET_FIELDS

ATTACHMENT_FIELDS = "id filename contentType size sha256 url createdAt comment { id }"

CREATE_TICKET_WITH_FILES = f"""
mutation($input: CreateTicketInput!) {{
  createTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} attachments {{ {ATTACHMENT_FIELDS} }} }}
    errors {{ code field message }}
  }}
}}
"""

ADD_COMMENT_WITH_FILES = f"""
mutation($input: AddCommentInput!) {{
  addComment(input: $input) {{
    comment {{ id public attachments {{ {ATTACHMENT_FIELDS} }} }}
    errors {{ code field message }}
  }}
}}
"""

TICKET_ATTACHMENTS = f"""
query($number: Int!) {{
  ticket(number: $number) {{
    attachments {{ {ATTACHMENT_FIELDS} }}
    comments {{ edges {{ node {{ id public attachments {{ filename }} }} }} }}
  }}
}}
"""

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def multipart(query: str, variables: dict, files: list[tuple]) -> dict[str, Any]:
    """httpx arguments for an operation with files: each file is (variable path, name,
    content, content type); its variable must hold null in `variables`."""
    return {
        "data": {
            "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
            "map": orjson.dumps({str(i): [f[0]] for i, f in enumerate(files)}).decode(),
        },
        "files": {str(i): f[1:] for i, f in enumerate(files)},
    }


async def upload(
    http: httpx.AsyncClient, as_, query: str, variables: dict, files: list[tuple], **kwargs: Any
) -> httpx.Response:
    headers = {"authorization": f"Bearer {as_.token}"} if as_ else {}
    return await http.post(
        "/graphql", headers=headers, **multipart(query, variables, files), **kwargs
    )


async def ticket_with_files(gql, as_, files: list[tuple[str, bytes, str]], **fields) -> dict:
    """The createTicket payload for a ticket of `as_` with `files` (name, content, type)."""
    slots = [f"variables.input.attachments.{i}" for i in range(len(files))]
    request = {"subject": "Screen is blank", "description": "See the screenshot.", **fields}
    request["attachments"] = [None] * len(files)
    response = await upload(
        gql.http,
        as_,
        CREATE_TICKET_WITH_FILES,
        {"input": request},
        [(slot, *file) for slot, file in zip(slots, files, strict=True)],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["createTicket"]


async def comment_with_files(
    gql, as_, ticket_id: str, files: list[tuple[str, bytes, str]], **fields
) -> dict:
    """The addComment payload for a comment of `as_` with `files` (name, content, type)."""
    request = {"ticketId": ticket_id, "body": "Here it is.", **fields}
    request["attachments"] = [None] * len(files)
    slots = [f"variables.input.attachments.{i}" for i in range(len(files))]
    response = await upload(
        gql.http,
        as_,
        ADD_COMMENT_WITH_FILES,
        {"input": request},
        [(slot, *file) for slot, file in zip(slots, files, strict=True)],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["addComment"]


def stored_files(storage: Path) -> list[Path]:
    """Every file in the store, the unfinished ones (incoming/) included."""
    return sorted(p for p in storage.rglob("*") if p.is_file()) if storage.exists() else []
