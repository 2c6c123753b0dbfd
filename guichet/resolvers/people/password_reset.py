"""Password reset by mail: a single-use link, valid for an hour.

`request_password_reset` answers the same for every address, known or not, and takes
about as long either way (the same statements, and a floor on the answer's time), so
nobody learns from it who has an account. Only the SHA-256 of a token is stored: a
copy of the database opens no account. An address gets at most one mail per
`RESEND_AFTER`; a new link does not void an earlier one still valid. `reset_password`
takes the token once (one conditional UPDATE: two concurrent uses, one wins), sets the
password with the rules of changePassword, voids the user's other links, ends every
session of the user, and signs the device in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.auth import PasswordReset, Session
from guichet.models.people import User
from guichet.resolvers import sql
from guichet.resolvers.errors import Refused, UserError
from guichet.resolvers.mail.outbound import queue_mail
from guichet.resolvers.people import people
from guichet.resolvers.people.auth import (
    SignedIn,
    announce_ended_sessions,
    hash_password,
    issue_token,
)

if TYPE_CHECKING:
    from guichet.server.settings import Settings

log = logging.getLogger("guichet.auth")

VALID_FOR = timedelta(hours=1)
RESEND_AFTER = timedelta(minutes=5)
# Every answer takes at least this long, whether a mail was queued or not.
ANSWER_FLOOR_SECONDS = 0.25

_RECENT = sql.select("COUNT(*) AS n", from_="password_reset").where("user_id = ?", "created_at > ?")
# Taken once: only an unused, unexpired token is marked used, and says whose it was.
_TAKE = sql.statement("UPDATE password_reset SET used_at = ?").where(
    "token_hash = ?", "used_at IS NULL", "expires_at > ?"
)
_OWNER = sql.select("user_id", from_="password_reset").where("token_hash = ?")
_VOID_OTHERS = sql.statement("UPDATE password_reset SET used_at = ?").where(
    "user_id = ?", "used_at IS NULL"
)


class PasswordResetErrorCode(StrEnum):
    INVALID_RESET_TOKEN = "INVALID_RESET_TOKEN"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_password_reset(settings: Settings, email: str) -> None:
    """Mail a reset link to the address when it has an account (and had none mailed in the
    last minutes); the same answer, in about the same time, otherwise."""
    started = time.monotonic()
    address = people.normalize_email(email or "")[:254]
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    async with in_transaction():
        user = None if "\x00" in address else await User.get_or_none(email=address)
        recent = await _RECENT.fetch(user.id if user else 0, now - RESEND_AFTER)
        # A deactivated account gets no link (deactivation voided those it had).
        if user is not None and user.active and not recent[0]["n"]:
            await PasswordReset.create(
                token_hash=token_hash(token), user_id=user.id, expires_at=now + VALID_FOR
            )
            link = settings.password_reset_link.format(token=token)
            await queue_mail(
                settings,
                to=user.email,
                subject="Reset your password",
                secret=True,
                body=(
                    f"Hello {user.name},\n\nSomeone (we hope you) asked to reset the password "
                    f"of your account. Choose a new one here, within the hour:\n\n{link}\n\n"
                    "The link works once. If you did not ask, ignore this mail: your "
                    "password stays as it is.\n"
                ),
            )
            log.info("password reset mailed")
        else:
            log.info("password reset asked: nothing mailed")
    await answer_no_sooner(started)


async def answer_no_sooner(started: float) -> None:
    """What was done or not must not show in how long the answer took: wait until
    ANSWER_FLOOR_SECONDS after `started` (time.monotonic())."""
    if (left := ANSWER_FLOOR_SECONDS - (time.monotonic() - started)) > 0:
        await asyncio.sleep(left)


def _invalid() -> Refused:
    return Refused(
        UserError(
            "This reset link is not valid any more: it was used, it expired, or it is "
            "mistyped. Ask for a new one.",
            PasswordResetErrorCode.INVALID_RESET_TOKEN,
            ["input", "token"],
        )
    )


async def reset_password(
    settings: Settings, ttl: timedelta, token: str, new_password: str, bus: Any = None
) -> SignedIn:
    """Set the password of the token's user, once; end all their sessions; sign in."""
    if not token or len(token) > 200:
        raise _invalid()
    if error := people.password_error(new_password, ["input", "newPassword"]):
        raise Refused(error)
    new_hash = await hash_password(new_password)
    hashed = token_hash(token)
    now = datetime.now(UTC)
    async with in_transaction():
        if not await _TAKE.execute(now, hashed, now):
            raise _invalid()
        user_pk = (await _OWNER.fetch(hashed))[0]["user_id"]
        await _VOID_OTHERS.execute(now, user_pk)
        await User.filter(id=user_pk).update(password_hash=new_hash, password_changed_at=now)
        await Session.filter(user_id=user_pk, revoked_at__isnull=True).update(revoked_at=now)
    await announce_ended_sessions(bus, user_ids=[user_pk])
    user = await User.get(id=user_pk)
    new_token, session_id = await issue_token(settings.secret_key, user.id, ttl)
    log.info("password reset: password set, sessions ended")
    return SignedIn(
        new_token,
        people.USER.row_of(user),
        session_id,
    )


async def purge_expired_resets() -> None:
    """Forget reset links a day after they expired (used or not)."""
    await PasswordReset.filter(expires_at__lt=datetime.now(UTC) - timedelta(days=1)).delete()
