"""GET/POST /satisfaction: the survey mail's links, for a deployment without a front end.

The GOOD / BAD links of the survey mail point here by default (GUICHET_SATISFACTION_LINK).
GET only shows what the link would record and a button: mail scanners and link previews
fetch links, and must not rate anything. The button POSTs the token and the score (and
an optional comment), which `rateSatisfaction`'s rule records as the requester the token
names, for that ticket only. The token is in the address: the page keeps it out of
referrers, frames and third-party loads.
"""

from __future__ import annotations

import logging
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from guichet.models.resolutions import SatisfactionScore
from guichet.resolvers import ids
from guichet.resolvers.admin import help_center
from guichet.resolvers.context import Context
from guichet.resolvers.errors import AccessError, Refused
from guichet.resolvers.work import satisfaction
from guichet.resolvers.work.survey_tokens import read_survey_token

log = logging.getLogger("guichet.satisfaction")

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LABELS = {"GOOD": "Good, I'm satisfied", "BAD": "Bad, I'm unsatisfied"}
MAX_FORM_BYTES = 64 * 1024


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;max-width:36em;"
        "margin:3em auto;padding:0 1em}textarea{width:100%}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refusal(message: str, status: int = 400) -> HTMLResponse:
    return _page("This link cannot be used", f"<p>{escape(message)}</p>", status)


def _score(value: str | None) -> SatisfactionScore | None:
    return SatisfactionScore(value) if value in LABELS else None


async def satisfaction_page(request: Request) -> HTMLResponse:
    # The settings in effect (admins may have turned ratings off or changed the window).
    settings = await help_center.effective_settings(request.app.state.settings)
    if request.method == "POST":
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return _refusal("The form is too large.", 413)
        form = await request.form()
        token, score, comment = form.get("token"), form.get("score"), form.get("comment")
    else:
        token, score, comment = (
            request.query_params.get("token"),
            request.query_params.get("score"),
            None,
        )
    chosen = _score(score if isinstance(score, str) else None)
    if not isinstance(token, str) or chosen is None:
        return _refusal("The link is incomplete: it needs its token and a score, GOOD or BAD.")
    try:
        survey = read_survey_token(settings, token)
    except Refused as refused:
        return _refusal(refused.errors[0].message)
    if request.method != "POST":
        return _page(
            "Rate your request",
            f"<p>Your rating: <strong>{escape(LABELS[chosen.value])}</strong>.</p>"
            '<form method=post action="/satisfaction">'
            f'<input type=hidden name=token value="{escape(token)}">'
            f'<input type=hidden name=score value="{chosen.value}">'
            "<p><label>A comment (optional):<br><textarea name=comment rows=4 maxlength=10000>"
            "</textarea></label></p><p><button type=submit>Send my rating</button></p></form>",
        )
    context = Context(settings, None, request.app.state.bus)
    try:
        await satisfaction.rate(
            context,
            ticket_id=ids.encode("Ticket", survey.ticket_pk),
            score=chosen,
            comment=comment if isinstance(comment, str) else None,
            survey_token=token,
        )
    except Refused as refused:
        return _refusal(refused.errors[0].message)
    except AccessError:
        return _refusal("This request cannot be rated any more.", 404)
    log.info("satisfaction rated from the survey page")
    return _page(
        "Thank you", "<p>Your rating is recorded. You may change it from the same link.</p>"
    )
