"""The satisfaction survey's links: a signed token naming one ticket and its requester.

The survey mail's GOOD / BAD links carry a token that lets `rateSatisfaction` rate that
ticket, as its requester, without signing in, until the rating window closes. It is an
HMAC (SHA-256, the deployment's secret key) over "survey", the ticket, the requester and
the expiry: a token for one ticket never rates another, and a changed character is
refused. It is not single-use: the requester may change the rating during the window,
as when signed in. A token outlives nothing else: a ticket whose requester changed, or
that was reopened, refuses it through the rating's own rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from guichet.models.people import User
from guichet.resolvers import ids
from guichet.resolvers.context import Context, Viewer
from guichet.resolvers.errors import Refused, UserError

if TYPE_CHECKING:
    from guichet.server.settings import Settings

PATH = ["input", "surveyToken"]


class SurveyTokenErrorCode(StrEnum):
    INVALID_SURVEY_TOKEN = "INVALID_SURVEY_TOKEN"
    RATING_WINDOW_CLOSED = "RATING_WINDOW_CLOSED"


@dataclass(frozen=True, slots=True)
class SurveyToken:
    ticket_pk: int
    requester_pk: int
    expires_at: datetime


def _signature(secret_key: str, payload: str) -> str:
    # "survey." keeps these apart from every other signed token of the deployment.
    digest = hmac.new(secret_key.encode(), f"survey.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def rating_window_end(settings: Settings, solved_at: datetime) -> datetime:
    """Until when a ticket solved at `solved_at` may be rated."""
    return solved_at + timedelta(days=settings.csat_window_days)


def survey_token(settings: Settings, ticket_pk: int, requester_pk: int, solved_at: datetime) -> str:
    """The token of a survey mail: valid while the ticket's rating window is open."""
    expires = int(rating_window_end(settings, solved_at).timestamp())
    payload = f"{ticket_pk}.{requester_pk}.{expires}"
    return f"{payload}.{_signature(settings.secret_key, payload)}"


def _invalid() -> Refused:
    return Refused(
        UserError(
            "This survey link is not valid; sign in to rate the request.",
            SurveyTokenErrorCode.INVALID_SURVEY_TOKEN,
            PATH,
        )
    )


def read_survey_token(settings: Settings, token: str) -> SurveyToken:
    """What a token names, once its signature holds and its window is open; Refused else."""
    parts = (token or "").split(".")
    if len(token or "") > 200 or len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        raise _invalid()
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _signature(settings.secret_key, payload)):
        raise _invalid()
    ticket_pk, requester_pk, expires = (int(p) for p in parts[:3])
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= datetime.now(UTC):
        raise Refused(
            UserError(
                "The rating window of this request has closed.",
                SurveyTokenErrorCode.RATING_WINDOW_CLOSED,
                PATH,
            )
        )
    return SurveyToken(ticket_pk, requester_pk, expires_at)


async def requester_context(context: Context, token: str, ticket_id: str) -> Context:
    """A context acting as the requester the token names, for `ticket_id` only: a token of
    another ticket (or a tampered one) is refused, whoever asks."""
    found = read_survey_token(context.settings, token)
    if ids.decode_as(ticket_id, "Ticket") != found.ticket_pk:
        raise _invalid()
    user = await User.get_or_none(id=found.requester_pk)
    if user is None:
        raise _invalid()
    viewer = Viewer(user.id, user.name, user.email, user.role)
    return Context(context.settings, viewer, context.bus)
