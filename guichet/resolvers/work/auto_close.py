"""Auto-close: the worker closes tickets solved more than N days ago
(`autoCloseSolvedAfterDays`; 0: never).

Each close is a FIELD_CHANGED status event (SOLVED → CLOSED) by the system (no actor,
via SYSTEM), recorded in the transaction of its batch and published after it commits.
Safe with several workers at once: a batch takes its tickets with one conditional UPDATE
(`WHERE status = 'SOLVED'`, the candidates locked with SKIP LOCKED on PostgreSQL; SQLite has
one writer), so a ticket is closed, and recorded, once. A ticket with a pending approval
request is left alone (it could not be closed by hand either), as is one reopened meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.tickets import Channel, TicketEventKind, TicketStatus
from guichet.resolvers import sql
from guichet.resolvers.admin import help_center
from guichet.resolvers.sql import dialect
from guichet.resolvers.tickets.history import Changes

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

BATCH = 200

# Picked once, in a MATERIALIZED CTE (see reminders.py for why not `IN (… SKIP LOCKED)`).
_CLOSE = sql.statement(
    "WITH due AS MATERIALIZED (SELECT t.id FROM ticket t"
    " WHERE t.status = 'SOLVED' AND t.solved_at <= ?"
    " AND NOT EXISTS (SELECT 1 FROM approval_request a"
    " WHERE a.ticket_id = t.id AND a.status = 'PENDING')"
    " ORDER BY t.solved_at, t.id LIMIT ?",
    sql.GIVEN,
    ") UPDATE ticket SET status = 'CLOSED', updated_at = ?"
    " WHERE status = 'SOLVED' AND id IN (SELECT id FROM due) RETURNING id",
)


async def close_solved_tickets(
    context: Context, *, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Close what is due (in batches) and publish its history; returns how many closed."""
    settings = await help_center.current_for(context.settings)
    days = settings.auto_close_solved_after_days
    if days <= 0:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    total = 0
    while True:
        closed = await _close_batch(context, cutoff, batch)
        total += closed
        if closed < batch:
            return total


async def _close_batch(context: Context, cutoff: datetime, batch: int) -> int:
    lock = "FOR UPDATE OF t SKIP LOCKED" if dialect() == "postgres" else ""
    changes = Changes()  # the system's: no actor, no impersonator
    async with in_transaction():
        rows = await _CLOSE.fetch(cutoff, batch, lock, datetime.now(UTC))
        for ticket_pk in sorted(r["id"] for r in rows):
            await changes.record(
                ticket_pk, TicketEventKind.FIELD_CHANGED, actor_pk=None, via=Channel.SYSTEM,
                public=True, field="status", previous=TicketStatus.SOLVED.value,
                new=TicketStatus.CLOSED.value, data={"rule": "auto-close"},
            )  # fmt: skip
    await changes.publish(context)
    return len(rows)
