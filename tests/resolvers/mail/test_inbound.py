"""Mail in: a message becomes a ticket, a comment, or nothing, and a line of the mail log."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from guichet.models.attachments import Attachment
from guichet.models.mail import MailDirection, MailMessage, MailStatus
from guichet.models.people import Role, User
from guichet.models.tickets import Channel, Comment, Ticket, TicketEvent, TicketEventKind
from guichet.resolvers import topics
from tests.resolvers.inbound_helpers import inbound_log, mail, ticket_count
from tests.resolvers.tickets_helpers import (
    close,
    comments_of,
    get_ticket,
    make_custom_field,
    make_ticket,
)


async def comments(number: int) -> list[Comment]:
    return await Comment.filter(ticket__number=number).order_by("id")


# ---------------------------------------------------------------- new tickets


async def test_a_mail_from_an_unknown_address_opens_a_ticket_with_a_new_end_user(
    receive, gql, agent
):
    outcome = await receive(mail(sender="Dana Newcomer <Dana@Newcomer.test>"))
    assert (outcome.status, outcome.action, outcome.ticket_number) == (
        MailStatus.RECEIVED, "TICKET_OPENED", 1,
    )  # fmt: skip
    dana = await User.get(email="dana@newcomer.test")
    assert (dana.name, dana.role, dana.password_hash) == ("Dana Newcomer", Role.END_USER, None)
    ticket = await get_ticket(gql, agent, 1)
    assert (ticket["subject"], ticket["description"], ticket["via"]) == (
        "My printer is on fire", "It smokes since this morning.", "EMAIL",
    )  # fmt: skip
    assert ticket["requester"]["id"] == ticket["submitter"]["id"]
    created = await TicketEvent.get(ticket__number=1, kind=TicketEventKind.CREATED)
    assert (created.via, created.actor_id) == (Channel.EMAIL, dana.id)
    [logged] = await inbound_log()
    assert (logged.status, logged.ticket_id, logged.from_address, logged.reason) == (
        MailStatus.RECEIVED, created.ticket_id, "dana@newcomer.test", None,
    )  # fmt: skip


async def test_a_mail_from_a_customer_opens_a_ticket_they_request(receive, gql, end_user, org):
    await receive(mail(sender=f"Alice <{end_user.email}>"))
    ticket = await get_ticket(gql, end_user, 1)
    assert ticket["requester"]["id"] == end_user.id
    assert ticket["organization"]["name"] == org.name
    assert await User.all().count() == 1  # nobody new


async def test_cc_addresses_become_ccs_and_invalid_ones_are_dropped(receive, gql, agent, colleague):
    message = mail(
        Cc=f"Bob <{colleague.email}>, eve@partner.test, not an address, no-reply@guichet.invalid"
    )
    outcome = await receive(message)
    assert outcome.status is MailStatus.RECEIVED
    ticket = await get_ticket(gql, agent, 1)
    assert sorted(c["email"] for c in ticket["ccs"]) == ["bob@acme.test", "eve@partner.test"]
    eve = await User.get(email="eve@partner.test")
    assert eve.role is Role.END_USER


async def test_an_empty_subject_becomes_no_subject(receive, gql, agent):
    await receive(mail(subject="   "))
    assert (await get_ticket(gql, agent, 1))["subject"] == "(no subject)"


async def test_required_fields_of_the_form_do_not_stop_a_mail(receive, gql, admin, agent):
    await make_custom_field(gql, admin, requiredForEndUsers=True)
    outcome = await receive(mail())
    assert outcome.status is MailStatus.RECEIVED
    assert await ticket_count() == 1


# ---------------------------------------------------------------- nothing changes


async def test_the_same_message_id_twice_changes_nothing(receive):
    first = await receive(mail(message_id="<once@client.test>"))
    again = await receive(mail(message_id="<once@client.test>", subject="Other words"))
    assert first.status is MailStatus.RECEIVED
    assert (again.status, again.ticket_number) == (MailStatus.IGNORED, None)
    assert "duplicate" in again.reason
    assert await ticket_count() == 1
    logged = await inbound_log()
    assert [(m.status, m.accepted_message_id) for m in logged] == [
        (MailStatus.RECEIVED, "<once@client.test>"),
        (MailStatus.IGNORED, None),
    ]


async def test_two_deliveries_at_the_same_instant_open_one_ticket(receive):
    message = mail(message_id="<twice@client.test>", sender="Dana <dana@newcomer.test>")
    outcomes = await asyncio.gather(receive(message), receive(message))
    assert sorted(o.status for o in outcomes) == [MailStatus.IGNORED, MailStatus.RECEIVED]
    assert await ticket_count() == 1
    assert await User.filter(email="dana@newcomer.test").count() == 1
    assert await TicketEvent.filter(kind=TicketEventKind.CREATED).count() == 1


# ---------------------------------------------------------------- #id 123


async def test_hash_id_adds_a_public_comment_by_the_sender(receive, gql, end_user, agent):
    ticket = await make_ticket(gql, end_user)
    body = "#id 1\n\nThanks, it works again.\n\nOn Tue, Support wrote:\n> Fixed?\n"
    outcome = await receive(mail(sender=end_user.email, subject="whatever", body=body))
    assert (outcome.status, outcome.action, outcome.ticket_number) == (
        MailStatus.RECEIVED, "COMMENT_ADDED", 1,
    )  # fmt: skip
    [comment] = await comments(1)
    assert (comment.body, comment.public, comment.via, comment.author_id) == (
        "Thanks, it works again.", True, Channel.EMAIL, end_user.row.pk,
    )  # fmt: skip
    [logged] = await inbound_log()
    assert (logged.ticket_id, logged.comment_id) == (comment.ticket_id, comment.id)
    assert (await comments_of(gql, end_user, 1))["totalCount"] == 1
    assert ticket["number"] == 1 and await ticket_count() == 1


async def test_hash_id_of_a_ticket_the_sender_may_not_write_on_changes_nothing(
    receive, gql, end_user, other_customer
):
    await make_ticket(gql, end_user)
    outcome = await receive(mail(sender=other_customer.email, body="#id 1\n\nLet me in."))
    assert outcome.status is MailStatus.IGNORED
    assert outcome.reason.startswith("#id 1: ")
    assert await comments(1) == []
    assert await ticket_count() == 1
    [logged] = await inbound_log()
    assert (logged.status, logged.reason, logged.accepted_message_id) == (
        MailStatus.IGNORED, outcome.reason, None,
    )  # fmt: skip


async def test_hash_id_of_a_ticket_that_does_not_exist_changes_nothing(receive, end_user):
    outcome = await receive(mail(sender=end_user.email, body="#id 42\n\nHello?"))
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "#id 42: no such ticket")
    assert await ticket_count() == 0


async def test_hash_id_from_an_unknown_address_changes_nothing(receive, gql, end_user):
    await make_ticket(gql, end_user)
    outcome = await receive(mail(body="#id 1\n\nHi."))
    assert (outcome.status, outcome.reason) == (
        MailStatus.IGNORED, "#id 1: the sender has no account",
    )  # fmt: skip
    assert not await User.filter(email="dana@newcomer.test").exists()


async def test_hash_id_on_a_closed_ticket_changes_nothing(receive, gql, end_user, agent):
    ticket = await make_ticket(gql, end_user)
    await close(gql, agent, ticket)
    outcome = await receive(mail(sender=end_user.email, body="#id 1\n\nAgain!"))
    assert outcome.status is MailStatus.IGNORED
    assert "closed" in outcome.reason
    assert await comments(1) == []


async def test_a_light_agents_hash_id_is_an_internal_note(receive, gql, end_user, light_agent):
    await make_ticket(gql, end_user)
    await receive(mail(sender=light_agent.email, body="#id 1\n\nBilling confirms."))
    [comment] = await comments(1)
    assert (comment.public, comment.author_id) == (False, light_agent.row.pk)


async def test_a_customer_reply_by_mail_reopens_a_solved_ticket(receive, gql, end_user, agent):
    await make_ticket(gql, end_user)
    await Ticket.filter(number=1).update(status="SOLVED", assignee_id=agent.row.pk)
    await receive(mail(sender=end_user.email, body="#id 1\n\nNot fixed after all."))
    assert (await Ticket.get(number=1)).status.value == "OPEN"


# ---------------------------------------------------------------- replies


async def test_a_reply_to_one_of_our_mails_threads_onto_its_ticket(receive, gql, end_user):
    await make_ticket(gql, end_user)
    ticket = await Ticket.get(number=1)
    await MailMessage.create(
        direction=MailDirection.OUTBOUND, status=MailStatus.SENT, message_id="<ours@guichet>",
        from_address="no-reply@guichet.invalid", to_addresses='["alice@acme.test"]',
        cc_addresses="[]", subject="[#1] Printer on fire", ticket=ticket,
    )  # fmt: skip
    reply = mail(
        sender=end_user.email, subject="Re: Printer on fire", body="Still broken.",
        In_Reply_To="<ours@guichet>", References="<older@guichet> <ours@guichet>",
    )  # fmt: skip
    outcome = await receive(reply)
    assert (outcome.action, outcome.ticket_number) == ("COMMENT_ADDED", 1)
    assert [c.body for c in await comments(1)] == ["Still broken."]


async def test_a_reply_to_a_received_mail_threads_onto_its_ticket_too(receive, end_user, colleague):
    await receive(mail(sender=end_user.email, message_id="<first@client.test>"))
    reply = mail(sender=colleague.email, body="Same here.", References="<first@client.test>", Cc="")
    outcome = await receive(reply)
    assert (outcome.action, outcome.ticket_number) == ("COMMENT_ADDED", 1)


async def test_the_subject_tag_threads_only_with_the_senders_permission(
    receive, gql, end_user, other_customer
):
    await make_ticket(gql, end_user)
    mine = await receive(mail(sender=end_user.email, subject="Re: [#1] Printer", body="Hi"))
    assert (mine.action, mine.ticket_number) == ("COMMENT_ADDED", 1)
    theirs = await receive(mail(sender=other_customer.email, subject="Re: [#1] Printer"))
    assert (theirs.action, theirs.ticket_number) == ("TICKET_OPENED", 2)
    assert "subject tag #1" in theirs.reason
    assert len(await comments(1)) == 1


async def test_a_plus_addressed_reply_threads_onto_its_ticket(receive, gql, end_user):
    await make_ticket(gql, end_user)
    outcome = await receive(
        mail(sender=end_user.email, to="Support <no-reply+id1@guichet.invalid>", body="Hello")
    )
    assert (outcome.action, outcome.ticket_number) == ("COMMENT_ADDED", 1)


async def test_a_reply_to_a_closed_ticket_opens_a_new_one(receive, gql, end_user, agent):
    ticket = await make_ticket(gql, end_user)
    await close(gql, agent, ticket)
    outcome = await receive(mail(sender=end_user.email, subject="Re: [#1] Printer"))
    assert (outcome.action, outcome.ticket_number) == ("TICKET_OPENED", 2)
    assert "closed" in outcome.reason


# ---------------------------------------------------------------- attachments


async def test_mail_attachments_become_ticket_attachments(receive, gql, end_user):
    files = (
        ("screenshot.png", "image/png", b"\x89PNG fake image"),
        ("../../etc/passwd", "text/plain", b"root:x:0:0"),
        ("empty.txt", "text/plain", b""),
    )
    await receive(mail(sender=end_user.email, files=files))
    stored = await Attachment.filter(ticket__number=1).order_by("id")
    assert [(a.filename, a.size, a.comment_id) for a in stored] == [
        ("screenshot.png", 15, None),
        ("passwd", 10, None),
    ]
    await receive(mail(sender=end_user.email, body="#id 1\n\nOne more.", files=files[:1]))
    [comment] = await comments(1)
    assert await Attachment.filter(comment_id=comment.id).count() == 1


async def test_what_a_mail_did_is_published_once_stored(app, receive, gql, end_user):
    await make_ticket(gql, end_user)
    ticket = await Ticket.get(number=1)
    async with app.state.bus.subscribe(topics.ticket_history(ticket.id)) as events:
        await receive(mail(sender=end_user.email, body="#id 1\n\nHello"))
        async with asyncio.timeout(5):
            published = await anext(aiter(events))
    event = await TicketEvent.get(id=published["event"])
    assert (event.kind, event.via) == (TicketEventKind.COMMENT_ADDED, Channel.EMAIL)


async def test_staff_mailing_support_file_a_request_of_their_own(receive, agent, light_agent):
    await receive(mail(sender=agent.email, subject="My laptop"))
    ticket = await Ticket.get(number=1)
    assert (ticket.requester_id, ticket.via) == (agent.row.pk, Channel.EMAIL)
    outcome = await receive(mail(sender=light_agent.email, body="My screen flickers."))
    assert (outcome.status, outcome.action) == (MailStatus.RECEIVED, "TICKET_OPENED")
    [note] = await comments(2)
    assert (note.body, note.public, note.author_id) == (
        "My screen flickers.",
        False,
        light_agent.row.pk,
    )


async def test_a_reply_to_the_receipt_threads_onto_the_ticket(receive):
    await receive(mail(message_id="<request@client.test>"))
    receipt = await MailMessage.filter(direction=MailDirection.OUTBOUND, ticket__number=1).first()
    assert receipt is not None, "opening a ticket by mail sends the requester a receipt"
    reply = mail(
        subject="Re: anything", body="Thanks!", In_Reply_To=receipt.message_id,
        References=f"<request@client.test> {receipt.message_id}",
    )  # fmt: skip
    outcome = await receive(reply)
    assert (outcome.action, outcome.ticket_number) == ("COMMENT_ADDED", 1)


async def test_an_attachment_over_the_limit_changes_nothing_and_leaves_no_file(receive, app):
    settings = app.state.settings
    app.state.settings = replace(settings, max_upload_mb=1)
    try:
        before = sorted(p for p in settings.storage_dir.rglob("*") if p.is_file())
        files = (
            ("small.txt", "text/plain", b"fine"),
            ("huge.bin", "application/zip", b"z" * 2**20 + b"z"),
        )
        outcome = await receive(mail(files=files))
    finally:
        app.state.settings = settings
    assert (outcome.status, outcome.reason) == (MailStatus.IGNORED, "huge.bin is larger than 1 MB.")
    assert await ticket_count() == 0
    assert sorted(p for p in settings.storage_dir.rglob("*") if p.is_file()) == before
