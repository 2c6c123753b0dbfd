"""A ticket's mail, as its requester, CCs and followers receive it from a real SMTP server:
the receipt, public replies (never an internal note, never to their author), the solved
notice and the satisfaction survey, threaded and answerable by mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from guichet.models.mail import MailStatus
from guichet.models.outbox import OutboxMessage, OutboxStatus
from guichet.models.people import Organization, OrganizationSubscription
from guichet.models.resolutions import SatisfactionRating
from guichet.models.tickets import Ticket
from guichet.resolvers.mail import outbox, ticket_mail
from guichet.server.mailer import senders_for
from tests.resolvers.outbound_helpers import links, logged, to
from tests.resolvers.tickets_helpers import commented, history_of, make_ticket, updated

RATE = """
mutation($input: RateSatisfactionInput!) {
  rateSatisfaction(input: $input) { satisfaction { score } errors { code field } }
}
"""


async def solved(gql, agent, ticket: dict) -> dict:
    return await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")


def survey_token(mail) -> tuple[str, list[str]]:
    """The token of a survey mail's links, and their scores."""
    queries = [parse_qs(urlsplit(link).query) for link in links(mail) if "/satisfaction" in link]
    assert len(queries) == 2, links(mail)
    assert len({q["token"][0] for q in queries}) == 1
    return queries[0]["token"][0], [q["score"][0] for q in queries]


# ---------------------------------------------------------------- the receipt


async def test_the_requester_gets_a_receipt_with_the_ticket_number(
    gql, support, end_user, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user, subject="Printer on fire")
    assert await deliver() == 1
    [mail] = mailbox.messages
    assert mail["To"] == end_user.email
    assert mail["Subject"] == f"[#{ticket['number']}] Request received: Printer on fire"
    assert mail["From"] == "Acme Support <support@acme.test>"
    assert mail["Reply-To"] == f"support+id{ticket['number']}@acme.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert f"#{ticket['number']}" in mail.get_content()
    assert f"http://127.0.0.1:8000/tickets/{ticket['number']}" in links(mail)
    [log] = await logged()
    assert (log.direction, log.status, log.message_id) == ("OUTBOUND", "SENT", mail["Message-ID"])
    assert (log.ticket_id, log.subject, log.to_addresses) == (
        (await Ticket.get(number=ticket["number"])).id,
        mail["Subject"],
        f'["{end_user.email}"]',
    )
    assert log.outbox_id == (await OutboxMessage.get()).id


async def test_the_reply_address_is_on_the_ticket(gql, support, end_user):
    ticket = await make_ticket(gql, end_user)
    result = await gql(
        "query($n: Int!) { ticket(number: $n) { replyTo } }", {"n": ticket["number"]}, as_=end_user
    )
    assert result["data"]["ticket"]["replyTo"] == f"support+id{ticket['number']}@acme.test"


async def test_ccs_get_the_receipt_too_each_in_a_mail_of_their_own(
    gql, support, agent, end_user, colleague, mailbox, deliver
):
    await make_ticket(gql, agent, requesterId=end_user.id, ccEmails=[colleague.email])
    assert await deliver() == 2
    assert sorted(m["To"] for m in mailbox.messages) == sorted([end_user.email, colleague.email])
    assert not any(m["Cc"] for m in mailbox.messages)
    assert len({m["Message-ID"] for m in mailbox.messages}) == 2


# ---------------------------------------------------------------- the conversation


async def test_a_public_reply_comes_from_the_agent_by_name_in_the_tickets_thread(
    gql, support, agent, end_user, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user, subject="Printer on fire")
    await deliver()
    [receipt] = mailbox.messages
    await commented(gql, agent, ticket["id"], "Unplug it, please.")
    await commented(gql, agent, ticket["id"], "Then plug it back in.")
    assert await deliver() == 2
    _, first, second = mailbox.messages
    assert first["To"] == end_user.email
    assert first["Subject"] == f"[#{ticket['number']}] Re: Printer on fire"
    assert first["From"].addresses[0].display_name == "Agnès Agent via Acme Support"
    assert first["From"].addresses[0].addr_spec == "support@acme.test"
    assert "Unplug it, please." in first.get_content()
    assert first["In-Reply-To"] == receipt["Message-ID"]
    assert first["References"].split() == [receipt["Message-ID"]]
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split() == [receipt["Message-ID"], first["Message-ID"]]
    log = await logged(message_id=second["Message-ID"])
    assert log[0].in_reply_to == first["Message-ID"]


async def test_nobody_gets_an_internal_note_by_mail(
    gql, support, agent, end_user, colleague, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user, ccEmails=[colleague.email])
    await deliver()
    before = len(mailbox.messages)
    await commented(gql, agent, ticket["id"], "The customer broke it.", public=False)
    assert await deliver() == 0
    assert len(mailbox.messages) == before
    assert not await logged(comment_id__isnull=False)


