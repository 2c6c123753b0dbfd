"""What Guichet reads in a mail: who sent it and whether a person did, whether it can be
read at all, and which words of its body are the sender's."""

from __future__ import annotations

import pytest

from guichet.models.mail import MailStatus
from guichet.models.people import User
from tests.resolvers.inbound_helpers import inbound_log, mail, raw, ticket_count
from tests.resolvers.tickets_helpers import get_ticket

# ---------------------------------------------------------------- machines, not people


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Auto_Submitted": "auto-generated; owner-email=x@y.test"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"X_Autoreply": "yes"},
        {"Return_Path": "<>"},
        {"sender": "Mail Delivery System <MAILER-DAEMON@mx.acme.test>"},
        {"sender": "postmaster@acme.test"},
    ],
    ids=lambda h: next(iter(h.values())),
)
async def test_an_auto_reply_changes_nothing(receive, headers):
    outcome = await receive(mail(**headers))
    assert outcome.status is MailStatus.IGNORED
    assert outcome.reason.startswith(("auto-reply", "bounce"))
    assert await ticket_count() == 0
    assert await User.all().count() == 0
    [logged] = await inbound_log()
    assert (logged.status, logged.reason) == (MailStatus.IGNORED, outcome.reason)


async def test_a_bounce_to_the_null_sender_changes_nothing(receive):
    outcome = await receive(mail(), envelope_sender="")
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "bounce (null return path)")


async def test_auto_submitted_no_is_a_persons_mail(receive):
    outcome = await receive(mail(Auto_Submitted="no"))
    assert outcome.status is MailStatus.RECEIVED


@pytest.mark.parametrize(
    "sender", ["Guichet <no-reply@guichet.invalid>", "no-reply+id12@Guichet.invalid"]
)
async def test_mail_from_our_own_address_changes_nothing(receive, sender):
    outcome = await receive(mail(sender=sender))
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "from our own address")
    assert await ticket_count() == 0


@pytest.mark.parametrize("sender", ["", "not an address", "a@b.test, c@d.test"])
async def test_a_mail_without_one_valid_from_changes_nothing(receive, sender):
    outcome = await receive(mail(sender=sender))
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "no valid From address")
    assert await ticket_count() == 0
    assert len(await inbound_log()) == 1


async def test_malformed_mime_changes_nothing(receive):
    message = (
        b"From: dana@newcomer.test\nTo: no-reply@guichet.invalid\nSubject: broken\n"
        b"Message-ID: <broken@client.test>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\nno boundary ever starts\n'
    )
    outcome = await receive(message)
    assert (outcome.status, outcome.reason, outcome.refused) == (
        MailStatus.IGNORED, "malformed MIME", False,
    )  # fmt: skip
    assert await ticket_count() == 0
    assert (await inbound_log())[0].reason == "malformed MIME"


async def test_huge_headers_are_refused(receive):
    message = mail()
    for i in range(1200):
        message[f"X-Filler-{i}"] = "x" * 60
    outcome = await receive(message)
    assert (outcome.status, outcome.refused) == (MailStatus.IGNORED, True)
    assert outcome.reason == "headers larger than 64 kB"
    assert await ticket_count() == 0
    assert len(await inbound_log()) == 1


async def test_a_message_over_the_size_cap_is_refused(receive, app):
    big = b"x" * (app.state.settings.max_upload_bytes * 2)
    outcome = await receive(raw(mail()) + big)
    assert (outcome.status, outcome.refused) == (MailStatus.IGNORED, True)
    assert outcome.reason.startswith("message larger than")
    assert await ticket_count() == 0


async def test_a_body_of_only_quoted_text_changes_nothing(receive):
    body = "On Mon, 7 Dec 2026 at 10:00, Support <no-reply@guichet.invalid> wrote:\n> Hello\n"
    outcome = await receive(mail(body=body))
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "only quoted text")
    assert await ticket_count() == 0


# ---------------------------------------------------------------- what is kept of a body


async def test_quoted_history_and_signature_are_stripped(receive, gql, agent):
    body = (
        "Still smoking.\n"
        "> An earlier line quoted inline\n"
        "Please hurry.\n"
        "\n"
        "-- \n"
        "Dana Newcomer, Head of Printing\n"
        "\n"
        "On Mon, 7 Dec 2026 at 10:00, Support <no-reply@guichet.invalid>\n"
        "wrote:\n"
        "> Have you tried turning it off?\n"
    )
    await receive(mail(body=body))
    ticket = await get_ticket(gql, agent, 1)
    assert ticket["description"] == "Still smoking.\nPlease hurry."


async def test_an_html_only_mail_is_read_as_text(receive, gql, agent):
    message = mail()
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>Hello &amp; thanks,</p>"
        "<p>the printer <b>smokes</b>.</p><script>alert(1)</script>"
        "<blockquote>Old conversation</blockquote></body></html>",
        subtype="html",
    )
    await receive(message)
    ticket = await get_ticket(gql, agent, 1)
    assert ticket["description"] == "Hello & thanks,\n\nthe printer smokes."


async def test_bytes_that_are_not_text_become_replacement_characters(receive, gql, agent):
    message = (
        b"From: Dan\xff <dana@newcomer.test>\nTo: no-reply@guichet.invalid\n"
        b"Cc: \xfa@partner.test, eve@partner.test\nSubject: caf\xe9 \xff\n"
        b"Message-ID: <8bit@client.test>\n\nhello \xff\x00\n"
    )
    outcome = await receive(message)
    assert outcome.status is MailStatus.RECEIVED
    ticket = await get_ticket(gql, agent, 1)
    assert (ticket["subject"], ticket["description"]) == ("caf\ufffd \ufffd", "hello \ufffd")
    assert [c["email"] for c in ticket["ccs"]] == ["eve@partner.test"]
    assert (await User.get(email="dana@newcomer.test")).name == "Dan?"
