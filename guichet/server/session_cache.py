"""Signed-in viewers remembered for a moment, so a busy client does not cost a session
lookup per request.

A token's viewer is kept for at most FRESH_SECONDS (never past the token's own expiry).
An ended session (logout, password change, deactivation) is forgotten at once by the
process that ended it (`ForgetOnPublish`, before the answer to that request is sent) and,
on the other processes, as soon as the news reaches them: `LiveSessions` hears it on the
bus and calls `forget`, the same way it closes the session's websockets. If the bus is away, FRESH_SECONDS bounds how long an
ended session may still be served here, the same bound as the websocket poll.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from guichet.resolvers import topics
from guichet.resolvers.context import Viewer

FRESH_SECONDS = 2.0
MAX_ENTRIES = 10_000


class SessionCache:
    def __init__(
        self,
        lookup: Callable[[str], Awaitable[Viewer | None]],
        fresh_seconds: float = FRESH_SECONDS,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._lookup = lookup
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        # token -> (viewer, monotonic deadline, wall-clock expiry of the token)
        self._entries: dict[str, tuple[Viewer, float, int | None]] = {}

    async def viewer(self, token: str) -> Viewer | None:
        entry = self._entries.get(token)
        if entry is not None:
            viewer, deadline, expires_at = entry
            if time.monotonic() < deadline and (expires_at is None or expires_at > time.time()):
                return viewer
            del self._entries[token]
        viewer = await self._lookup(token)
        # Only valid sessions are kept: a wrong token is looked up every time, so a forged
        # or revoked one never shadows a fresh sign-in.
        if viewer is not None:
            if len(self._entries) >= self.max_entries:
                # Oldest first (dicts keep insertion order): a flood of new tokens cannot
                # grow the cache past its bound.
                for stale in list(self._entries)[: self.max_entries // 10 or 1]:
                    del self._entries[stale]
            self._entries[token] = (
                viewer,
                time.monotonic() + self.fresh_seconds,
                viewer.expires_at,
            )
        return viewer

    def forget(self, *, session_ids: Iterable[str] = (), user_ids: Iterable[int] = ()) -> int:
        """Drop the viewers of these sessions or users; returns how many were dropped."""
        sessions, users = set(session_ids), set(user_ids)
        if not sessions and not users:
            return 0
        doomed = [
            token
            for token, (viewer, _, _) in self._entries.items()
            if viewer.session_id in sessions or viewer.id in users
        ]
        for token in doomed:
            del self._entries[token]
        return len(doomed)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class ForgetOnPublish:
    """The bus as the rules see it, forgetting an ended session's viewer in this process as
    the rule announces it: the bus delivers to this process's own listeners a moment
    later, and the client's next request must not be served in between."""

    def __init__(self, bus: Any, cache: SessionCache) -> None:
        self._bus = bus
        self._cache = cache
        self._topic = topics.ended_sessions()

    async def publish(self, topic: str, message: Any) -> None:
        if topic == self._topic and isinstance(message, dict):
            self._cache.forget(
                session_ids=message.get("sessions") or (), user_ids=message.get("users") or ()
            )
        await self._bus.publish(topic, message)

    def __getattr__(self, name: str) -> Any:
        # Everything else (subscribe, connect, health) is the bus's own.
        return getattr(self._bus, name)
