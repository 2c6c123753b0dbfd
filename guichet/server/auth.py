"""Credentials at the door: the bearer token of a request or websocket connection."""

from __future__ import annotations

from typing import Any

from guichet.resolvers.admin import help_center
from guichet.resolvers.context import Context, Viewer
from guichet.resolvers.people.auth import viewer_from_token


def bearer_token(value: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def viewer_for(state: Any, authorization: Any, *, fresh: bool = False) -> Viewer | None:
    """The viewer of an Authorization value. `fresh` asks the database even when the
    viewer is remembered: a websocket signs in once and then lives for hours."""
    token = bearer_token(authorization)
    if token is None:
        return None
    sessions = getattr(state, "session_cache", None)
    if sessions is not None and not fresh:
        return await sessions.viewer(token)
    return await viewer_from_token(state.settings.secret_key, token)


async def context_for(state: Any, authorization: str | None) -> Context:
    # The settings in effect: the environment's with what admins stored laid over.
    settings = await help_center.effective_settings(state.settings)
    return Context(settings, await viewer_for(state, authorization), state.bus)
