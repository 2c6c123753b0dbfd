"""Sign-in: argon2 passwords, signed expiring tokens backed by revocable sessions,
and throttling of repeated failures for one address."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.transactions import in_transaction

from guichet.models.auth import LoginThrottle, Session
from guichet.models.people import Role, User
from guichet.resolvers import sql, topics
from guichet.resolvers.context import Viewer
from guichet.resolvers.errors import Forbidden, Refused, UserError
from guichet.resolvers.people import people
from guichet.resolvers.sql import as_datetime

log = logging.getLogger("guichet.auth")

# At most five password checks for one address per window: the rest of the window is locked.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

_SESSION = sql.select(
    "u.id, u.name, u.email, u.role, s.expires_at, s.impersonator_id",
    from_=f'"session" s JOIN {people.USER} ON u.id = s.user_id',
).where(
    "s.id = ?",
    "s.revoked_at IS NULL",
    "u.active = TRUE",
    # An impersonation lasts only while the admin behind it is an active admin.
    '(s.impersonator_id IS NULL OR s.impersonator_id IN (SELECT i.id FROM "user" i'
    " WHERE i.active = TRUE AND i.role IN ('ADMIN', 'OWNER')))",
)
_REVOKE = sql.statement('UPDATE "session" SET revoked_at = ?').where("id = ?", "revoked_at IS NULL")
# One check taken from the address's window (address, now, then the window's start three
# times, then MAX_FAILURES): a window that ended starts again at 1; no row, no check left.
_TAKE_CHECK = sql.statement(
    "INSERT INTO login_throttle (email, attempts, window_started_at) VALUES (?, 1, ?)"
    " ON CONFLICT (email) DO UPDATE SET"
    " attempts = CASE WHEN login_throttle.window_started_at <= ? THEN 1"
    " ELSE login_throttle.attempts + 1 END,"
    " window_started_at = CASE WHEN login_throttle.window_started_at <= ?"
    " THEN excluded.window_started_at ELSE login_throttle.window_started_at END"
    " WHERE login_throttle.window_started_at <= ? OR login_throttle.attempts < ?"
    " RETURNING attempts"
)
_WINDOW = sql.select("window_started_at", from_="login_throttle").where("email = ?")
_FORGET_FAILURES = sql.statement("DELETE FROM login_throttle").where("email = ?")

_hasher = PasswordHasher()
# Checked against when the address is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class AuthErrorCode(StrEnum):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    TOO_LONG = "TOO_LONG"


class RetryLater(Refused):
    """Refused for now: the same answer as a plain refusal, plus when to try again."""

    def __init__(self, retry_after_seconds: int, *errors: UserError) -> None:
        super().__init__(*errors)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    user: people.UserRow
    session_id: str

    @property
    def viewer(self) -> Viewer:
        u = self.user
        return Viewer(u.pk, u.name, u.email_address, u.role, self.session_id)


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(stored_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def _sign(secret_key: str, payload: str) -> str:
    digest = hmac.new(secret_key.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def issue_token(
    secret_key: str,
    user_pk: int,
    ttl: timedelta,
    *,
    impersonator_pk: int | None = None,
    reason: str | None = None,
) -> tuple[str, str]:
    """A new session for the user: (bearer token, session id). With `impersonator_pk`, an
    impersonation: that admin acts as the user (see people/impersonation.py)."""
    session_id = secrets.token_hex(16)
    expires_at = datetime.now(UTC) + ttl
    await Session.create(
        id=session_id,
        user_id=user_pk,
        expires_at=expires_at,
        impersonator_id=impersonator_pk,
        reason=reason,
    )
    payload = f"{session_id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(secret_key, payload)}", session_id


async def viewer_from_token(secret_key: str, token: str) -> Viewer | None:
    """The signed-in user a token stands for, or None when it is forged, expired or revoked."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200:
        return None
    session_id, expires, signature = parts
    if not hmac.compare_digest(signature, _sign(secret_key, f"{session_id}.{expires}")):
        return None
    now = datetime.now(UTC)
    if not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    rows = await _SESSION.fetch(session_id)
    if not rows or as_datetime(rows[0]["expires_at"]) <= now:
        return None
    row = rows[0]
    return Viewer(
        row["id"],
        row["name"],
        row["email"],
        Role(row["role"]),
        session_id,
        int(expires),
        row["impersonator_id"],
    )


@dataclass(frozen=True, slots=True)
class Locked:
    """The address has no password check left in its window."""

    retry_after_seconds: int


