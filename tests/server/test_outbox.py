"""The outbox delivered by the worker, against a real SMTP server (aiosmtpd on loopback).

Time is driven, not slept: a test moves `next_attempt_at` or `claimed_until` into the
past with the model, then runs another round of `deliver_due`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from guichet.models.outbox import OutboxChannel, OutboxMessage, OutboxStatus
from guichet.resolvers.mail import outbox
from guichet.resolvers.mail.outbox import MAX_ATTEMPTS, Outgoing, claim_due, deliver_due
from guichet.server.mailer import SENDER_ADDRESS, SmtpSender, senders_for
from guichet.server.worker import Worker
from tests import services
from tests.conftest import free_port
from tests.server.smtp import Mailbox, smtp_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mailbox(request) -> Mailbox:
    """The SMTP server's mailbox; `@refusing(n)` makes it refuse the first n messages."""
    return Mailbox(refuse=getattr(request, "param", 0))


def refusing(count: int):
    return pytest.mark.parametrize("mailbox", [count], indirect=True, ids=[f"refuses-{count}"])


@pytest.fixture
def smtp_url(mailbox: Mailbox):
    with smtp_server(mailbox) as url:
        yield url


@pytest.fixture
def senders(settings, smtp_url):
    return senders_for(replace(settings, smtp_url=smtp_url))


async def queue(count: int = 1, recipient: str = "alice@acme.test") -> list[OutboxMessage]:
    for n in range(count):
        await outbox.enqueue_email(recipient, f"Message {n}", f"Body of message {n}.\n")
    return await OutboxMessage.all().order_by("id")


async def row(message: OutboxMessage) -> OutboxMessage:
    return await OutboxMessage.get(id=message.id)


async def make_due(message: OutboxMessage) -> None:
    """Time passes: the next attempt is due."""
    await OutboxMessage.filter(id=message.id).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )


async def expire_claim(message: OutboxMessage) -> None:
    """Time passes: the worker holding the claim is presumed dead."""
    await OutboxMessage.filter(id=message.id).update(
        claimed_until=datetime.now(UTC) - timedelta(seconds=1)
    )


def sent_from(mails: list[EmailMessage]) -> list[int]:
    """The outbox rows mails came from, read from their Message-ID, which names the row."""
    found = []
    for mail in mails:
        match = re.fullmatch(r"<outbox-(\d+)\.\d+@127\.0\.0\.1>", mail["Message-ID"])
        assert match, mail["Message-ID"]
        found.append(int(match[1]))
    return found


async def drain(senders) -> int:
    """deliver_due until nothing is left to claim; how many this caller delivered."""
    delivered = 0
    while n := await deliver_due(senders):
        delivered += n
    return delivered


# ---------------------------------------------------------------- sending


async def test_due_messages_are_sent_over_smtp_once(mailbox, senders):
    rows = await queue(3)
    assert await deliver_due(senders) == 3
    received = mailbox.messages
    assert [(m["To"], m["Subject"], m.get_content()) for m in received] == [
        ("alice@acme.test", f"Message {n}", f"Body of message {n}.\n") for n in range(3)
    ]
    assert {m["From"] for m in received} == {SENDER_ADDRESS}
    assert sent_from(received) == [r.id for r in rows]
    assert len({m["Message-ID"] for m in received}) == 3
    assert all(m["Date"] for m in received)
    for r in rows:
        sent = await row(r)
        assert (sent.status, sent.attempts, sent.claimed_until, sent.last_error) == (
            OutboxStatus.SENT,
            1,
            None,
            None,
        )
        assert sent.sent_at is not None
    # Nothing is sent twice.
    assert await deliver_due(senders) == 0
    assert len(mailbox.attempts) == 3


async def test_a_message_from_a_rolled_back_change_is_never_sent(mailbox, senders):
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with in_transaction():
            await outbox.enqueue_email("alice@acme.test", "Never", "Rolled back.")
            raise Abort
    assert await OutboxMessage.all().count() == 0
    assert await deliver_due(senders) == 0
    assert mailbox.attempts == []


@refusing(2)
async def test_a_refused_message_is_retried_with_back_off(mailbox, senders):
    [message] = await queue()

    started = datetime.now(UTC)
    assert await deliver_due(senders) == 0
    first = await row(message)
    assert (first.status, first.attempts, first.claimed_until) == (OutboxStatus.PENDING, 1, None)
    assert "451" in first.last_error
    assert started + timedelta(seconds=4) < first.next_attempt_at
    assert first.next_attempt_at < datetime.now(UTC) + timedelta(seconds=6)

    # Not due yet: no attempt.
    assert await deliver_due(senders) == 0
    assert len(mailbox.attempts) == 1

    await make_due(message)
    started = datetime.now(UTC)
    assert await deliver_due(senders) == 0
    second = await row(message)
    assert (second.status, second.attempts) == (OutboxStatus.PENDING, 2)
    # The delay doubles.
    assert started + timedelta(seconds=9) < second.next_attempt_at
    assert second.next_attempt_at < datetime.now(UTC) + timedelta(seconds=11)

    await make_due(message)
    assert await deliver_due(senders) == 1
    sent = await row(message)
    assert (sent.status, sent.attempts, sent.last_error) == (OutboxStatus.SENT, 3, None)
    assert len(mailbox.messages) == 1
    # Every attempt carried the same Message-ID.
    assert sent_from(mailbox.attempts) == [message.id] * 3
    assert len({m["Message-ID"] for m in mailbox.attempts}) == 1

    await make_due(message)
    assert await deliver_due(senders) == 0
    assert len(mailbox.attempts) == 3


