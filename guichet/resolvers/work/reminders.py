"""Activity reminders: each armed reminder fires exactly once, whatever number of
processes run the worker.

One statement claims due reminders (sets `reminded_at`; on PostgreSQL the rows are picked
FOR UPDATE SKIP LOCKED), and the claim, the outbox messages (EMAIL, SMS), the stored
notifications (POPUP) and the history events commit together; the notifications' ids are
published after the commit, so a crash in between loses nothing: a client that reconnects
replays the stored row. A reminder that fell due while no worker ran fires at the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.activities import ReminderChannel
from guichet.models.db import dialect
from guichet.models.tickets import Channel, TicketEventKind
from guichet.resolvers import ids, sql
from guichet.resolvers.context import Context
from guichet.resolvers.mail import outbound, outbox
from guichet.resolvers.sql import as_datetime
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.work.activities import channels_of

if TYPE_CHECKING:
    from guichet.server.settings import Settings

log = logging.getLogger("guichet.reminders")

# Reminders claimed per statement (and per transaction).
BATCH = 50


def _publisher(source: Any) -> Context:
    """A Context to publish with, from a Context, a function making one, a bus or None."""
    if isinstance(source, Context):
        return source
    if source is not None and not hasattr(source, "publish") and callable(source):
        return source()
    return Context(None, None, source)  # type: ignore[arg-type]


async def send_due_reminders(
    context_factory_or_bus: Context | Callable[[], Context] | Any,
    now: datetime | None = None,
    *,
    limit: int = BATCH,
) -> int:
    """Fire every reminder due at `now` (default: the current time), in batches of `limit`;
    returns how many activities were reminded. Safe to run in several processes at once."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    context = _publisher(context_factory_or_bus)
    total = 0
    while True:
        sent = await _send_batch(context, now or datetime.now(UTC), limit)
        total += sent
        if sent < limit:
            return total


# The due rows are picked once, in a MATERIALIZED CTE: as `id IN (SELECT … LIMIT n FOR UPDATE
# SKIP LOCKED)`, PostgreSQL rescans the subquery for each row of a semi join, skips the rows
# this very statement has just updated, and claims them all. The lock is PostgreSQL's only.
_CLAIM = sql.statement(
    "WITH due AS MATERIALIZED (SELECT id FROM activity WHERE remind_at <= ?"
    " AND reminded_at IS NULL AND completed_at IS NULL AND reminder_channels <> ''"
    " ORDER BY remind_at, id LIMIT ?",
    sql.GIVEN,
    ") UPDATE activity SET reminded_at = ?"
    " WHERE reminded_at IS NULL AND id IN (SELECT id FROM due) RETURNING id",
)
_DUE = (
    sql.select(
        "a.id, a.ticket_id, a.owner_id, a.kind, a.subject, a.due_at, a.reminder_channels",
        "u.email, u.phone, t.number, t.subject AS ticket_subject",
        from_='activity a JOIN "user" u ON u.id = a.owner_id JOIN ticket t ON t.id = a.ticket_id',
    )
    .where(sql.among("a.id"))
    .order("a.id")
)


async def _send_batch(context: Context, now: datetime, limit: int) -> int:
    lock = "FOR UPDATE SKIP LOCKED" if dialect() == "postgres" else ""
    changes = Changes()
    async with in_transaction():
        claimed = await _CLAIM.fetch(now, limit, lock, now)
        if not claimed:
            return 0
        due = await _DUE.fetch([r["id"] for r in claimed])
        base = context.settings.public_url if context.settings else "http://127.0.0.1:8000"
        for r in due:
            await _remind(context.settings, changes, r, base)
    await changes.publish(context)
    return len(claimed)


async def _remind(
    settings: Settings | None, changes: Changes, r: dict[str, Any], base: str
) -> None:
    due = as_datetime(r["due_at"])
    text = f"Reminder: {r['kind'].lower()} \u201c{r['subject']}\u201d on ticket #{r['number']}" + (
        f", due {due:%Y-%m-%d %H:%M} UTC" if due else ""
    )
    for channel in channels_of(r["reminder_channels"]):
        if channel is ReminderChannel.EMAIL:
            recipient = r["email"]
            await outbound.queue_notice(
                settings,
                to=recipient,
                subject=f"Reminder: {r['subject']} (ticket #{r['number']})",
                body=f"{text}.\n\nTicket #{r['number']}: \u201c{r['ticket_subject']}\u201d\n"
                f"{base}/tickets/{r['number']}\n",
                ticket_pk=r["ticket_id"],
                ticket_number=r["number"],
            )
        elif channel is ReminderChannel.SMS:
            recipient = r["phone"]
            if not recipient:  # the phone number was removed after the reminder was set
                log.warning("activity %s: no phone number left for its SMS reminder", r["id"])
                continue
            await outbox.enqueue_sms(recipient, text[:300])
        else:
            recipient = ids.encode("User", r["owner_id"])
            await changes.notify(  # written in the claim's transaction
                r["owner_id"], "ACTIVITY_REMINDER", text, r["ticket_id"], activity_pk=r["id"]
            )
        await changes.record(
            r["ticket_id"], TicketEventKind.NOTIFICATION_SENT, actor_pk=None, via=Channel.SYSTEM,
            public=False, data={"channel": channel.value, "recipient": recipient,
                                "activity": ids.encode("Activity", r["id"])},
        )  # fmt: skip