async def _take_password_check(address: str, now: datetime) -> Locked | None:
    """Take one of the address's password checks, or say how long it is locked.

    One conditional upsert decides: it starts a new window when the last one ended, counts
    one more check while fewer than MAX_FAILURES are taken, and changes nothing otherwise.
    Concurrent sign-ins for one address queue on its row (PostgreSQL) or on the single
    writer (SQLite), so no more than MAX_FAILURES checks ever run in a window, whatever the
    number of requests or processes."""
    window_start = now - FAILURE_WINDOW
    taken = await _TAKE_CHECK.fetch(
        address, now, window_start, window_start, window_start, MAX_FAILURES
    )
    if taken:
        return None
    rows = await _WINDOW.fetch(address)
    started = as_datetime(rows[0]["window_started_at"]) if rows else now
    ends = started + FAILURE_WINDOW
    return Locked(max(1, int((ends - now).total_seconds()) + 1))


def _wrong_credentials() -> Refused:
    return Refused(
        UserError("Wrong e-mail address or password.", AuthErrorCode.INVALID_CREDENTIALS)
    )


async def login(secret_key: str, ttl: timedelta, email: str, password: str) -> SignedIn:
    """Check the password; one answer whether the address is unknown, the password wrong
    or the address locked (a locked one also says when to retry: `RetryLater`)."""
    address = people.normalize_email(email or "")[:254]
    if "\x00" in address:  # no address has one, and PostgreSQL text cannot hold it
        raise _wrong_credentials()
    now = datetime.now(UTC)
    locked = await _take_password_check(address, now)
    if locked is not None:
        raise RetryLater(locked.retry_after_seconds, *_wrong_credentials().errors)
    user = await User.get_or_none(email=address)
    if not await _verify(user.password_hash if user else None, password[:1024]):
        log.info("sign-in failed: password checked")
        raise _wrong_credentials()
    if not user.active:
        # The same answer as a wrong password: who has an account, and whether it was
        # deactivated, is not told to whoever types an address (checked after the password,
        # so the time taken tells nothing either).
        log.info("sign-in refused: account deactivated")
        raise _wrong_credentials()
    log.info("sign-in: password checked")
    await _FORGET_FAILURES.execute(address)
    user.last_sign_in_at = datetime.now(UTC)
    await User.filter(id=user.id).update(last_sign_in_at=user.last_sign_in_at)
    token, session_id = await issue_token(secret_key, user.id, ttl)
    return SignedIn(
        token,
        people.USER.row_of(user),
        session_id,
    )


async def announce_ended_sessions(
    bus: Any, *, session_ids: Sequence[str] = (), user_ids: Sequence[int] = ()
) -> None:
    """After the commit: every process closes the websockets of these sessions or users
    (each also finds them in the database within seconds, should this message be lost)."""
    if bus is not None:
        await bus.publish(
            topics.ended_sessions(), {"sessions": list(session_ids), "users": list(user_ids)}
        )


async def logout(viewer: Viewer, bus: Any = None) -> None:
    """End the session the request was signed in with, and its open websockets."""
    await _REVOKE.execute(datetime.now(UTC), viewer.session_id)
    if viewer.session_id:
        await announce_ended_sessions(bus, session_ids=[viewer.session_id])


async def change_password(
    secret_key: str,
    ttl: timedelta,
    viewer: Viewer,
    current_password: str,
    new_password: str,
    bus: Any = None,
) -> SignedIn:
    """Set a new password, end every existing session, and sign this device in again."""
    if viewer.impersonator_id is not None:
        # The password is the person's own: an admin acting as them never changes it.
        raise Forbidden("An impersonation session cannot change the password.")
    user = await User.get(id=viewer.id)
    if not await _verify(user.password_hash, current_password[:1024]):
        raise Refused(
            UserError(
                "The current password is wrong.",
                AuthErrorCode.INVALID_CREDENTIALS,
                ["input", "currentPassword"],
            )
        )
    if error := people.password_error(new_password, ["input", "newPassword"]):
        raise Refused(error)
    new_hash = await hash_password(new_password)
    now = datetime.now(UTC)
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=new_hash, password_changed_at=now)
        await Session.filter(user_id=user.id, revoked_at__isnull=True).update(revoked_at=now)
    # Every websocket of the user closes, this device's too: it signs in with the new token.
    await announce_ended_sessions(bus, user_ids=[user.id])
    token, session_id = await issue_token(secret_key, user.id, ttl)
    return SignedIn(
        token,
        people.USER.row_of(user),
        session_id,
    )


async def purge_expired_sign_in_state() -> None:
    """Forget sessions a day after they ended and failures older than the window."""
    now = datetime.now(UTC)
    await Session.filter(expires_at__lt=now - timedelta(days=1)).delete()
    await Session.filter(revoked_at__lt=now - timedelta(days=1)).delete()
    await LoginThrottle.filter(window_started_at__lt=now - FAILURE_WINDOW).delete()
