"""settings / updateSettings: admins change the help desk's settings, stored in the database
over the environment's defaults, validated all at once, audited, and applied at once on
every process (a lost message heals within a second)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.admin import AuditEntry, HelpCenterSettings
from guichet.models.outbox import OutboxMessage
from guichet.models.tickets import Ticket
from guichet.resolvers.admin import help_center, help_center_changes
from guichet.resolvers.context import Context
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import create_ticket, make_ticket, updated

FIELDS = """
helpCenterName supportEmail timeZone agentsUsePortal signUpOpen csatEnabled csatWindowDays
autoCloseSolvedAfterDays updatedAt
"""
SETTINGS = f"{{ settings {{ {FIELDS} }} }}"
UPDATE = f"""
mutation($input: UpdateSettingsInput!) {{
  updateSettings(input: $input) {{ settings {{ {FIELDS} }} errors {{ code field }} }}
}}
"""
RATE = """
mutation($id: ID!) { rateSatisfaction(input: {ticketId: $id, score: GOOD}) { errors { code } } }
"""
DEFAULTS = {
    "helpCenterName": "Guichet",
    "supportEmail": "no-reply@guichet.invalid",
    "timeZone": "UTC",
    "agentsUsePortal": True,
    "signUpOpen": True,
    "csatEnabled": True,
    "csatWindowDays": 28,
    "autoCloseSolvedAfterDays": 0,
}


async def current(gql, as_) -> dict:
    result = await gql(SETTINGS, as_=as_)
    assert "errors" not in result, result
    return result["data"]["settings"]


async def update(gql, as_, **changes) -> dict:
    result = await gql(UPDATE, {"input": changes}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["updateSettings"]


async def changed(gql, as_, **changes) -> dict:
    payload = await update(gql, as_, **changes)
    assert payload["errors"] == [], payload["errors"]
    return payload["settings"]


def without_time(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k != "updatedAt"}


async def test_the_environment_gives_the_defaults(gql, admin):
    settings = await current(gql, admin)
    assert without_time(settings) == DEFAULTS
    assert settings["updatedAt"].startswith("1970-01-01")


async def test_admins_change_settings_and_the_rest_stay(gql, admin, owner):
    after = await changed(
        gql,
        admin,
        helpCenterName="Acme Help",
        supportEmail="Help@Acme.test",
        timeZone="Europe/Zurich",
        csatWindowDays=7,
    )
    expected = {
        **DEFAULTS,
        "helpCenterName": "Acme Help",
        "supportEmail": "help@acme.test",
        "timeZone": "Europe/Zurich",
        "csatWindowDays": 7,
    }
    assert without_time(after) == expected
    assert without_time(await current(gql, owner)) == expected
    again = await changed(
        gql, owner, agentsUsePortal=False, csatEnabled=False, autoCloseSolvedAfterDays=0
    )
    assert without_time(again) == {**expected, "agentsUsePortal": False, "csatEnabled": False}
    row = await HelpCenterSettings.get(id=1)
    assert (row.version, row.updated_by_id) == (2, owner.row.pk)


async def test_a_change_is_audited_with_before_and_after(gql, admin):
    await changed(gql, admin, csatWindowDays=7, timeZone="UTC")
    entry = await AuditEntry.get(action="settings.updated")
    assert entry.actor_id == admin.row.pk
    # The time zone did not change (UTC already): only what changed is listed.
    assert json.loads(entry.changes) == {"csat_window_days": [28, 7]}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "UNKNOWN_TIME_ZONE", "timeZone"),
        ({"timeZone": "/etc/passwd"}, "UNKNOWN_TIME_ZONE", "timeZone"),
        ({"timeZone": ""}, "UNKNOWN_TIME_ZONE", "timeZone"),
        ({"csatWindowDays": -1}, "OUT_OF_RANGE", "csatWindowDays"),
        ({"csatWindowDays": 0}, "OUT_OF_RANGE", "csatWindowDays"),
        ({"csatWindowDays": 3651}, "OUT_OF_RANGE", "csatWindowDays"),
        ({"autoCloseSolvedAfterDays": -1}, "OUT_OF_RANGE", "autoCloseSolvedAfterDays"),
        ({"autoCloseSolvedAfterDays": 3651}, "OUT_OF_RANGE", "autoCloseSolvedAfterDays"),
        ({"supportEmail": "not an address"}, "INVALID_EMAIL", "supportEmail"),
        ({"helpCenterName": "  "}, "REQUIRED", "helpCenterName"),
        ({"helpCenterName": "x" * 201}, "TOO_LONG", "helpCenterName"),
    ],
)
async def test_bad_values_are_refused_and_nothing_changes(gql, admin, changes, code, field):
    # A good value beside the bad one: nothing is half-changed.
    payload = await update(
        gql, admin, **{"helpCenterName": "Ok", "agentsUsePortal": False, **changes}
    )
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["input", field])]
    assert payload["settings"] is None
    assert without_time(await current(gql, admin)) == DEFAULTS
    assert not await HelpCenterSettings.exists()
    assert not await AuditEntry.exists()


async def test_every_problem_is_told_at_once(gql, admin):
    payload = await update(gql, admin, timeZone="Nowhere/Land", csatWindowDays=-1)
    assert sorted(e["code"] for e in payload["errors"]) == ["OUT_OF_RANGE", "UNKNOWN_TIME_ZONE"]


async def test_only_admins_read_and_change_settings(gql, agent, light_agent, end_user):
    for person in (agent, light_agent, end_user):
        assert error_codes(await gql(SETTINGS, as_=person)) == ["FORBIDDEN"]
        refused = await gql(UPDATE, {"input": {"csatWindowDays": 3}}, as_=person)
        assert error_codes(refused) == ["FORBIDDEN"]
    assert not await HelpCenterSettings.exists()


# ---------------------------------------------------------------- applied where used


async def test_the_support_address_signs_outgoing_mail(gql, admin, agent, end_user):
    await changed(gql, admin, helpCenterName="Acme Help", supportEmail="help@acme.test")
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    await updated(gql, agent, ticket["id"], status="SOLVED")
    mails = await OutboxMessage.filter(recipient=end_user.email)
    assert mails
    for mail in mails:
        assert "help@acme.test" in json.loads(mail.headers)["From"]


async def test_turning_satisfaction_off_stops_surveys_and_ratings(gql, admin, agent, end_user):
    await changed(gql, admin, csatEnabled=False)
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    await updated(gql, agent, ticket["id"], status="SOLVED")
    mails = await OutboxMessage.filter(recipient=end_user.email)
    assert mails and not any("satisfaction" in m.body for m in mails)
    result = await gql(RATE, {"id": ticket["id"]}, as_=end_user)
    assert [e["code"] for e in result["data"]["rateSatisfaction"]["errors"]] == [
        "SATISFACTION_DISABLED"
    ]
    await changed(gql, admin, csatEnabled=True)
    result = await gql(RATE, {"id": ticket["id"]}, as_=end_user)
    assert result["data"]["rateSatisfaction"]["errors"] == []


async def test_the_rating_window_follows_the_setting(gql, admin, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    await updated(gql, agent, ticket["id"], status="SOLVED")
    await Ticket.filter(number=ticket["number"]).update(
        solved_at=datetime.now(UTC) - timedelta(days=10)
    )
    await changed(gql, admin, csatWindowDays=7)
    result = await gql(RATE, {"id": ticket["id"]}, as_=end_user)
    assert [e["code"] for e in result["data"]["rateSatisfaction"]["errors"]] == [
        "RATING_WINDOW_CLOSED"
    ]
    await changed(gql, admin, csatWindowDays=14)
    result = await gql(RATE, {"id": ticket["id"]}, as_=end_user)
    assert result["data"]["rateSatisfaction"]["errors"] == []


async def test_agents_use_the_portal_only_while_allowed(gql, admin, agent, light_agent):
    await changed(gql, admin, agentsUsePortal=False)
    refused = await gql(
        'mutation { createTicket(input: {subject: "s", description: "d", portal: true})'
        " { errors { code } } }",
        as_=agent,
    )
    assert error_codes(refused) == ["FORBIDDEN"]
    # Light agents file through the form whatever the setting: it is their only way.
    assert (await create_ticket(gql, light_agent, portal=True))["errors"] == []
    # Agents still open tickets for requesters as staff.
    assert (await create_ticket(gql, agent))["errors"] == []
    await changed(gql, admin, agentsUsePortal=True)
    assert (await create_ticket(gql, agent, portal=True))["errors"] == []


async def test_today_and_this_week_start_in_the_time_zone(gql, admin, app):
    await changed(gql, admin, timeZone="Pacific/Auckland")
    settings = await help_center.current_for(app.state.settings)
    now = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # Tuesday 09:00 in Auckland (UTC+13)
    assert settings.day_starts_at(now) == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert settings.week_starts_at(now) == datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
    assert settings.month_starts_at(now) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


# ---------------------------------------------------------------- every process


async def test_a_lost_message_delays_a_change_by_a_second_at_most(gql, admin, app):
    """Another process changed the row and its message never came: the server's watch reads
    the row every POLL_SECONDS anyway."""
    assert (await current(gql, admin))["csatWindowDays"] == 28
    # Written as another process would, without telling this one.
    await HelpCenterSettings.create(id=1, csat_window_days=5, version=1)
    started = time.monotonic()
    async with asyncio.timeout(help_center.POLL_SECONDS + 2):
        while (await current(gql, admin))["csatWindowDays"] != 5:  # noqa: ASYNC110 - polled
            await asyncio.sleep(0.02)
    assert time.monotonic() - started <= help_center.POLL_SECONDS + 0.5


async def test_a_process_without_a_watch_reads_the_row_when_its_copy_is_a_second_old(
    app, monkeypatch
):
    """A script or a lone worker: no watch, so the copy is compared with the row on use once
    it is POLL_SECONDS old (the clock is moved, not waited for)."""
    settings = app.state.settings
    help_center.watching(settings.database_url, False)
    try:
        assert (await help_center.current_for(settings)).csat_window_days == 28
        await HelpCenterSettings.create(id=1, csat_window_days=5, version=1)
        assert (await help_center.current_for(settings)).csat_window_days == 28
        clock = time.monotonic() + help_center.POLL_SECONDS + 0.01
        monkeypatch.setattr(help_center.time, "monotonic", lambda: clock)
        assert (await help_center.current_for(settings)).csat_window_days == 5
    finally:
        help_center.watching(settings.database_url, True)


async def test_another_process_applies_a_change_within_a_second(gql, admin, app):
    """A real second process on the same database and bus: it hears the change at once
    through Redis, or (memory:// reaches no other process) reads it with its next poll."""
    settings = app.state.settings
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.resolvers.admin.settings_process",
        settings.database_url,
        settings.broadcast_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )

    async def ask() -> str:
        child.stdin.write(b"?\n")
        await child.stdin.drain()
        return (await child.stdout.readline()).decode().strip()

    try:
        async with asyncio.timeout(30):
            assert (await child.stdout.readline()).strip() == b"ready"
        assert await ask() == "Guichet"
        await changed(gql, admin, helpCenterName="Acme Help")
        started = time.monotonic()
        async with asyncio.timeout(help_center.POLL_SECONDS + 2):
            while await ask() != "Acme Help":  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.02)
        took = time.monotonic() - started
        assert took <= help_center.POLL_SECONDS + 0.5
        if settings.broadcast_url.startswith("redis"):
            assert took < 0.5  # heard, not polled
    finally:
        child.stdin.write(b"quit\n")
        await child.stdin.drain()
        async with asyncio.timeout(10):
            await child.wait()


async def test_the_process_that_changes_applies_it_before_answering(gql, admin, agent, app):
    await help_center.current_for(app.state.settings)
    await changed(gql, admin, agentsUsePortal=False)
    # The very next request, well within the poll interval, sees it.
    refused = await gql(
        'mutation { createTicket(input: {subject: "s", description: "d", portal: true})'
        " { errors { code } } }",
        as_=agent,
    )
    assert error_codes(refused) == ["FORBIDDEN"]


async def test_concurrent_changes_each_count_the_version_once(app, admin):
    context = Context(app.state.settings, admin.viewer, None)
    await asyncio.gather(
        *(
            help_center_changes.update_settings(
                context, help_center_changes.SettingsChanges(csat_window_days=days)
            )
            for days in range(1, 7)
        )
    )
    row = await HelpCenterSettings.get(id=1)
    assert row.version == 6
    assert 1 <= row.csat_window_days <= 6
    assert await AuditEntry.filter(action="settings.updated").count() == 6
    # This process's copy holds the last committed change, not an earlier one.
    assert (await help_center.current_for(app.state.settings)).csat_window_days == (
        row.csat_window_days
    )