async def test_the_author_never_gets_their_own_comment_and_a_cc_gets_it(
    gql, support, end_user, colleague, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user, ccEmails=[colleague.email])
    await deliver()
    mailbox_before = len(mailbox.messages)
    await commented(gql, end_user, ticket["id"], "Any news?")
    assert await deliver() == 1
    [mail] = mailbox.messages[mailbox_before:]
    assert mail["To"] == colleague.email
    assert mail["From"].addresses[0].display_name == "Acme Support"  # a customer: no name
    assert "Alice Customer wrote:" in mail.get_content()


async def test_organization_subscribers_get_the_mail_of_requests_they_may_see(
    gql, support, agent, end_user, colleague, other_customer, org, mailbox, deliver
):
    for person in (agent, colleague, other_customer):
        await OrganizationSubscription.create(organization_id=org.pk, user_id=person.row.pk)
    await make_ticket(gql, end_user, organizationId=org.id)
    await deliver()
    # The outsider is no member of Acme: they may not see its requests, and hear nothing.
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        [end_user.email, agent.email, colleague.email]
    )
    await Organization.filter(id=org.pk).update(shared_tickets=False)
    await make_ticket(gql, end_user, organizationId=org.id)
    sent = await deliver()
    assert sorted(m["To"] for m in mailbox.messages[-sent:]) == sorted(
        [end_user.email, agent.email]
    )


# ---------------------------------------------------------------- solving and the survey


async def test_the_solved_notice_carries_the_survey_that_rates_that_ticket_only(
    gql, support, agent, end_user, colleague, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user, ccEmails=[colleague.email])
    other = await make_ticket(gql, end_user)
    await solved(gql, agent, other)
    await solved(gql, agent, ticket)
    await deliver()
    [notice] = [
        m
        for m in to(mailbox.messages, end_user.email)
        if m["Subject"].startswith(f"[#{ticket['number']}] Solved")
    ]
    token, scores = survey_token(notice)
    assert scores == ["GOOD", "BAD"]
    [cc_notice] = [m for m in to(mailbox.messages, colleague.email) if "Solved" in m["Subject"]]
    assert "/satisfaction" not in cc_notice.get_content()  # only the requester rates

    rate = {"ticketId": ticket["id"], "score": "BAD", "surveyToken": token}
    result = await gql(RATE, {"input": rate})  # nobody signed in
    assert result["data"]["rateSatisfaction"] == {"satisfaction": {"score": "BAD"}, "errors": []}
    rating = await SatisfactionRating.get()
    assert rating.ticket_id == (await Ticket.get(number=ticket["number"])).id

    for attempt in ({**rate, "ticketId": other["id"]}, {**rate, "surveyToken": token[:-2] + "xx"}):
        result = await gql(RATE, {"input": attempt})
        assert result["data"]["rateSatisfaction"]["errors"] == [
            {"code": "INVALID_SURVEY_TOKEN", "field": ["input", "surveyToken"]}
        ]
    assert await SatisfactionRating.all().count() == 1


async def test_a_requester_who_marks_their_request_solved_gets_only_the_survey(
    gql, support, agent, end_user, mailbox, deliver
):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    await deliver()
    result = await gql(
        "mutation($id: ID!) { markSolved(ticketId: $id) { errors { code } } }",
        {"id": ticket["id"]},
        as_=end_user,
    )
    assert result["data"]["markSolved"]["errors"] == []
    assert await deliver() == 1
    mail = mailbox.messages[-1]
    assert mail["To"] == end_user.email
    assert mail["Subject"].startswith(f"[#{ticket['number']}] How did we do?")
    survey_token(mail)


@pytest.fixture
def survey_later(app, support):
    app.state.settings = replace(app.state.settings, csat_survey_delay_minutes=60)
    return app.state.settings


async def make_due() -> None:
    await OutboxMessage.filter(status=OutboxStatus.PENDING).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )


async def test_a_delayed_survey_is_sent_when_its_time_comes(
    gql, survey_later, agent, end_user, mailbox, deliver
):
    ticket = await make_ticket(gql, end_user)
    await solved(gql, agent, ticket)
    assert await deliver() == 2  # the receipt and the solved notice, without the survey
    assert "/satisfaction" not in mailbox.messages[-1].get_content()
    waiting = await OutboxMessage.get(status=OutboxStatus.PENDING)
    assert waiting.next_attempt_at > datetime.now(UTC) + timedelta(minutes=59)
    await make_due()
    assert await deliver() == 1
    survey = mailbox.messages[-1]
    assert survey["Subject"].startswith(f"[#{ticket['number']}] How did we do?")
    assert survey[outbox.CHECK] is None  # the worker's check stays home
    token, _ = survey_token(survey)
    result = await gql(
        RATE, {"input": {"ticketId": ticket["id"], "score": "GOOD", "surveyToken": token}}
    )
    assert result["data"]["rateSatisfaction"]["errors"] == []


