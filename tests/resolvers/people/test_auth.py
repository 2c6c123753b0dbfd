"""Sign-in: tokens, logout, password changes, throttling."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from guichet.models.auth import LoginThrottle, Session
from guichet.resolvers.people import auth
from tests.conftest import PASSWORD, TEST_SECRET, error_codes

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token user { name email role } errors { code message field }
  }
}
"""
ME = "{ me { name role email } }"


async def test_login_returns_a_token_that_signs_requests_in(gql, agent):
    result = await gql(LOGIN, {"email": "AGENT@guichet.test ", "password": PASSWORD})
    payload = result["data"]["login"]
    assert payload["errors"] == []
    assert payload["user"] == {"name": agent.row.name, "email": agent.email, "role": "AGENT"}
    me = await gql(ME, as_=payload["token"])
    assert me["data"]["me"]["name"] == agent.row.name


async def test_unknown_email_and_wrong_password_get_the_same_answer(gql, agent):
    unknown = await gql(LOGIN, {"email": "nobody@guichet.test", "password": PASSWORD})
    wrong = await gql(LOGIN, {"email": agent.email, "password": "not the password"})
    assert unknown["data"]["login"] == wrong["data"]["login"]
    assert wrong["data"]["login"]["token"] is None
    assert wrong["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_anything_but_login_needs_credentials(gql):
    result = await gql(ME)
    assert result["data"]["me"] is None
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_a_forged_or_garbled_token_signs_nobody_in(gql, agent):
    session_id, expires, _signature = agent.token.split(".")
    for token in (
        f"{session_id}.{expires}.forged",
        "garbage",
        f"{session_id}.9999999999.{_signature}",
    ):
        assert error_codes(await gql(ME, as_=token)) == ["UNAUTHENTICATED"]


async def test_expired_token_no_longer_signs_in(gql, agent):
    token, session_id = await auth.issue_token(TEST_SECRET, agent.row.pk, timedelta(days=1))
    await Session.filter(id=session_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert error_codes(await gql(ME, as_=token)) == ["UNAUTHENTICATED"]


async def test_token_lifetime_follows_the_setting(gql, agent, app):
    result = await gql(LOGIN, {"email": agent.email, "password": PASSWORD})
    expires = int(result["data"]["login"]["token"].split(".")[1])
    expected = datetime.now(UTC) + timedelta(days=app.state.settings.token_ttl_days)
    assert abs(expires - expected.timestamp()) < 60


async def test_logout_revokes_only_that_token(gql, agent):
    first = (await gql(LOGIN, {"email": agent.email, "password": PASSWORD}))["data"]["login"][
        "token"
    ]
    result = await gql("mutation { logout { errors { code } } }", as_=first)
    assert result["data"]["logout"]["errors"] == []
    assert error_codes(await gql(ME, as_=first)) == ["UNAUTHENTICATED"]
    assert (await gql(ME, as_=agent.token))["data"]["me"]["name"] == agent.row.name


async def test_changing_the_password_ends_older_tokens(gql, agent):
    change = """mutation($current: String!, $new: String!) {
      changePassword(input: {currentPassword: $current, newPassword: $new}) { token errors { code } }
    }"""
    result = await gql(change, {"current": PASSWORD, "new": "a brand new passphrase"}, as_=agent)
    new_token = result["data"]["changePassword"]["token"]
    assert result["data"]["changePassword"]["errors"] == []
    assert error_codes(await gql(ME, as_=agent)) == ["UNAUTHENTICATED"]
    assert (await gql(ME, as_=new_token))["data"]["me"]["name"] == agent.row.name
    old = await gql(LOGIN, {"email": agent.email, "password": PASSWORD})
    assert old["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    new = await gql(LOGIN, {"email": agent.email, "password": "a brand new passphrase"})
    assert new["data"]["login"]["errors"] == []


async def test_change_password_refuses_a_wrong_current_password_or_a_weak_new_one(gql, agent):
    change = """mutation($current: String!, $new: String!) {
      changePassword(input: {currentPassword: $current, newPassword: $new}) { token errors { code field } }
    }"""
    wrong = await gql(change, {"current": "nope", "new": "a brand new passphrase"}, as_=agent)
    assert wrong["data"]["changePassword"]["errors"] == [
        {"code": "INVALID_CREDENTIALS", "field": ["input", "currentPassword"]}
    ]
    weak = await gql(change, {"current": PASSWORD, "new": "short"}, as_=agent)
    assert weak["data"]["changePassword"]["errors"] == [
        {"code": "WEAK_PASSWORD", "field": ["input", "newPassword"]}
    ]
    assert (await gql(ME, as_=agent))["data"]["me"] is not None


async def test_repeated_failures_lock_the_address_even_with_the_right_password(gql, agent):
    for _ in range(auth.MAX_FAILURES):
        response = await gql.post(LOGIN, {"email": agent.email, "password": "wrong guess"})
        assert response.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        assert "retry-after" not in response.headers
    locked = await gql.post(LOGIN, {"email": agent.email, "password": PASSWORD})
    assert locked.status_code == 200
    assert locked.json()["data"]["login"]["token"] is None
    # The same answer as a wrong password, so a lock tells nothing about the address...
    assert locked.json()["data"]["login"]["errors"] == [
        {
            "message": "Wrong e-mail address or password.",
            "code": "INVALID_CREDENTIALS",
            "field": None,
        }
    ]
    # ...and when to try again.
    retry_after = int(locked.headers["retry-after"])
    assert 1 <= retry_after <= auth.FAILURE_WINDOW.total_seconds() + 1


async def test_an_unknown_address_is_locked_alike(gql):
    for _ in range(auth.MAX_FAILURES):
        await gql(LOGIN, {"email": "nobody@nowhere.test", "password": "guess"})
    locked = await gql.post(LOGIN, {"email": "nobody@nowhere.test", "password": "guess"})
    assert locked.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert "retry-after" in locked.headers


async def test_a_success_clears_the_failures(gql, agent):
    for _ in range(auth.MAX_FAILURES - 1):
        await gql(LOGIN, {"email": agent.email, "password": "wrong guess"})
    assert (await gql(LOGIN, {"email": agent.email, "password": PASSWORD}))["data"]["login"][
        "token"
    ]
    assert not await LoginThrottle.filter(email=agent.email).exists()


async def test_the_lock_ends_with_the_window(gql, agent):
    old = datetime.now(UTC) - auth.FAILURE_WINDOW - timedelta(seconds=1)
    await LoginThrottle.create(email=agent.email, attempts=auth.MAX_FAILURES, window_started_at=old)
    result = await gql(LOGIN, {"email": agent.email, "password": PASSWORD})
    assert result["data"]["login"]["errors"] == []


async def test_concurrent_wrong_passwords_run_at_most_five_checks(gql, agent, caplog):
    caplog.set_level(logging.INFO, logger="guichet.auth")
    guesses = [gql(LOGIN, {"email": agent.email, "password": f"guess {i}"}) for i in range(50)]
    results = await asyncio.gather(*guesses)
    assert all(r["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS" for r in results)
    checks = [r for r in caplog.records if "password checked" in r.getMessage()]
    assert len(checks) == auth.MAX_FAILURES


async def test_guesses_batched_under_aliases_are_refused(gql, agent):
    aliases = " ".join(
        f'g{i}: login(input: {{email: "{agent.email}", password: "guess {i}"}}) {{ token }}'
        for i in range(10)
    )
    result = await gql(f"mutation {{ {aliases} }}")
    assert "data" not in result
    assert error_codes(result) == ["TOO_MANY_LOGINS"]
    assert not await LoginThrottle.filter(email=agent.email).exists()


async def test_purge_forgets_ended_sessions_and_old_failures(agent):
    _token, session_id = await auth.issue_token(TEST_SECRET, agent.row.pk, timedelta(days=1))
    await Session.filter(id=session_id).update(expires_at=datetime.now(UTC) - timedelta(days=2))
    now = datetime.now(UTC)
    await LoginThrottle.create(email=agent.email, attempts=2, window_started_at=now)
    await LoginThrottle.create(
        email="old@guichet.test", attempts=5, window_started_at=now - timedelta(hours=1)
    )
    await auth.purge_expired_sign_in_state()
    assert not await Session.filter(id=session_id).exists()
    assert await LoginThrottle.filter(email=agent.email).exists()
    assert not await LoginThrottle.filter(email="old@guichet.test").exists()


async def test_an_address_with_a_nul_character_is_a_wrong_address(gql, agent):
    """PostgreSQL text cannot hold NUL: the answer must not depend on the database."""
    for email in ("agent@guichet.test\x00", "\x00"):
        result = await gql(LOGIN, {"email": email, "password": PASSWORD})
        assert result["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
