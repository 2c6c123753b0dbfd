"""Open websockets by the session they signed in with, and ending them when it ends.

An HTTP request checks its token against the database every time; a websocket checks it
once, at `connection_init`, and then lives for hours. So when a session ends (logout, a
password change, a deactivation) every process must find that session's sockets and close
them: the viewer is dropped from the connection's context first (a new operation answers
UNAUTHENTICATED, a subscription stops delivering), then the socket is closed with 4401.

Two ways bring the news, so neither a lost message nor a slow poll is the only chance:
- the bus: the process that ended the session publishes `topics.ended_sessions()` after
  its commit, and every process hears it at once;
- the database: every POLL_SECONDS each process with open sockets reads the sessions
  revoked recently (an indexed range), which also covers a bus outage and a token that
  simply expires while its socket is open.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from guichet.resolvers import topics
from guichet.resolvers.context import Context
from guichet.resolvers.sql import fetch
from guichet.server.bus_watch import BusWatch
from guichet.subscriptions.bus import RESUMED

log = logging.getLogger("guichet.sessions")

POLL_SECONDS = 2.0
# Revocations looked at by each poll: generous, so clocks a little apart lose nothing.
LOOK_BACK = timedelta(minutes=2)
CLOSE_CODE = 4401
CLOSE_REASON = "Session ended"


class LiveSessions:
    def __init__(
        self, bus: Any, poll_seconds: float = POLL_SECONDS, session_cache: Any = None
    ) -> None:
        # The HTTP side's remembered viewers (server/session_cache.py), forgotten with them.
        self.session_cache = session_cache
        self._by_session: dict[str, set[Context]] = {}
        self._by_user: dict[int, set[Context]] = {}
        self._keys: dict[Context, tuple[str, int]] = {}
        self._watch = BusWatch(
            bus,
            topics.ended_sessions(),
            heard=self._heard,
            poll=self.check_database,
            poll_seconds=poll_seconds,
            task_names=("guichet-ended-sessions", "guichet-session-poll"),
            log=log,
            what="ended sessions",
        )

    # ------------------------------------------------------------ bookkeeping

    def register(self, context: Context) -> None:
        viewer = context.viewer
        if viewer is None or viewer.session_id is None:
            return
        self._by_session.setdefault(viewer.session_id, set()).add(context)
        self._by_user.setdefault(viewer.id, set()).add(context)
        # Kept apart from the viewer, which is dropped when the session ends.
        self._keys[context] = (viewer.session_id, viewer.id)

    def forget(self, context: Context) -> None:
        keys = self._keys.pop(context, None)
        if keys is None:
            return
        for index, key in zip((self._by_session, self._by_user), keys, strict=True):
            contexts = index.get(key)
            if contexts is not None:
                contexts.discard(context)
                if not contexts:
                    del index[key]

    @property
    def open_connections(self) -> int:
        return sum(len(c) for c in self._by_session.values())

    # ------------------------------------------------------------ ending

    async def end(self, *, session_ids: Any = (), user_ids: Any = ()) -> int:
        """Close every socket signed in with one of these sessions or as one of these users,
        and forget their remembered viewers."""
        session_ids, user_ids = list(session_ids), list(user_ids)
        if self.session_cache is not None:
            self.session_cache.forget(session_ids=session_ids, user_ids=user_ids)
        doomed: set[Context] = set()
        for session_id in session_ids:
            doomed |= self._by_session.get(session_id, set())
        for user_id in user_ids:
            doomed |= self._by_user.get(user_id, set())
        for context in doomed:
            await self._close(context)
        return len(doomed)

    async def _close(self, context: Context) -> None:
        context.viewer = None  # from now on: UNAUTHENTICATED, and no more events
        self.forget(context)
        websocket = context.websocket
        if websocket is not None:
            with contextlib.suppress(Exception):  # already closing or gone
                await websocket.close(code=CLOSE_CODE, reason=CLOSE_REASON)

    # ------------------------------------------------------------ watching

    async def start(self) -> None:
        await self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    async def _heard(self, message: Any) -> None:
        if message is RESUMED:
            await self.check_database()  # what the outage may have hidden
            return
        await self.end(
            session_ids=message.get("sessions") or (), user_ids=message.get("users") or ()
        )

    async def check_database(self) -> None:
        """End the sockets of sessions revoked lately, and of tokens that expired."""
        if not self._by_session:
            return
        now = datetime.now(UTC)
        rows = await fetch(
            'SELECT id, user_id FROM "session" WHERE revoked_at > $1', now - LOOK_BACK
        )
        ended = {r["id"] for r in rows if r["id"] in self._by_session}
        clock = time.time()
        for contexts in self._by_session.values():
            for context in contexts:
                viewer = context.viewer
                if viewer is not None and viewer.expires_at and viewer.expires_at <= clock:
                    ended.add(viewer.session_id)
        if ended:
            await self.end(session_ids=ended)
