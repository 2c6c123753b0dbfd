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

A ticket's mail (resolvers/mail/ticket_mail.py) carries its headers (JSON: From's name,
Reply-To, Message-ID chosen at enqueue time, threading) and is in the mail log
(`mail_message`, by `outbox_id`), whose status follows the row's when it settles. A
message may also carry a check (`CHECK` in its headers: a kind and an argument) that the
worker runs just before sending: a delayed survey is dropped when its ticket was reopened
or rated meanwhile. A message marked `SECRET` (a password-reset or sign-up link) loses its
body once it settles, sent or given up: the database keeps no usable link.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

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
    # A ticket's mail: its headers (see SmtpSender.build); None for plain notices.
    headers: dict[str, str] | None = None


# A sender delivers one message or raises; the worker picks one per channel.
Sender = Callable[[Outgoing], Awaitable[None]]
# Whether a message is still wanted, by its check's argument: None (send it) or why not.
Check = Callable[[str], Awaitable[str | None]]
# The key of the headers that holds a message's check, "kind:argument" (never sent).
CHECK = "X-Guichet-Check"
# Marks a message whose body is a key (a single-use link): the body goes once it settles.
SECRET = "X-Guichet-Secret"
SCRUBBED = "(Removed once settled: this mail held a single-use link.)"


async def enqueue_email(
    recipient: str,
    subject: str,
    body: str,
    *,
    headers: Mapping[str, str] | None = None,
    send_at: datetime | None = None,
) -> int:
    """Queue an e-mail in the caller's transaction; its outbox id. `send_at` delays it."""
    message = await OutboxMessage.create(
        channel=OutboxChannel.EMAIL, recipient=recipient, subject=subject[:250], body=body,
        headers=json.dumps(dict(headers)) if headers else None,
        next_attempt_at=send_at or datetime.now(UTC),
    )  # fmt: skip
    return message.id


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
    " RETURNING id, channel, recipient, subject, body, attempts, created_at, headers",
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
_SCRUB = sql.statement("UPDATE outbox_message SET body = ?").where("id = ?")
# The mail log follows (MailStatus has the outbox's final statuses by the same names).
_SETTLE_LOG = sql.statement("UPDATE mail_message SET status = ?, reason = ?").where(
    "outbox_id = ?", "direction = 'OUTBOUND'"
)


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
            json.loads(r["headers"]) if r["headers"] else None,
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


async def _record(
    message: Outgoing, status: OutboxStatus, error: str | None = None, logged_as: str | None = None
) -> None:
    now = datetime.now(UTC)
    if status is OutboxStatus.PENDING:
        await _RETRY_LATER.execute(
            now + retry_delay(message.attempts),
            (error or "")[:500],
            message.id,
        )
        return
    async with in_transaction():
        await _SETTLE.execute(
            status.value,
            now if status in (OutboxStatus.SENT, OutboxStatus.LOGGED) else None,
            error[:500] if error else None,
            message.id,
        )
        if message.headers is not None:
            await _SETTLE_LOG.execute(
                logged_as or status.value, error[:500] if error else None, message.id
            )
            if message.headers.get(SECRET):
                await _SCRUB.execute(SCRUBBED, message.id)


async def _unwanted(message: Outgoing, checks: Mapping[str, Check]) -> str | None:
    """Why a message with a check is no longer to be sent (None: send it)."""
    kind, _, argument = ((message.headers or {}).get(CHECK) or "").partition(":")
    check = checks.get(kind)
    return await check(argument) if check is not None else None


async def deliver_due(
    senders: Mapping[OutboxChannel, tuple[Sender, OutboxStatus]],
    checks: Mapping[str, Check] | None = None,
) -> int:
    """Send what is due; returns how many messages were delivered this round. A message
        whose check (`checks`, by kind) says it is no longer wanted is settled FAILED with why
    (IGNORED in the mail log)."""
    delivered = 0
    for message in await claim_due():
        if not await _still_claimed(message):
            log.warning(
                "%s message %s was taken over by another worker", message.channel, message.id
            )
            continue
        if checks and (reason := await _unwanted(message, checks)):
            log.info("not sending %s message %s: %s", message.channel, message.id, reason)
            await _record(message, OutboxStatus.FAILED, f"not sent: {reason}", "IGNORED")
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