def test_the_back_off_doubles_up_to_an_hour():
    assert [outbox.retry_delay(n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 40, 80]
    assert outbox.retry_delay(30) == timedelta(hours=1)


@refusing(1000)
async def test_a_message_is_given_up_after_the_last_attempt(mailbox, senders, caplog):
    [message] = await queue()
    caplog.set_level(logging.WARNING, logger="guichet.outbox")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await make_due(message)
        assert await deliver_due(senders) == 0
        assert (await row(message)).attempts == attempt
    failed = await row(message)
    assert failed.status == OutboxStatus.FAILED
    assert "451" in failed.last_error
    assert failed.sent_at is None
    assert len(mailbox.attempts) == MAX_ATTEMPTS
    giving_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(giving_up) == 1 and "alice@acme.test" in giving_up[0].getMessage()
    # Never tried again.
    await make_due(message)
    assert await deliver_due(senders) == 0
    assert len(mailbox.attempts) == MAX_ATTEMPTS


async def test_an_unreachable_server_is_retried_once_it_is_back(settings):
    port = free_port()  # nothing listens there yet
    url = f"smtp://127.0.0.1:{port}"
    senders = senders_for(replace(settings, smtp_url=url))
    [message] = await queue()
    assert await deliver_due(senders) == 0
    failed = await row(message)
    assert (failed.status, failed.attempts) == (OutboxStatus.PENDING, 1)
    assert failed.last_error

    mailbox = Mailbox()
    with smtp_server(mailbox, port=port):
        await make_due(message)
        assert await deliver_due(senders) == 1
    assert sent_from(mailbox.messages) == [message.id]
    assert (await row(message)).status == OutboxStatus.SENT


# ---------------------------------------------------------------- once, whatever happens


async def test_two_concurrent_deliveries_send_each_message_once(mailbox, senders):
    rows = await queue(45)
    counts = await asyncio.gather(drain(senders), drain(senders))
    assert sum(counts) == 45
    assert sorted(sent_from(mailbox.attempts)) == [r.id for r in rows]
    assert {(await row(r)).status for r in rows} == {OutboxStatus.SENT}
    assert {(await row(r)).attempts for r in rows} == {1}


CHILD = """
import asyncio, json, sys

from guichet.models.db import close_database, open_database
from guichet.resolvers.mail.outbox import deliver_due
from guichet.server.mailer import senders_for
from guichet.server.settings import Settings


async def main(database_url, smtp_url):
    await open_database(database_url)
    try:
        senders = senders_for(Settings(smtp_url=smtp_url))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        delivered = 0
        while n := await deliver_due(senders):
            delivered += n
        print(json.dumps({"delivered": delivered}), flush=True)
    finally:
        await close_database()


asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_worker_processes_send_each_message_once(settings, mailbox, smtp_url):
    if settings.is_sqlite:
        # Several worker processes share one database only on PostgreSQL (SQLite allows
        # one writer process).
        services.need_postgres()
    rows = await queue(120)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            settings.database_url,
            smtp_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        async with asyncio.timeout(30):
            for child in children:
                assert (await child.stdout.readline()).strip() == b"ready"
            for child in children:  # both start at once
                child.stdin.write(b"go\n")
                await child.stdin.drain()
            outputs = [await child.communicate() for child in children]
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    assert [child.returncode for child in children] == [0, 0]
    counts = [json.loads(out.strip().splitlines()[-1])["delivered"] for out, _ in outputs]
    assert sum(counts) == 120
    assert sorted(sent_from(mailbox.attempts)) == [r.id for r in rows]
    assert {(await row(r)).status for r in rows} == {OutboxStatus.SENT}


async def test_a_claim_that_expires_is_retried(mailbox, senders):
    """A worker claims a message and dies before sending it."""
    [message] = await queue()
    [claimed] = await claim_due()
    assert (claimed.id, claimed.attempts) == (message.id, 1)
    held = await row(message)
    assert held.claimed_until > datetime.now(UTC) + timedelta(seconds=60)

    # While the claim holds, nobody else takes it.
    assert await claim_due() == []
    assert await deliver_due(senders) == 0
    assert mailbox.attempts == []

    await expire_claim(message)
    assert await deliver_due(senders) == 1
    sent = await row(message)
    assert (sent.status, sent.attempts, sent.claimed_until) == (OutboxStatus.SENT, 2, None)
    assert sent_from(mailbox.messages) == [message.id]
    assert await deliver_due(senders) == 0


async def test_a_message_resent_after_a_crash_keeps_its_message_id(mailbox, senders):
    """The worst moment: sent, then the worker dies before recording it. The retry is the
    same mail for servers and clients (same Message-ID); other rows have their own."""
    rows = await queue(2)
    claimed = await claim_due(limit=1)
    send, _ = senders[OutboxChannel.EMAIL]
    await send(claimed[0])  # sent, never recorded
    await expire_claim(rows[0])
    assert await deliver_due(senders) == 2
    received = mailbox.messages
    assert sent_from(received) == [rows[0].id, rows[0].id, rows[1].id]
    assert received[0]["Message-ID"] == received[1]["Message-ID"] != received[2]["Message-ID"]


async def test_a_worker_slower_than_its_claim_sends_nothing_another_took_over(mailbox, senders):
    """A worker claims a batch; sending its first message takes so long that the claim on
    the rest expires and another worker delivers them. The slow one must not send them
    again."""
    rows = await queue(3)
    smtp, _ = senders[OutboxChannel.EMAIL]
    taken_over: list[int] = []

    async def slow(message: Outgoing) -> None:
        await smtp(message)
        if not taken_over:
            for other in rows[1:]:
                await expire_claim(other)
            taken_over.append(await deliver_due(senders))

    assert await deliver_due({OutboxChannel.EMAIL: (slow, OutboxStatus.SENT)}) == 1
    assert taken_over == [2]
    assert sorted(sent_from(mailbox.attempts)) == [r.id for r in rows]
    assert {(await row(r)).status for r in rows} == {OutboxStatus.SENT}


def test_the_message_id_names_the_row_and_the_deployment(settings):
    """Stable for a row, so a retry is the same mail; unique across rows, databases started
    afresh and deployments, or mail clients would drop a new mail as a duplicate."""

    def message_id(message: Outgoing, public_url: str = "https://help.acme.test") -> str:
        smtp_settings = replace(settings, smtp_url="smtp://127.0.0.1:2525", public_url=public_url)
        sender, _ = senders_for(smtp_settings)[OutboxChannel.EMAIL]
        return sender.build(message)["Message-ID"]

    created = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    first = Outgoing(7, OutboxChannel.EMAIL, "a@x.test", "Hello", "Body", 1, created_at=created)
    assert message_id(first) == message_id(replace(first, attempts=4, subject="Changed"))
    assert message_id(first).endswith("@help.acme.test>")
    assert "outbox-7." in message_id(first)
    assert message_id(first) != message_id(replace(first, id=8))
    assert message_id(first) != message_id(replace(first, created_at=created + timedelta(days=1)))
    assert message_id(first) != message_id(first, "https://help.globex.test")


async def test_a_subject_with_line_breaks_is_sent_on_one_line(mailbox, senders):
    """Subjects are free text (an approval's, a ticket's): a line break must neither make
    the mail unsendable nor add a header."""
    await outbox.enqueue_email("alice@acme.test", "Refund\r\nBcc: eve@evil.test\n now", "Body")
    assert await deliver_due(senders) == 1
    [mail] = mailbox.messages
    assert mail["Subject"] == "Refund Bcc: eve@evil.test now"
    assert mail["Bcc"] is None
    assert (await OutboxMessage.get()).status == OutboxStatus.SENT


def test_the_smtp_url_gives_host_port_and_credentials():
    plain = SmtpSender("smtp://mailer%40acme:p%40ss%3Aword@mail.acme.test:2525")
    assert (plain.host, plain.port, plain.implicit_tls) == ("mail.acme.test", 2525, False)
    assert (plain.username, plain.password) == ("mailer@acme", "p@ss:word")
    assert SmtpSender("smtp://mail.acme.test").port == 25
    secure = SmtpSender("smtps://mail.acme.test")
    assert (secure.port, secure.implicit_tls, secure.username) == (465, True, None)


# ---------------------------------------------------------------- without a gateway


async def test_without_an_smtp_url_messages_are_kept_and_logged(settings, caplog):
    caplog.set_level(logging.INFO, logger="guichet.outbox")
    senders = senders_for(replace(settings, smtp_url=None, sms_sender=None))
    [message] = await queue()
    await outbox.enqueue_sms("+33600000000", "Your code is 1234.")
    assert await deliver_due(senders) == 2
    logged = await row(message)
    assert (logged.status, logged.attempts, logged.claimed_until) == (OutboxStatus.LOGGED, 1, None)
    assert logged.sent_at is not None
    sms = await OutboxMessage.get(channel=OutboxChannel.SMS)
    assert sms.status == OutboxStatus.LOGGED
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "guichet.outbox")
    for part in ("alice@acme.test", "Message 0", "Body of message 0.", "+33600000000", "1234"):
        assert part in text
    assert await deliver_due(senders) == 0


# ---------------------------------------------------------------- the worker


async def test_the_worker_drains_the_outbox_in_one_round(settings, mailbox, smtp_url):
    rows = await queue(outbox.BATCH * 2 + 5)
    worker = Worker(replace(settings, smtp_url=smtp_url), bus=None)
    await worker.run_once()
    assert len(mailbox.messages) == len(rows)
    assert {(await row(r)).status for r in rows} == {OutboxStatus.SENT}
