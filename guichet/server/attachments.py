"""GET /attachments/{id}: an attachment's bytes, for whoever may see what it belongs to.

Signed in with the same bearer token as GraphQL (401 without one). A file the viewer may
not see (an internal note's, for an end user; another customer's ticket) answers 404,
exactly like a file that does not exist. The bytes are streamed from the store in chunks.
Whatever the declared type, the answer is a download, never a page of our origin:
`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and a sandboxing
Content-Security-Policy, so an uploaded HTML or SVG file cannot run as our site.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from guichet.models.db import is_unreachable
from guichet.resolvers import ids
from guichet.resolvers.errors import NotFound
from guichet.resolvers.tickets import attachments
from guichet.schema.faults import RETRY_AFTER_SECONDS, SERVICE_UNAVAILABLE
from guichet.server.auth import context_for

log = logging.getLogger("guichet.attachments")


def _error(status: int, message: str, code: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one (RFC 6266 / 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def download_attachment(request: Request) -> Response:
    try:
        return await _download(request)
    except Exception as error:
        if not is_unreachable(error):
            raise
        log.warning("a download failed: the database is unreachable")
        return _error(
            503,
            "The database cannot be reached right now. Try again in a few seconds.",
            SERVICE_UNAVAILABLE,
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


async def _download(request: Request) -> Response:
    context = await context_for(request.app.state, request.headers.get("authorization"))
    if context.viewer is None:
        return _error(
            401,
            "Sign in first: send 'Authorization: Bearer <token>'.",
            "UNAUTHENTICATED",
            {"WWW-Authenticate": "Bearer"},
        )
    pk = ids.decode_as(request.path_params["id"], "Attachment")
    try:
        if pk is None:
            raise NotFound
        row = await attachments.attachment_for_viewer(context, pk)
    except NotFound:
        return _error(404, "No such attachment.", "NOT_FOUND")
    store = attachments.file_store(context.settings)
    if not await store.exists(row.sha256):
        log.error("attachment %s: file %s is missing from the store", row.pk, row.sha256)
        return _error(404, "No such attachment.", "NOT_FOUND")
    return StreamingResponse(
        store.read(row.sha256),
        media_type=row.content_type,
        headers={
            "Content-Length": str(row.size),
            "Content-Disposition": content_disposition(row.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-cache",
        },
    )
