"""Signing up in the portal: a mailed single-use link, the account made only once its
address is proved, the same answer for every address, and the domain's organization."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from guichet.models.auth import SignUpRequest
from guichet.models.outbox import OutboxMessage
from guichet.models.people import OrganizationDomain, OrganizationMember, Role, User
from guichet.resolvers.mail import outbox
from guichet.resolvers.people import sign_up
from guichet.resolvers.people.password_reset import token_hash
from tests.resolvers.outbound_helpers import links

REQUEST = """
mutation($name: String!, $email: String!) {
  requestSignUp(input: {name: $name, email: $email}) { accepted errors { code field } }
}
"""
COMPLETE = """
mutation($token: String!, $password: String!) {
  completeSignUp(input: {token: $token, password: $password}) {
    token user { id name email role } errors { code field }
  }
}
"""
LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
PASSWORD = "a passphrase of my own"


async def ask(gql, email: str, name: str = "Dana Newcomer") -> dict:
    result = await gql(REQUEST, {"name": name, "email": email})
    assert "errors" not in result, result
    return result["data"]["requestSignUp"]


async def complete(gql, token: str, password: str = PASSWORD) -> dict:
    result = await gql(COMPLETE, {"token": token, "password": password})
    assert "errors" not in result, result
    return result["data"]["completeSignUp"]


async def mailed_token(mailbox, deliver) -> str:
    await deliver()
    [link] = links(mailbox.messages[-1])
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_a_customer_signs_up_by_following_the_mailed_link_once(
    gql, support, mailbox, deliver
):
    assert await ask(gql, "Dana@Example.test") == {"accepted": True, "errors": []}
    assert not await User.filter(email="dana@example.test").exists()  # nothing made yet
    token = await mailed_token(mailbox, deliver)
    mail = mailbox.messages[-1]
    assert (mail["To"], mail["Subject"]) == ("dana@example.test", "Finish signing up")
    # Only the token's SHA-256 is kept: a copy of the database makes no account.
    assert await SignUpRequest.filter(token_hash=token_hash(token)).exists()
    assert not await SignUpRequest.filter(token_hash=token).exists()

    made = await complete(gql, token)
    assert made["errors"] == []
    assert made["user"]["name"] == "Dana Newcomer"
    assert (made["user"]["email"], made["user"]["role"]) == ("dana@example.test", "END_USER")
    me = await gql("{ me { email } }", as_=made["token"])
    assert me["data"]["me"] == {"email": "dana@example.test"}
    signed_in = await gql(LOGIN, {"email": "dana@example.test", "password": PASSWORD})
    assert signed_in["data"]["login"]["errors"] == []

    again = await complete(gql, token, "another passphrase")
    assert [(e["code"], e["field"]) for e in again["errors"]] == [
        ("INVALID_SIGN_UP_TOKEN", ["input", "token"])
    ]
    assert await User.filter(email="dana@example.test").count() == 1


async def test_a_signed_up_customer_joins_the_organization_of_their_domain(
    gql, support, org, mailbox, deliver
):
    await OrganizationDomain.create(organization_id=org.pk, domain="acme.test")
    await ask(gql, "dana@acme.test")
    made = await complete(gql, await mailed_token(mailbox, deliver))
    user = await User.get(email="dana@acme.test")
    assert made["errors"] == [] and user.role == Role.END_USER
    assert await OrganizationMember.filter(organization_id=org.pk, user_id=user.id).exists()


async def test_an_address_with_an_account_is_told_so_and_gets_no_link(
    gql, support, end_user, mailbox, deliver
):
    assert await ask(gql, end_user.email) == {"accepted": True, "errors": []}
    assert await deliver() == 1
    mail = mailbox.messages[-1]
    assert (mail["To"], mail["Subject"]) == (end_user.email, "You already have an account")
    assert links(mail) == []
    assert not await SignUpRequest.filter(email=end_user.email, used_at__isnull=True).exists()


async def test_a_deactivated_account_is_told_nothing(gql, support, end_user, deliver):
    await User.filter(id=end_user.row.pk).update(active=False)
    assert await ask(gql, end_user.email) == {"accepted": True, "errors": []}
    assert await deliver() == 0


async def test_an_address_gets_one_mail_every_five_minutes(gql, support, end_user, deliver):
    for address in ("new@example.test", end_user.email):
        for _ in range(3):
            assert await ask(gql, address) == {"accepted": True, "errors": []}
    assert await deliver() == 2


async def test_an_expired_link_makes_nothing(gql, support, mailbox, deliver):
    await ask(gql, "late@example.test")
    token = await mailed_token(mailbox, deliver)
    await SignUpRequest.filter(token_hash=token_hash(token)).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    late = await complete(gql, token)
    assert [e["code"] for e in late["errors"]] == ["INVALID_SIGN_UP_TOKEN"]
    assert not await User.filter(email="late@example.test").exists()


async def test_malformed_names_addresses_and_passwords_are_refused_with_codes(
    gql, support, mailbox, deliver
):
    result = await gql(REQUEST, {"name": " ", "email": "not an address"})
    assert result["data"]["requestSignUp"]["errors"] == [
        {"code": "REQUIRED", "field": ["input", "name"]},
        {"code": "INVALID_EMAIL", "field": ["input", "email"]},
    ]
    assert await deliver() == 0
    await ask(gql, "dana@example.test")
    token = await mailed_token(mailbox, deliver)
    weak = await complete(gql, token, "short")
    assert [(e["code"], e["field"]) for e in weak["errors"]] == [
        ("WEAK_PASSWORD", ["input", "password"])
    ]
    assert (await complete(gql, token))["errors"] == []  # the link still works
    for token in ("", "x" * 201, "never mailed"):
        refused = await complete(gql, token)
        assert [e["code"] for e in refused["errors"]] == ["INVALID_SIGN_UP_TOKEN"]


async def test_an_address_that_got_an_account_meanwhile_is_taken(
    gql, support, agent, mailbox, deliver
):
    await ask(gql, "dana@example.test")
    token = await mailed_token(mailbox, deliver)
    created = await gql(
        'mutation { createUser(input: {name: "Dana", email: "dana@example.test",'
        " role: END_USER}) { errors { code } } }",
        as_=agent,
    )
    assert created["data"]["createUser"]["errors"] == []
    taken = await complete(gql, token)
    assert [e["code"] for e in taken["errors"]] == ["EMAIL_TAKEN"]
    assert await User.filter(email="dana@example.test").count() == 1


async def test_two_completions_at_once_make_one_account(gql, support, mailbox, deliver):
    await ask(gql, "dana@example.test")
    token = await mailed_token(mailbox, deliver)
    answers = await asyncio.gather(complete(gql, token), complete(gql, token))
    assert sorted(len(a["errors"]) for a in answers) == [0, 1]
    assert await User.filter(email="dana@example.test").count() == 1


async def test_links_are_forgotten_a_day_after_they_expired(gql, support):
    await ask(gql, "fresh@example.test")
    old = datetime.now(UTC) - timedelta(days=2)
    await SignUpRequest.create(token_hash="0" * 64, email="old@example.test", name="Old",
                               expires_at=old)  # fmt: skip
    await sign_up.purge_expired_sign_ups()
    assert await SignUpRequest.all().values_list("email", flat=True) == ["fresh@example.test"]


async def test_admins_close_sign_up_and_the_links_already_mailed_stop_working(
    gql, support, admin, mailbox, deliver
):
    await ask(gql, "dana@example.test")
    token = await mailed_token(mailbox, deliver)
    setting = "mutation($open: Boolean!) { updateSettings(input: {signUpOpen: $open}) { errors { code } } }"
    assert (await gql(setting, {"open": False}, as_=admin))["data"]["updateSettings"][
        "errors"
    ] == []
    closed = [await ask(gql, "eve@example.test"), await complete(gql, token)]
    assert [[(e["code"], e["field"]) for e in c["errors"]] for c in closed] == [
        [("SIGN_UP_CLOSED", None)],
        [("SIGN_UP_CLOSED", None)],
    ]
    assert await deliver() == 0 and not await User.filter(email="dana@example.test").exists()
    assert (await gql(setting, {"open": True}, as_=admin))["data"]["updateSettings"]["errors"] == []
    assert (await complete(gql, token))["errors"] == []


async def test_the_outbox_keeps_no_usable_sign_up_link_once_the_mail_is_sent(
    gql, support, mailbox, deliver
):
    await ask(gql, "dana@example.test")
    token = await mailed_token(mailbox, deliver)
    assert (await OutboxMessage.get()).body == outbox.SCRUBBED
    assert (await complete(gql, token))["errors"] == []


async def test_the_name_typed_is_not_written_to_the_address(gql, support, mailbox, deliver):
    """Signing up someone else's address must not let a stranger write to them in the help
    desk's name."""
    await ask(gql, "victim@example.test", name="Your account is locked: call +1 555 0100")
    await deliver()
    assert "+1 555 0100" not in mailbox.messages[-1].get_content()
