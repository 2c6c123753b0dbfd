"""A signed-in viewer is remembered for a moment, and forgotten the moment the session ends."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from guichet.models.auth import Session
from guichet.models.people import Role
from guichet.resolvers.context import Viewer
from guichet.server.session_cache import SessionCache
from tests.conftest import error_codes

ME = "query { me { email } }"
LOGOUT = "mutation { logout { errors { code } } }"


def _viewer(pk: int = 1, session: str = "s1", expires_at: int | None = None) -> Viewer:
    return Viewer(pk, "Ana", "ana@example.test", Role.AGENT, session, expires_at)


class _Lookups:
    def __init__(self, answer: Viewer | None) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self, token: str) -> Viewer | None:
        self.calls += 1
        return self.answer


async def test_a_busy_client_is_looked_up_once_while_fresh():
    lookups = _Lookups(_viewer())
    cache = SessionCache(lookups)
    for _ in range(20):
        assert (await cache.viewer("t")) == lookups.answer
    assert lookups.calls == 1


async def test_a_remembered_viewer_is_looked_up_again_once_stale():
    lookups = _Lookups(_viewer())
    cache = SessionCache(lookups, fresh_seconds=0.05)
    await cache.viewer("t")
    await asyncio.sleep(0.06)
    await cache.viewer("t")
    assert lookups.calls == 2


async def test_an_unknown_token_is_never_remembered():
    lookups = _Lookups(None)
    cache = SessionCache(lookups)
    assert await cache.viewer("forged") is None
    assert await cache.viewer("forged") is None
    assert lookups.calls == 2
    assert len(cache) == 0


async def test_a_token_past_its_expiry_is_not_served_from_memory():
    lookups = _Lookups(_viewer(expires_at=int(time.time()) - 1))
    cache = SessionCache(lookups)
    await cache.viewer("t")
    await cache.viewer("t")
    assert lookups.calls == 2


async def test_forgetting_a_session_or_a_user_drops_only_theirs():
    answers = {"a": _viewer(1, "s1"), "b": _viewer(1, "s2"), "c": _viewer(2, "s3")}

    async def lookup(token: str) -> Viewer:
        return answers[token]

    cache = SessionCache(lookup)
    for token in answers:
        await cache.viewer(token)
    assert cache.forget(session_ids=["s1"]) == 1
    assert cache.forget(user_ids=[2]) == 1
    assert len(cache) == 1


async def test_a_flood_of_tokens_cannot_grow_the_cache_past_its_bound():
    async def lookup(token: str) -> Viewer:
        return _viewer(session=token)

    cache = SessionCache(lookup, max_entries=100)
    for n in range(1_000):
        await cache.viewer(f"t{n}")
    assert len(cache) <= 100


async def test_a_logged_out_token_is_refused_on_the_very_next_request(gql, agent):
    assert (await gql(ME, as_=agent))["data"]["me"]["email"] == agent.email
    assert (await gql(LOGOUT, as_=agent))["data"]["logout"]["errors"] == []
    answer = await gql(ME, as_=agent)
    assert error_codes(answer) == ["UNAUTHENTICATED"]


async def test_a_session_revoked_behind_the_api_is_refused_within_the_fresh_window(app, gql, agent):
    assert (await gql(ME, as_=agent))["data"]["me"] is not None
    session_id = agent.token.split(".")[0]
    await Session.filter(id=session_id).update(revoked_at=datetime.now(UTC))
    await asyncio.sleep(app.state.session_cache.fresh_seconds + 0.1)
    assert error_codes(await gql(ME, as_=agent)) == ["UNAUTHENTICATED"]
