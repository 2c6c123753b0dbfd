"""Password reset by mail: one answer for every address, a single-use link valid for an
hour, the password rules of changePassword, and every session ended."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from guichet.models.auth import PasswordReset
from guichet.models.mail import MailStatus
from guichet.models.outbox import OutboxMessage
from guichet.resolvers.mail import outbox
from guichet.resolvers.people import password_reset
from tests.conftest import PASSWORD, error_codes
from tests.resolvers.outbound_helpers import links, logged

REQUEST = """
mutation($email: String!) { requestPasswordReset(input: {email: $email}) { accepted errors { code } } }
"""
RESET = """
mutation($token: String!, $password: String!) {
  resetPassword(input: {token: $token, newPassword: $password}) {
    token user { id } errors { code field }
  }
}
"""
LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
NEW_PASSWORD = "a brand new passphrase"


async def ask(gql, email: str) -> dict:
    result = await gql(REQUEST, {"email": email})
    assert "errors" not in result, result
    return result["data"]["requestPasswordReset"]


async def reset(gql, token: str, password: str = NEW_PASSWORD) -> dict:
    result = await gql(RESET, {"token": token, "password": password})
    assert "errors" not in result, result
    return result["data"]["resetPassword"]


async def mailed_token(mailbox, deliver) -> str:
    await deliver()
    mail = mailbox.messages[-1]
    [link] = links(mail)
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_a_reset_link_sets_the_password_once_and_ends_every_session(
    gql, support, end_user, mailbox, deliver
):
    assert await ask(gql, end_user.email) == {"accepted": True, "errors": []}
    token = await mailed_token(mailbox, deliver)
    mail = mailbox.messages[-1]
    assert (mail["To"], mail["Subject"]) == (end_user.email, "Reset your password")
    assert mail["From"] == "Acme Support <support@acme.test>"
    assert links(mail)[0].startswith("http://127.0.0.1:8000/reset-password?token=")
    [stored] = await PasswordReset.all()
    assert stored.token_hash == password_reset.token_hash(token) != token  # only the hash
    [log] = await logged()
    assert (log.status, log.ticket_id, log.subject) == (MailStatus.SENT, None, mail["Subject"])

    done = await reset(gql, token)
    assert done["errors"] == [] and done["user"] == {"id": end_user.id}
    me = await gql("{ me { id } }", as_=done["token"])
    assert me["data"]["me"] == {"id": end_user.id}
    # The old session ended; the old password is gone, the new one signs in.
    assert error_codes(await gql("{ me { id } }", as_=end_user)) == ["UNAUTHENTICATED"]
    old = await gql(LOGIN, {"email": end_user.email, "password": PASSWORD})
    assert old["data"]["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    new = await gql(LOGIN, {"email": end_user.email, "password": NEW_PASSWORD})
    assert new["data"]["login"]["token"]
    # Single use.
    again = await reset(gql, token, "yet another passphrase")
    assert again["errors"] == [{"code": "INVALID_RESET_TOKEN", "field": ["input", "token"]}]
    assert again["token"] is None


async def test_an_unknown_address_gets_the_same_answer_in_about_the_same_time(gql, end_user):
    timings = {}
    for email in (end_user.email, "nobody@nowhere.test", "ALICE@acme.test "):
        started = time.monotonic()
        assert await ask(gql, email) == {"accepted": True, "errors": []}
        timings[email] = time.monotonic() - started
    assert min(timings.values()) >= password_reset.ANSWER_FLOOR_SECONDS
    # Only the known address got a mail, once (its second spelling came too soon).
    assert [m.recipient for m in await OutboxMessage.all()] == [end_user.email]


async def test_a_second_link_waits_a_few_minutes(gql, end_user):
    await ask(gql, end_user.email)
    await ask(gql, end_user.email)
    assert await OutboxMessage.all().count() == 1
    await PasswordReset.all().update(
        created_at=datetime.now(UTC) - password_reset.RESEND_AFTER - timedelta(seconds=1)
    )
    await ask(gql, end_user.email)
    assert await OutboxMessage.all().count() == 2


async def test_an_expired_or_made_up_token_is_refused(gql, end_user, mailbox, deliver):
    await ask(gql, end_user.email)
    token = await mailed_token(mailbox, deliver)
    await PasswordReset.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    for attempt in (token, "made-up", "x" * 500, ""):
        refused = await reset(gql, attempt)
        assert [e["code"] for e in refused["errors"]] == ["INVALID_RESET_TOKEN"], attempt
    login = await gql(LOGIN, {"email": end_user.email, "password": PASSWORD})
    assert login["data"]["login"]["token"]  # nothing changed


async def test_a_weak_password_is_refused_and_the_link_still_works(gql, end_user, mailbox, deliver):
    await ask(gql, end_user.email)
    token = await mailed_token(mailbox, deliver)
    weak = await reset(gql, token, "short")
    assert weak["errors"] == [{"code": "WEAK_PASSWORD", "field": ["input", "newPassword"]}]
    assert (await reset(gql, token))["errors"] == []


async def test_using_one_link_voids_the_others(gql, end_user, mailbox, deliver):
    await ask(gql, end_user.email)
    first = await mailed_token(mailbox, deliver)
    await PasswordReset.all().update(created_at=datetime.now(UTC) - timedelta(minutes=10))
    await ask(gql, end_user.email)
    second = await mailed_token(mailbox, deliver)
    assert (await reset(gql, second))["errors"] == []
    assert (await reset(gql, first, "another good passphrase"))["errors"][0]["code"] == (
        "INVALID_RESET_TOKEN"
    )


async def test_expired_links_are_purged(gql, end_user):
    await ask(gql, end_user.email)
    await password_reset.purge_expired_resets()
    assert await PasswordReset.all().count() == 1
    await PasswordReset.all().update(expires_at=datetime.now(UTC) - timedelta(days=2))
    await password_reset.purge_expired_resets()
    assert await PasswordReset.all().count() == 0


async def test_the_outbox_keeps_no_usable_link_once_the_mail_is_sent(
    gql, support, end_user, mailbox, deliver
):
    await ask(gql, end_user.email)
    queued = await OutboxMessage.get()
    assert "reset-password?token=" in queued.body  # until it is sent
    token = await mailed_token(mailbox, deliver)
    assert (await OutboxMessage.get(id=queued.id)).body == outbox.SCRUBBED
    assert outbox.SECRET not in mailbox.messages[-1]  # the mark stays home
    assert (await reset(gql, token))["errors"] == []  # the mailed link still works
