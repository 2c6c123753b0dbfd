"""Activity reminders fire exactly once with two worker processes on one PostgreSQL database.

Runs only when GUICHET_TEST_DATABASE_URL is a postgres:// URL (CI sets it). The processes get
a fresh database of their own, created on that server, migrated with `guichet migrate` and
dropped afterwards; the test's own database is not touched. Each process calls
`send_due_reminders` in a loop, one reminder per claim, so their claims interleave.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import services

DATABASE_URL = os.environ.get("GUICHET_TEST_DATABASE_URL") or ""
GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))
KEY = "multiprocess-test-secret-key-0123456789-abcdef"
REMINDERS = 30
CHANNELS = ("EMAIL", "SMS", "POPUP")
PHONE = "+33612345678"

pytestmark = pytest.mark.skipif(
    GUICHET is None, reason="the guichet console script is not installed"
)


@pytest.fixture(scope="module", autouse=True)
def shared_database() -> None:
    """Reminders in several processes need a shared database."""
    services.need_postgres()


SEED = f"""
import asyncio, sys
from datetime import UTC, datetime, timedelta
from guichet.models.activities import Activity
from guichet.models.db import close_database, open_database
from guichet.models.people import Role, User
from guichet.models.tickets import Channel, Ticket

async def main(url, count):
    await open_database(url)
    try:
        owner = await User.create(
            name="Rita Reminded", email="rita@mp.test", role=Role.AGENT, phone="{PHONE}"
        )
        ticket = await Ticket.create(
            number=1, subject="Many reminders", description="All due.", via=Channel.WEB,
            requester_id=owner.id, submitter_id=owner.id,
        )
        due = datetime.now(UTC) - timedelta(minutes=5)
        for i in range(count):
            await Activity.create(
                ticket_id=ticket.id, kind="TASK", subject=f"Reminder {{i:02d}}",
                owner_id=owner.id, created_by_id=owner.id, remind_at=due,
                reminder_channels="{",".join(CHANNELS)}",
            )
    finally:
        await close_database()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

RUN = """
import asyncio, os, sys
from datetime import UTC, datetime
from guichet.models.db import close_database, open_database
from guichet.resolvers.work.reminders import send_due_reminders

async def main(url, go, ready):
    await open_database(url)
    total, idle = 0, 0
    try:
        # Connected and warm: a run at a time when nothing was due yet.
        await send_due_reminders(None, now=datetime(2000, 1, 1, tzinfo=UTC))
        open(ready, "w").close()
        while not os.path.exists(go):  # start together
            await asyncio.sleep(0.002)
        while idle < 20:  # until nothing has been due for a while
            sent = await send_due_reminders(None, limit=1)
            total += sent
            idle = 0 if sent else idle + 1
    finally:
        await close_database()
    print(total)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    """A fresh database on the test PostgreSQL server, dropped at the end."""
    import asyncpg

    name = f"guichet_rem_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(_asyncpg_url(DATABASE_URL))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(DATABASE_URL, name)
        finally:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode == 0, (args[:2], err.decode()[-4000:])
    return out.decode()


async def test_two_processes_send_each_reminder_exactly_once(database, tmp_path):
    import asyncpg

    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(GUICHET_DATABASE_URL=database, GUICHET_SECRET_KEY=KEY)
    await _run(tmp_path, GUICHET, "migrate", env=env)
    await _run(tmp_path, sys.executable, "-c", SEED, database, str(REMINDERS), env=env)

    go, ready = tmp_path / "go", [tmp_path / "ready-1", tmp_path / "ready-2"]
    workers = [
        asyncio.ensure_future(
            _run(tmp_path, sys.executable, "-c", RUN, database, str(go), str(flag), env=env)
        )
        for flag in ready
    ]
    async with asyncio.timeout(60):
        while not all(flag.exists() for flag in ready):  # noqa: ASYNC110 - files, no event
            await asyncio.sleep(0.01)
    go.touch()
    counts = [int(out.strip()) for out in await asyncio.gather(*workers)]
    assert sum(counts) == REMINDERS, counts

    connection = await asyncpg.connect(_asyncpg_url(database))
    try:
        activities = {
            r["id"]: r["subject"]
            for r in await connection.fetch(
                "SELECT id, subject FROM activity WHERE reminded_at IS NOT NULL"
            )
        }
        assert len(activities) == REMINDERS
        messages = await connection.fetch(
            "SELECT channel, recipient, subject, body FROM outbox_message"
        )
        events = await connection.fetch(
            "SELECT data FROM ticket_event WHERE kind = 'NOTIFICATION_SENT'"
        )
    finally:
        await connection.close()

    # Each reminder produced exactly one outbox row per channel, and one event per channel.
    emails = Counter(m["subject"] for m in messages if m["channel"] == "EMAIL")
    texts = Counter(m["body"] for m in messages if m["channel"] == "SMS")
    assert sorted(emails) == sorted(f"Reminder: {s} (ticket #1)" for s in activities.values())
    assert set(emails.values()) == {1}
    assert len(texts) == REMINDERS and set(texts.values()) == {1}
    assert all(s in "".join(texts) for s in activities.values())
    assert {m["recipient"] for m in messages if m["channel"] == "SMS"} == {PHONE}
    sent = Counter((data["activity"], data["channel"]) for data in map(_json, events))
    assert len(sent) == REMINDERS * len(CHANNELS) and set(sent.values()) == {1}


def _json(row) -> dict:
    value = row["data"]
    return json.loads(value) if isinstance(value, str) else value
