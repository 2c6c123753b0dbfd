"""Activity reminders firing: POPUP live, EMAIL and SMS through the outbox, each exactly once.

Reminders are driven by passing `now` to `send_due_reminders`; POPUPs are received through
the notifications subscription (the schema's own, on `app.state.bus`). Several processes
on one PostgreSQL database: tests/server/test_reminders_multiprocess.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from guichet.models.activities import Activity
from guichet.models.outbox import OutboxChannel, OutboxMessage
from guichet.models.tickets import TicketEvent, TicketEventKind
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.work import reminders
from guichet.resolvers.work.reminders import send_due_reminders
from guichet.server.worker import Worker
from guichet.subscriptions.notifications import notify
from tests.resolvers.tickets_helpers import make_ticket
from tests.resolvers.work.test_activities import PHONE, added, give_phone, later, updated

TIMEOUT = 5.0
ALL = ["EMAIL", "SMS", "POPUP"]
NOTIFICATIONS = """subscription {
  notifications { kind message ticket { number } activity { id subject owner { id } } }
}"""
RESUMING = """subscription($after: String) {
  notifications(after: $after) { kind activity { id } }
}"""


def hours(n: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=n)


async def fire(app, at: datetime, **kwargs: Any) -> int:
    return await send_due_reminders(app.state.bus, now=at, **kwargs)


async def reminder_messages() -> list[tuple[str, str, str]]:
    """(channel, recipient, subject or body) of every reminder in the outbox."""
    return [
        (m.channel.value, m.recipient, m.subject if m.channel is OutboxChannel.EMAIL else m.body)
        for m in await OutboxMessage.all().order_by("id")
        if m.body.startswith("Reminder") or m.subject.startswith("Reminder")
    ]


async def sent_events() -> list[dict]:
    """The reminders' NOTIFICATION_SENT events (not the ticket's own mail: its receipt...)."""
    events = [
        event
        for event in await TicketEvent.filter(kind=TicketEventKind.NOTIFICATION_SENT).order_by("id")
        if "activity" in orjson.loads(event.data)
    ]
    for event in events:
        assert (event.actor_id, event.via, event.public) == (None, "SYSTEM", False)
    return [orjson.loads(event.data) for event in events]


class Popups:
    """The notifications subscription of one person, live once a READY has come through."""

    def __init__(self, app, person) -> None:
        self.app, self.person = app, person
        self.publisher = Context(app.state.settings, None, app.state.bus)

    async def publish(self, kind: str) -> None:
        await notify(self.publisher, self.person.row.pk, kind, kind.lower(), datetime.now(UTC))

    async def _next(self) -> dict:
        result = await self.stream.__anext__()
        assert not result.errors, result.errors
        return result.data["notifications"]

    async def start(self) -> None:
        context = Context(self.app.state.settings, self.person.viewer, self.app.state.bus)
        self.stream = await self.app.state.schema.subscribe(NOTIFICATIONS, context_value=context)
        first = asyncio.ensure_future(self._next())
        async with asyncio.timeout(TIMEOUT):
            while not first.done():
                await self.publish("READY")
                await asyncio.wait([first], timeout=0.05)
        assert first.result()["kind"] == "READY"

    async def next(self) -> dict:
        """The next notification that is not one of the READY still on their way."""
        async with asyncio.timeout(TIMEOUT):
            while (notification := await self._next())["kind"] == "READY":
                pass
        return notification

    async def nothing_more(self) -> None:
        await self.publish("MARKER")
        assert (await self.next())["kind"] == "MARKER"


@asynccontextmanager
async def popups(app, person) -> AsyncIterator[Popups]:
    listener = Popups(app, person)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stream.aclose()


@pytest.fixture
async def ticket(gql, agent, end_user) -> dict:
    return await make_ticket(gql, agent, requesterId=end_user.id)


# ---------------------------------------------------------------- firing


async def test_a_popup_reminder_reaches_the_owner_live(app, gql, agent, light_agent, ticket):
    activity = await added(
        gql, agent, ticket, subject="Call Alice", ownerId=light_agent.id, dueAt=later(hours=3),
        remindAt=later(hours=1), reminderChannels=["POPUP"],
    )  # fmt: skip
    async with popups(app, light_agent) as live, popups(app, agent) as creator:
        assert await fire(app, hours(0.5)) == 0
        assert await fire(app, hours(1.5)) == 1
        popup = await live.next()
        assert popup["kind"] == "ACTIVITY_REMINDER"
        assert popup["activity"] == {
            "id": activity["id"], "subject": "Call Alice", "owner": {"id": light_agent.id},
        }  # fmt: skip
        assert popup["ticket"] == {"number": ticket["number"]}
        assert "Call Alice" in popup["message"] and "due" in popup["message"]
        assert await fire(app, hours(2)) == 0
        await live.nothing_more()
        await creator.nothing_more()
    assert await sent_events() == [
        {"channel": "POPUP", "recipient": light_agent.id, "activity": activity["id"]}
    ]
    assert await reminder_messages() == []


async def test_a_popup_claimed_just_before_a_crash_is_replayed_when_the_owner_reconnects(
    app, gql, agent, light_agent, ticket, monkeypatch
):
    """The worker dies after the claim commits and before anything is published: the
    POPUP, stored with the claim, is in the owner's bell menu and replays to their widget."""
    activity = await added(
        gql, agent, ticket, subject="Call Alice", ownerId=light_agent.id,
        remindAt=later(hours=1), reminderChannels=["POPUP"],
    )  # fmt: skip
    publisher = Context(app.state.settings, None, app.state.bus)
    had = await notify(publisher, light_agent.row.pk, "EARLIER", "what the widget had")

    async def killed(self: Changes, context: Context) -> None:
        raise RuntimeError("worker killed before publishing")

    with monkeypatch.context() as patched:
        patched.setattr(Changes, "publish", killed)
        with pytest.raises(RuntimeError):
            await fire(app, hours(1.5))
    assert await fire(app, hours(2)) == 0  # claimed once, for good

    context = Context(app.state.settings, light_agent.viewer, app.state.bus)
    stream = await app.state.schema.subscribe(
        RESUMING, variable_values={"after": ids.encode("Notification", had)}, context_value=context
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            result = await stream.__anext__()
    finally:
        await stream.aclose()
    assert not result.errors, result.errors
    popup = result.data["notifications"]
    assert (popup["kind"], popup["activity"]["id"]) == ("ACTIVITY_REMINDER", activity["id"])
    assert await sent_events() == [
        {"channel": "POPUP", "recipient": light_agent.id, "activity": activity["id"]}
    ]


async def test_an_owner_is_told_of_an_activity_given_to_them(app, gql, agent, light_agent, ticket):
    async with popups(app, light_agent) as live:
        activity = await added(gql, agent, ticket, subject="Yours", ownerId=light_agent.id)
        told = await live.next()
        assert (told["kind"], told["activity"]["id"]) == ("ACTIVITY_ASSIGNED", activity["id"])
        await added(gql, light_agent, ticket, subject="My own")
        await updated(gql, agent, activity, ownerId=agent.id)
        await live.nothing_more()


async def test_email_and_sms_reminders_are_queued_exactly_once(app, gql, agent, ticket):
    await give_phone(agent)
    activity = await added(
        gql, agent, ticket, subject="Ship it", remindAt=later(hours=1), reminderChannels=ALL
    )
    at = hours(2)
    async with popups(app, agent) as live:
        assert await fire(app, at) == 1
        assert (await live.next())["activity"]["id"] == activity["id"]
        for _ in range(3):
            assert await fire(app, hours(3)) == 0
        await live.nothing_more()
    subject = f"Reminder: Ship it (ticket #{ticket['number']})"
    assert [m[:2] for m in await reminder_messages()] == [("EMAIL", agent.email), ("SMS", PHONE)]
    assert (await reminder_messages())[0][2] == subject
    assert await sent_events() == [
        {"channel": channel, "recipient": recipient, "activity": activity["id"]}
        for channel, recipient in (("EMAIL", agent.email), ("SMS", PHONE), ("POPUP", agent.id))
    ]
    assert (await Activity.get()).reminded_at == at


async def test_nothing_fires_after_completion_or_removal(app, gql, agent, ticket):
    await give_phone(agent)
    reminder = {"remindAt": later(hours=1), "reminderChannels": ALL}
    done = await added(gql, agent, ticket, subject="Done", **reminder)
    removed = await added(gql, agent, ticket, subject="Removed", **reminder)
    await updated(gql, agent, done, completed=True)
    await updated(gql, agent, removed, remindAt=None)
    async with popups(app, agent) as live:
        assert await fire(app, hours(24)) == 0
        await live.nothing_more()
    # Reopening a completed activity does not bring its reminder back.
    await updated(gql, agent, done, completed=False)
    assert await fire(app, hours(48)) == 0
    assert await reminder_messages() == [] and await sent_events() == []


async def test_a_new_remind_time_rearms_the_reminder(app, gql, agent, ticket):
    activity = await added(
        gql, agent, ticket, subject="Twice", remindAt=later(hours=1), reminderChannels=["EMAIL"]
    )
    assert await fire(app, hours(1.5)) == 1
    assert (await Activity.get()).reminded_at is not None
    rearmed = await updated(
        gql, agent, activity, remindAt=later(minutes=30), reminderChannels=["EMAIL", "POPUP"]
    )
    assert rearmed["remindedAt"] is None
    async with popups(app, agent) as live:
        assert await fire(app, hours(1)) == 1
        assert (await live.next())["activity"]["id"] == activity["id"]
        assert await fire(app, hours(5)) == 0
        await live.nothing_more()
    assert [m[0] for m in await reminder_messages()] == ["EMAIL", "EMAIL"]
    assert [e["channel"] for e in await sent_events()] == ["EMAIL", "EMAIL", "POPUP"]


async def test_an_overdue_reminder_fires_at_the_next_run(app, gql, agent, ticket):
    """Nothing ran while the reminder fell due (the server was down): the next run sends it,
    however late, because it picks every armed reminder whose time has passed."""
    await added(
        gql, agent, ticket, subject="Late", remindAt=later(hours=1), reminderChannels=ALL[:1]
    )
    await added(
        gql, agent, ticket, subject="Later", remindAt=later(days=3), reminderChannels=ALL[:1]
    )
    assert await fire(app, hours(24 * 2)) == 1
    assert await fire(app, hours(24 * 30)) == 1
    assert [m[2] for m in await reminder_messages()] == [
        f"Reminder: {s} (ticket #{ticket['number']})" for s in ("Late", "Later")
    ]


async def test_concurrent_runs_send_each_reminder_once(app, gql, agent, ticket):
    activity = await added(gql, agent, ticket, remindAt=later(hours=1), reminderChannels=["EMAIL"])
    first = await Activity.get(id=ids.decode_as(activity["id"], "Activity"))
    count = 120  # more than two default batches
    for i in range(count - 1):
        await Activity.create(
            ticket_id=first.ticket_id, kind="TASK", subject=f"Copy {i}", owner_id=first.owner_id,
            created_by_id=first.owner_id, remind_at=first.remind_at, reminder_channels="EMAIL",
        )  # fmt: skip
    runs = await asyncio.gather(
        fire(app, hours(2)), fire(app, hours(2), limit=7), fire(app, hours(2), limit=3)
    )
    assert sum(runs) == count
    emails = await reminder_messages()
    assert len(emails) == count and len({m[2] for m in emails}) == count
    assert not await Activity.filter(reminded_at=None).exists()


async def test_one_claim_takes_at_most_its_batch_soonest_first(app, gql, agent, ticket):
    """On PostgreSQL a plain `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` would claim
    every due row (the semi join rescans the subquery); the claim honours its LIMIT."""
    for i in (3, 1, 4, 2, 5):
        await added(
            gql,
            agent,
            ticket,
            subject=f"R{i}",
            remindAt=later(minutes=i),
            reminderChannels=["EMAIL"],
        )
    context = Context(app.state.settings, None, app.state.bus)
    assert await reminders._send_batch(context, hours(1), 2) == 2
    claimed = await Activity.filter(reminded_at__not_isnull=True).values_list("subject", flat=True)
    assert sorted(claimed) == ["R1", "R2"]
    assert len(await reminder_messages()) == 2


async def test_the_worker_fires_reminders_within_seconds(app, gql, agent, ticket):
    worker = Worker(app.state.settings, app.state.bus)
    async with popups(app, agent) as live:
        await added(
            gql, agent, ticket, subject="Soon", remindAt=later(seconds=1),
            reminderChannels=["EMAIL", "POPUP"],
        )  # fmt: skip
        started = time.monotonic()
        worker.start()
        try:
            assert (await live.next())["kind"] == "ACTIVITY_REMINDER"
        finally:
            await worker.stop()
    assert time.monotonic() - started < 5
    [message] = await OutboxMessage.filter(subject__startswith="Reminder")
    assert message.recipient == agent.email
