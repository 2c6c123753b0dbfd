"""POST /inbound/email: one raw message from a mail provider's inbound webhook.

The body is the message as received (`Content-Type: message/rfc822`), the header
`X-Guichet-Inbound-Token` the deployment's GUICHET_INBOUND_TOKEN (compared in constant
time). The route does not exist (404) while no token is configured. Answers are JSON:
200 with what became of the message, processed or ignored alike (a provider must not
retry an ignored mail forever); 401 for a wrong token, 413 for a message over the cap,
415 for another content type, 400 for an empty body; 503 when the database is down, so
the provider tries again later.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from guichet.models.db import is_unreachable
from guichet.resolvers.admin import help_center
from guichet.resolvers.mail.inbound import max_message_bytes, receive_mail

log = logging.getLogger("guichet.inbound")

TOKEN_HEADER = "x-guichet-inbound-token"
CONTENT_TYPES = ("message/rfc822", "application/octet-stream", "text/plain")
RETRY_AFTER_SECONDS = 60


def _answer(status: int, message: str, **more) -> JSONResponse:
    return JSONResponse({"error": message, **more}, status_code=status)


async def inbound_email(request: Request) -> JSONResponse:
    # The settings in effect (the support address admins set is "our own" address).
    settings = await help_center.effective_settings(request.app.state.settings)
    expected = settings.inbound_token
    if not expected:
        return _answer(404, "Not Found")
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("inbound mail refused: wrong or missing %s", TOKEN_HEADER)
        return _answer(401, f"Send the inbound token in {TOKEN_HEADER}.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        return _answer(415, "Send one raw message as Content-Type: message/rfc822.")
    limit = max_message_bytes(settings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _too_large(limit)
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                return _too_large(limit)
    except ClientDisconnect:
        log.info("inbound mail: the client went away mid-message; nothing done")
        return _answer(400, "The message stopped half way.")
    if not received.strip():
        return _answer(400, "The body is empty: send one raw message.")
    try:
        outcome = await receive_mail(settings, bytes(received), bus=request.app.state.bus)
    except Exception as error:
        if not is_unreachable(error):
            raise
        log.warning("inbound mail: database unreachable (%s); asked to retry", type(error).__name__)
        return JSONResponse(
            {"error": "The database cannot be reached right now. Try again later."},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if outcome.refused:
        return JSONResponse(outcome.as_json(), status_code=413)
    return JSONResponse(outcome.as_json(), status_code=200)


def _too_large(limit: int) -> JSONResponse:
    log.info("inbound mail refused: larger than %d bytes", limit)
    return _answer(413, f"The message is larger than {limit // 2**20} MB.")
