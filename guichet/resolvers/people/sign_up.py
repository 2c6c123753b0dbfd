"""Customers signing up in the portal: the account is made once the address is proved.

`request_sign_up` mails a single-use link (valid a day) to the address given; the account
exists only when its owner follows it and chooses a password (`complete_sign_up`). Until
then nothing is made: an address typed by someone else opens nothing, and joining an
organization by its e-mail domain (organization_domains.py) happens only for a proved
address. The answer is the same whether the address has an account or not (an address
that has one is mailed so, with the way to reset its password), in about the same time.
An address gets at most one such mail per `RESEND_AFTER`. Only the SHA-256 of a token is
kept. Anyone may already open tickets by mail, which makes end users too: signing up
opens nothing more than that. Admins may close it (`signUpOpen`, GUICHET_SIGN_UP_OPEN):
then only agents make accounts.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models.auth import SignUpRequest
from guichet.models.people import Role, User
from guichet.resolvers import sql
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.mail.outbound import queue_mail
from guichet.resolvers.people import organization_domains, people
from guichet.resolvers.people.auth import SignedIn, hash_password, issue_token
from guichet.resolvers.people.password_reset import RESEND_AFTER, answer_no_sooner, token_hash

if TYPE_CHECKING:
    from guichet.server.settings import Settings

log = logging.getLogger("guichet.auth")

VALID_FOR = timedelta(days=1)


class SignUpErrorCode(StrEnum):
    INVALID_SIGN_UP_TOKEN = "INVALID_SIGN_UP_TOKEN"
    SIGN_UP_CLOSED = "SIGN_UP_CLOSED"


def _refuse_when_closed(settings: Settings) -> None:
    """Admins may close sign-up (`signUpOpen`): accounts are then made by agents only."""
    if not settings.sign_up_open:
        raise Refused(
            UserError(
                "Signing up is closed here: ask the support team for an account.",
                SignUpErrorCode.SIGN_UP_CLOSED,
            )
        )


_RECENT = sql.select("COUNT(*) AS n", from_="sign_up_request").where("email = ?", "created_at > ?")
# Taken once: only an unused, unexpired token is marked used.
_TAKE = sql.statement("UPDATE sign_up_request SET used_at = ?").where(
    "token_hash = ?", "used_at IS NULL", "expires_at > ?"
)
_ASKED = sql.select("email, name", from_="sign_up_request").where("token_hash = ?")


async def request_sign_up(settings: Settings, name: str, email: str) -> None:
    """Mail the address a link to finish signing up (or, when it has an account, say so);
    Refused only for a missing or malformed name or address, or when sign-up is closed."""
    started = time.monotonic()
    _refuse_when_closed(settings)
    problems = [
        text_error(name, ["input", "name"], max_length=200),
        people.email_error(email, ["input", "email"]),
    ]
    if errors := [p for p in problems if p]:
        raise Refused(*errors)
    address, now = people.normalize_email(email), datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    async with in_transaction():
        user = await User.get_or_none(email=address)
        recent = (await _RECENT.fetch(address, now - RESEND_AFTER))[0]["n"]
        if recent:
            log.info("sign-up asked: mailed lately, nothing mailed")
        elif user is None:
            await SignUpRequest.create(
                token_hash=token_hash(token),
                email=address,
                name=name.strip(),
                expires_at=now + VALID_FOR,
            )
            await _mail_link(settings, address, token)
        elif user.active:  # a deactivated account is told nothing
            await SignUpRequest.create(
                token_hash=token_hash(token),
                email=address,
                name=name.strip(),
                expires_at=now,
                used_at=now,
            )
            await _mail_account_exists(settings, user)
    await answer_no_sooner(started)


async def _mail_link(settings: Settings, address: str, token: str) -> None:
    # The name typed is not in the mail: whoever signs up someone else's address would
    # otherwise write to them in the help desk's name.
    link = settings.sign_up_link.format(token=token)
    await queue_mail(
        settings,
        to=address,
        subject="Finish signing up",
        secret=True,
        body=(
            "Hello,\n\nSomeone (we hope you) asked for an account with this address. "
            f"Choose your password here, within a day, and it is made:\n\n{link}\n\n"
            "The link works once. If you did not ask, ignore this mail: no account is made.\n"
        ),
    )
    log.info("sign-up link mailed")


async def _mail_account_exists(settings: Settings, user: User) -> None:
    await queue_mail(
        settings,
        to=user.email,
        subject="You already have an account",
        body=(
            f"Hello {user.name},\n\nSomeone (we hope you) asked for an account with this "
            "address, but it already has one. Sign in with it; if you forgot its password, "
            "ask for a new one from the sign-in page.\n\nIf you did not ask, ignore this "
            "mail: nothing changed.\n"
        ),
    )
    log.info("sign-up asked for an existing account: told so")


def _invalid() -> Refused:
    return Refused(
        UserError(
            "This sign-up link is not valid any more: it was used, it expired, or it is "
            "mistyped. Sign up again.",
            SignUpErrorCode.INVALID_SIGN_UP_TOKEN,
            ["input", "token"],
        )
    )


def _taken(address: str) -> Refused:
    return Refused(
        UserError(
            f"{address} already has an account: sign in, or reset its password.",
            people.PeopleErrorCode.EMAIL_TAKEN,
            ["input", "token"],
        )
    )


async def complete_sign_up(
    settings: Settings, ttl: timedelta, token: str, password: str
) -> SignedIn:
    """Make the end user the token was mailed for, once, with this password; they join the
    organization of their address's domain, and are signed in. Closing sign-up voids the
    links already mailed."""
    _refuse_when_closed(settings)
    if not token or len(token) > 200:
        raise _invalid()
    if error := people.password_error(password, ["input", "password"]):
        raise Refused(error)
    password_hash = await hash_password(password)
    hashed, now = token_hash(token), datetime.now(UTC)
    try:
        async with in_transaction():
            if not await _TAKE.execute(now, hashed, now):
                raise _invalid()
            asked = (await _ASKED.fetch(hashed))[0]
            if await User.filter(email=asked["email"]).exists():  # made since, another way
                raise _taken(asked["email"])
            user = await User.create(
                name=asked["name"],
                email=asked["email"],
                role=Role.END_USER,
                password_hash=password_hash,
            )
            await organization_domains.join_by_domain(user.id, user.email)
    except IntegrityError:  # made at the same moment another way: the unique index decides
        raise _taken(asked["email"]) from None
    new_token, session_id = await issue_token(settings.secret_key, user.id, ttl)
    log.info("signed up: account made")
    return SignedIn(new_token, people.USER.row_of(user), session_id)


async def purge_expired_sign_ups() -> None:
    """Forget sign-up links a day after they expired (used or not)."""
    await SignUpRequest.filter(expires_at__lt=datetime.now(UTC) - timedelta(days=1)).delete()
