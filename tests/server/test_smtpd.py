"""`guichet smtpd`: a real SMTP listener, spoken to by Python's smtplib as an MTA would."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from guichet.models.mail import MailMessage, MailStatus
from guichet.models.tickets import Comment, Ticket
from guichet.server.smtpd import start_smtpd
from tests import services
from tests.conftest import free_port
from tests.resolvers.inbound_helpers import mail, ticket_count

GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))


@pytest.fixture
async def smtpd(app):
    """`guichet smtpd`'s server in this test's loop (where the suite's database is open)."""
    port = free_port()
    server = await start_smtpd(app.state.settings, "127.0.0.1", port, app.state.bus)
    yield port
    server.close()
    await server.wait_closed()


def relay(port: int, message, *, sender: str | None = None, recipients=None) -> dict:
    """Send as an MTA relays: one SMTP session; returns smtplib's refused recipients."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.send_message(message, from_addr=sender, to_addrs=recipients)


async def test_smtpd_accepts_a_mail_relayed_by_smtplib(smtpd, end_user):
    refused = await asyncio.to_thread(relay, smtpd, mail(sender=end_user.email))
    assert refused == {}
    ticket = await Ticket.get(number=1)
    assert (ticket.requester_id, ticket.via.value) == (end_user.row.pk, "EMAIL")

    reply = mail(sender=end_user.email, body="#id 1\n\nAny news?")
    await asyncio.to_thread(relay, smtpd, reply, recipients=["anyone@elsewhere.test"])
    [comment] = await Comment.filter(ticket_id=ticket.id)
    assert comment.body == "Any news?"


async def test_smtpd_accepts_an_ignored_mail_without_bouncing_it(smtpd):
    message = mail(Auto_Submitted="auto-replied")

    def session() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", smtpd, timeout=10) as client:
            client.ehlo()
            client.mail("dana@newcomer.test")
            client.rcpt("support@guichet.invalid")
            return client.data(bytes(message))

    code, answer = await asyncio.to_thread(session)
    assert code == 250
    assert b"ignored" in answer
    assert await ticket_count() == 0
    [logged] = await MailMessage.all()
    assert logged.status is MailStatus.IGNORED


async def test_smtpd_takes_a_bounce_from_the_null_sender_and_ignores_it(smtpd):
    await asyncio.to_thread(relay, smtpd, mail(), sender="<>", recipients=["support@x.test"])
    [logged] = await MailMessage.all()
    assert (logged.status, logged.reason) == (MailStatus.IGNORED, "bounce (null return path)")


async def test_smtpd_refuses_huge_headers_with_552(smtpd):
    message = mail()
    for i in range(1200):
        message[f"X-Filler-{i}"] = "x" * 60
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(relay, smtpd, message)
    assert refused.value.smtp_code == 552
    assert await ticket_count() == 0


@pytest.mark.skipif(GUICHET is None, reason="the guichet console script is not installed")
def test_guichet_smtpd_runs_as_a_command(tmp_path: Path) -> None:
    database = tmp_path / "smtpd.sqlite3"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env["GUICHET_DATABASE_URL"] = f"sqlite://{database}"
    with (tmp_path / "out").open("w") as out:
        server = subprocess.Popen(
            [GUICHET, "smtpd", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "listening" not in (tmp_path / "out").read_text():
            assert server.poll() is None, (tmp_path / "out").read_text()
            assert time.monotonic() < deadline, "guichet smtpd did not start within 30 s"
            time.sleep(0.1)
        assert relay(port, mail()) == {}
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT number, subject, via FROM ticket").fetchall()
        assert rows == [(1, "My printer is on fire", "EMAIL")]
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=20)
    output = (tmp_path / "out").read_text()
    assert code == 0, output
    assert "Traceback" not in output


async def test_while_postgresql_is_down_mail_waits_at_the_door(tmp_path: Path) -> None:
    """smtpd answers 451 and /inbound/email 503 (both: try again later) while the database
    is away; the same messages are taken once it is back, without a restart."""
    if GUICHET is None:
        pytest.skip("the guichet console script is not installed")
    postgres = services.PostgresServer().create()
    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(
        GUICHET_DATABASE_URL=postgres.url,
        GUICHET_SECRET_KEY="smtpd-outage-secret-key-long-enough-0123456789",
        GUICHET_INBOUND_TOKEN="outage-token",
    )
    log_path = tmp_path / "out"
    processes = []

    def start(*command: str) -> subprocess.Popen:
        with log_path.open("ab") as log:
            started = subprocess.Popen(
                [GUICHET, *command], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(started)
        return started

    try:
        # One after the other: both apply migrations first, and two migrating one fresh
        # database at once may collide.
        smtpd = start("smtpd", "--port", str(smtp_port))
        async with asyncio.timeout(120):  # a busy machine
            while "listening" not in log_path.read_text(errors="replace"):
                assert smtpd.poll() is None, log_path.read_text(errors="replace")
                await asyncio.sleep(0.1)
        serve = start("serve", "--port", str(http_port), "--no-worker")
        headers = {"content-type": "message/rfc822", "x-guichet-inbound-token": "outage-token"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            async with asyncio.timeout(120):
                while True:
                    assert serve.poll() is None, log_path.read_text(errors="replace")
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            by_smtp = mail(message_id="<smtp@client.test>")
            by_http = bytes(mail(message_id="<http@client.test>", subject="By webhook"))

            postgres.crash()
            with pytest.raises(smtplib.SMTPDataError) as later:
                await asyncio.to_thread(relay, smtp_port, by_smtp)
            assert later.value.smtp_code == 451
            during = await http.post("/inbound/email", content=by_http, headers=headers)
            assert during.status_code == 503
            assert during.headers["retry-after"]

            postgres.start()
            assert await asyncio.to_thread(relay, smtp_port, by_smtp) == {}
            after = await http.post("/inbound/email", content=by_http, headers=headers)
            assert after.status_code == 200, after.text
            assert after.json()["status"] == "RECEIVED"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        postgres.stop()
    output = log_path.read_text(errors="replace")
    # asyncpg's pool logs its own reconnection attempts with a traceback: not ours.
    assert "Unexpected error" not in output
    assert "could not take a message" not in output