@pytest.mark.parametrize(
    "meanwhile", ["reopened", "rated", "solved again", "satisfaction turned off"]
)
async def test_a_delayed_survey_is_dropped_when_it_is_no_longer_news(
    gql, survey_later, admin, agent, end_user, mailbox, deliver, meanwhile
):
    ticket = await make_ticket(gql, end_user)
    await solved(gql, agent, ticket)
    await deliver()
    [first_survey] = await OutboxMessage.filter(status=OutboxStatus.PENDING)
    if meanwhile == "reopened":
        await commented(gql, end_user, ticket["id"], "Still smoking.")
    elif meanwhile == "rated":
        rate = {"ticketId": ticket["id"], "score": "GOOD"}
        assert (await gql(RATE, {"input": rate}, as_=end_user))["data"]["rateSatisfaction"][
            "errors"
        ] == []
    elif meanwhile == "solved again":
        await updated(gql, agent, ticket["id"], status="OPEN")
        await updated(gql, agent, ticket["id"], status="SOLVED")
    else:
        off = "mutation { updateSettings(input: {csatEnabled: false}) { errors { code } } }"
        assert (await gql(off, as_=admin))["data"]["updateSettings"]["errors"] == []
    await make_due()
    sent_before = len(mailbox.messages)
    await deliver()
    surveys = [m for m in mailbox.messages[sent_before:] if "How did we do?" in m["Subject"]]
    assert len(surveys) == (1 if meanwhile == "solved again" else 0)
    dropped = await OutboxMessage.get(id=first_survey.id)
    assert dropped.status == OutboxStatus.FAILED and dropped.last_error.startswith("not sent:")
    [log] = await logged(outbox_id=first_survey.id)
    assert log.status == MailStatus.IGNORED


async def test_a_delayed_survey_is_dropped_once_the_rating_window_has_closed(
    gql, survey_later, agent, end_user, deliver
):
    """Its link could rate nothing: the window (csatWindowDays after solving) is over."""
    ticket = await make_ticket(gql, end_user)
    await solved(gql, agent, ticket)
    await deliver()
    stored = await Ticket.get(number=ticket["number"])
    check = f"{stored.id}:{stored.solved_at.timestamp()!r}"
    assert await ticket_mail.survey_unwanted(survey_later, check) is None
    window = timedelta(days=survey_later.csat_window_days)
    await Ticket.filter(id=stored.id).update(solved_at=stored.solved_at - window)
    moved = await Ticket.get(id=stored.id)
    check = f"{stored.id}:{moved.solved_at.timestamp()!r}"
    assert await ticket_mail.survey_unwanted(survey_later, check) == "the rating window has closed"


# ---------------------------------------------------------------- history and the mail log


async def test_every_mail_is_in_the_history_and_customers_see_only_the_requesters(
    gql, support, agent, end_user, colleague, deliver
):
    ticket = await make_ticket(gql, end_user, ccEmails=[colleague.email])
    await commented(gql, agent, ticket["id"], "On it.")

    def sent(history):
        return [e["node"] for e in history["edges"] if e["node"]["kind"] == "NOTIFICATION_SENT"]

    as_staff = sent(await history_of(gql, agent, ticket["number"]))
    assert sorted((e["data"]["kind"], e["data"]["to"], e["public"]) for e in as_staff) == sorted(
        [
            ("RECEIPT", end_user.id, True),
            ("RECEIPT", colleague.id, False),
            ("COMMENT", end_user.id, True),
            ("COMMENT", colleague.id, False),
        ]
    )
    assert all(e["actor"] is None and e["via"] == "SYSTEM" for e in as_staff)
    assert {e["data"].get("recipient") for e in as_staff if not e["public"]} == {colleague.email}
    as_cc = sent(await history_of(gql, colleague, ticket["number"]))
    assert {e["data"]["to"] for e in as_cc} == {end_user.id}
    assert not any("recipient" in e["data"] for e in as_cc)


async def test_the_mail_log_follows_delivery(gql, support, app, end_user, mailbox, deliver):
    await make_ticket(gql, end_user)
    [queued] = await logged()
    assert queued.status == MailStatus.QUEUED
    # Refused until the last attempt: FAILED, with the outbox's reason.
    mailbox.refuse = 1000
    await OutboxMessage.all().update(attempts=outbox.MAX_ATTEMPTS - 1)
    await deliver()
    [failed] = await logged()
    assert failed.status == MailStatus.FAILED and "451" in failed.reason
    # No SMTP server configured: kept and logged.
    await make_ticket(gql, end_user)
    await outbox.deliver_due(senders_for(app.state.settings))
    assert [m.status for m in await logged()] == [MailStatus.FAILED, MailStatus.LOGGED]


async def test_notices_about_a_ticket_are_in_the_mail_log_too(gql, support, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    await updated(gql, agent, ticket["id"], status="SOLVED")
    result = await gql(
        "mutation($input: SetResolutionInput!) { setResolution(input: $input) { errors { code } } }",
        {"input": {"ticketId": ticket["id"], "body": "New toner.", "notifyRequester": True}},
        as_=agent,
    )
    assert result["data"]["setResolution"]["errors"] == []
    [notice] = await logged(subject__startswith="Resolution of your request")
    assert (notice.ticket_id, notice.to_addresses, notice.status) == (
        (await Ticket.get(number=ticket["number"])).id,
        f'["{end_user.email}"]',
        MailStatus.QUEUED,
    )
