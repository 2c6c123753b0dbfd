"""Queueing messages in the outbox and handing them to senders, once each.

`enqueue_email` / `enqueue_sms` run inside the caller's transaction: the message exists
exactly when the change that caused it committed. `deliver_due` claims due messages
atomically (one UPDATE … RETURNING; on PostgreSQL the rows are picked with FOR UPDATE SKIP
LOCKED, so several workers never claim the same message), sends them, and records the
outcome. A failed attempt is retried with exponential back-off; a worker that dies
mid-send leaves a claim that expires, and the message is retried. A worker renews its
claim on each message just before sending it, so one slowed down beyond its claim never
sends a message another worker has taken over since. Each e-mail carries a Message-ID
derived from its outbox row, so a retry after a crash at the worst moment (sent, not yet
recorded) is recognisable as the same message by mail servers and clients.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from guichet.models.db import dialect
from guichet.models.outbox import OutboxChannel, OutboxMessage, OutboxStatus
from guichet.resolvers import sql
from guichet.resolvers.sql import as_datetime

log = logging.getLogger("guichet.outbox")

CLAIM_SECONDS = 120
BATCH = 20
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    channel: OutboxChannel
    recipient: str
    subject: str
    body: str
    attempts: int
    created_at: datetime | None = None
    # The claim this worker holds on the message (it holds none once another claimed it).
    claimed_until: datetime | None = None


# A sender delivers one message or raises; the worker picks one per channel.
Sender = Callable[[Outgoing], Awaitable[None]]


async def enqueue_email(recipient: str, subject: str, body: str) -> None:
    await OutboxMessage.create(
        channel=OutboxChannel.EMAIL, recipient=recipient, subject=subject[:250], body=body,
        next_attempt_at=datetime.now(UTC),
    )  # fmt: skip


async def enqueue_sms(recipient: str, body: str) -> None:
    await OutboxMessage.create(
        channel=OutboxChannel.SMS, recipient=recipient, body=body, next_attempt_at=datetime.now(UTC)
    )


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … doubling, at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600))


# Picked once in a MATERIALIZED CTE: written as `id IN (SELECT … LIMIT n FOR UPDATE SKIP
# LOCKED)`, PostgreSQL may rescan the subquery per row and claim far more than n. The lock
# is PostgreSQL's only.
_CLAIM = sql.statement(
    "WITH due AS MATERIALIZED (SELECT id FROM outbox_message WHERE status = 'PENDING'"
    " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)"
    " ORDER BY id LIMIT ?",
    sql.GIVEN,
    ") UPDATE outbox_message SET claimed_until = ?, attempts = attempts + 1"
    " WHERE id IN (SELECT id FROM due) AND status = 'PENDING'"
    " RETURNING id, channel, recipient, subject, body, attempts, created_at",
)
_RENEW = sql.statement("UPDATE outbox_message SET claimed_until = ?").where(
    "id = ?", "status = 'PENDING'", "claimed_until = ?"
)
_RETRY_LATER = sql.statement(
    "UPDATE outbox_message SET claimed_until = NULL, next_attempt_at = ?, last_error = ?"
).where("id = ?")
_SETTLE = sql.statement(
    "UPDATE outbox_message SET status = ?, sent_at = ?, claimed_until = NULL, last_error = ?"
).where("id = ?")


async def claim_due(now: datetime | None = None, limit: int = BATCH) -> list[Outgoing]:
    now = now or datetime.now(UTC)
    lock = "FOR UPDATE SKIP LOCKED" if dialect() == "postgres" else ""
    until = now + timedelta(seconds=CLAIM_SECONDS)
    rows = await _CLAIM.fetch(now, now, limit, lock, until)
    return [
        Outgoing(
            r["id"],
            OutboxChannel(r["channel"]),
            r["recipient"],
            r["subject"],
            r["body"],
            r["attempts"],
            as_datetime(r["created_at"]),
            until,
        )
        for r in sorted(rows, key=lambda r: r["id"])
    ]


async def _still_claimed(message: Outgoing) -> bool:
    """Renew this worker's claim on a message just before sending it. False when the claim
    expired (the messages before it in the batch took that long) and another worker
    claimed the message since: that worker sends it, this one must not."""
    renewed = await _RENEW.execute(
        datetime.now(UTC) + timedelta(seconds=CLAIM_SECONDS),
        message.id,
        message.claimed_until,
    )
    return renewed == 1


async def _record(message: Outgoing, status: OutboxStatus, error: str | None = None) -> None:
    now = datetime.now(UTC)
    if status is OutboxStatus.PENDING:
        await _RETRY_LATER.execute(
            now + retry_delay(message.attempts),
            (error or "")[:500],
            message.id,
        )
        return
    await _SETTLE.execute(
        status.value,
        now if status in (OutboxStatus.SENT, OutboxStatus.LOGGED) else None,
        error[:500] if error else None,
        message.id,
    )


async def deliver_due(senders: Mapping[OutboxChannel, tuple[Sender, OutboxStatus]]) -> int:
    """Send what is due; returns how many messages were delivered this round."""
    delivered = 0
    for message in await claim_due():
        if not await _still_claimed(message):
            log.warning(
                "%s message %s was taken over by another worker", message.channel, message.id
            )
            continue
        send, success = senders[message.channel]
        try:
            await send(message)
        except Exception as error:  # any failure of a gateway is retried, then given up
            reason = f"{type(error).__name__}: {error}"
            if message.attempts >= MAX_ATTEMPTS:
                log.error(
                    "giving up %s message %s to %s: %s",
                    message.channel,
                    message.id,
                    message.recipient,
                    reason,
                )
                await _record(message, OutboxStatus.FAILED, reason)
            else:
                log.warning("retrying %s message %s later: %s", message.channel, message.id, reason)
                await _record(message, OutboxStatus.PENDING, reason)
            continue
        await _record(message, success)
        delivered += 1
    return delivered


async def log_only(message: Outgoing) -> None:
    """The embedded default when no gateway is configured: keep the message, log it."""
    log.info(
        "%s to %s (not sent: no gateway configured): %s\n%s",
        message.channel.value, message.recipient, message.subject, message.body,
    )  # fmt: skip
