"""The mail log: every e-mail received or sent, with what became of it, for admins.

Inbound mail writes its row here (`log_inbound`) in the transaction of what it did; outbound
mail writes its own when it queues a message (ticket_mail.py). Admins read the log newest
first (`page`) and any message by id (`mail_message_for_viewer`); nobody else sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from guichet.models.mail import MailDirection, MailMessage, MailStatus
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import BadRequest, NotFound
from guichet.resolvers.sql import as_datetime, as_json, json_text

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


@dataclass(slots=True)
class MailMessageRow:
    pk: int
    direction: MailDirection
    status: MailStatus
    message_id: str
    in_reply_to: str | None
    from_address: str
    to_addresses: list[str]
    cc_addresses: list[str]
    subject: str
    reason: str | None
    ticket_id: int | None
    comment_id: int | None
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("MailMessage", self.pk)


MAIL_MESSAGE = sql.Table(
    "mail_message", "mm", MailMessageRow,
    "id", ("direction", MailDirection), ("status", MailStatus), "message_id", "in_reply_to",
    "from_address", ("to_addresses", as_json), ("cc_addresses", as_json), "subject", "reason",
    "ticket_id", "comment_id", ("created_at", as_datetime),
)  # fmt: skip
_PAGE = sql.select(MAIL_MESSAGE).where(sql.GIVEN).order("mm.id DESC").limit()
_COUNT = sql.count(MAIL_MESSAGE).where(sql.GIVEN)
_BY_ID = sql.select(MAIL_MESSAGE).where(sql.among("mm.id"))
# The ticket a reply belongs to: any message of ours or theirs it names (newest first).
_THREAD = (
    sql.select("mm.ticket_id", from_=MAIL_MESSAGE)
    .where(sql.among("mm.message_id"), "mm.ticket_id IS NOT NULL")
    .order("mm.id DESC")
    .then("LIMIT 1")
)
_ACCEPTED = sql.select("mm.id", from_=MAIL_MESSAGE).where("mm.accepted_message_id = ?")


@dataclass(frozen=True, slots=True)
class MailLogPage:
    rows: list[MailMessageRow]
    has_next: bool
    total: int


# ---------------------------------------------------------------- writes


def _clip(text: str | None, length: int = 500) -> str | None:
    return None if text is None else text[:length]


async def log_inbound(
    *,
    status: MailStatus,
    message_id: str,
    accepted: bool,
    in_reply_to: str | None,
    references: Sequence[str],
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    reason: str | None = None,
    ticket_pk: int | None = None,
    comment_pk: int | None = None,
) -> MailMessage:
    """One received message in the log, in the caller's transaction. `accepted` claims its
    Message-ID (unique): a second delivery of the same message cannot be accepted too."""
    return await MailMessage.create(
        direction=MailDirection.INBOUND,
        status=status,
        message_id=_clip(message_id),
        accepted_message_id=_clip(message_id) if accepted else None,
        in_reply_to=_clip(in_reply_to),
        references=" ".join(references)[:10_000] or None,
        from_address=_clip(sender) or "",
        to_addresses=json_text(list(to)),
        cc_addresses=json_text(list(cc)),
        subject=_clip(subject) or "",
        reason=_clip(reason),
        ticket_id=ticket_pk,
        comment_id=comment_pk,
    )


# ---------------------------------------------------------------- reads for inbound mail


async def already_accepted(message_id: str) -> bool:
    return bool(await _ACCEPTED.fetch(message_id[:500]))


async def thread_ticket(message_ids: Sequence[str]) -> int | None:
    """The ticket of the newest logged message (in or out) among `message_ids`."""
    wanted = [m[:500] for m in message_ids][:100]
    if not wanted:
        return None
    rows = await _THREAD.fetch(wanted)
    return rows[0]["ticket_id"] if rows else None


# ---------------------------------------------------------------- reads for admins


def position(after: str | None) -> int | None:
    """The log row an `after` cursor stands for."""
    if after is None:
        return None
    pk = ids.decode_cursor(after)
    if pk is None:
        raise BadRequest("That cursor is not one this API gave out.")
    return min(pk, ids.MAX_KEY)


async def page(
    context: Context,
    *,
    direction: MailDirection | None,
    ticket_id: str | None,
    before_pk: int | None,
    limit: int,
) -> MailLogPage:
    """One page of the log, newest first, older than `before_pk`; `total` counts the whole
    list asked for. A ticket id that names no ticket gives an empty list."""
    if not access.may_read_mail_log(context.require_viewer()):
        raise NotFound()
    where = sql.Where()
    if direction is not None:
        where.add("mm.direction = ?", direction.value)
    if ticket_id is not None:
        where.add("mm.ticket_id = ?", ids.decode_as(ticket_id, "Ticket") or 0)
    counted = (where.sql(), list(where.params))
    if before_pk is not None:
        where.add("mm.id < ?", before_pk)
    rows = await _PAGE.fetch(where.part, limit + 1)
    total = await _COUNT.fetch(counted)
    return MailLogPage(
        [MAIL_MESSAGE.row(r) for r in rows[:limit]], len(rows) > limit, total[0]["total"]
    )


async def mail_messages_by_id(context: Context, keys: Sequence[int]) -> list[MailMessageRow | None]:
    if not access.may_read_mail_log(context.require_viewer()):
        return [None] * len(keys)
    wanted = [k for k in keys if 0 < k <= ids.MAX_KEY]
    rows = await _BY_ID.fetch(wanted) if wanted else []
    return sql.in_key_order(keys, rows, MAIL_MESSAGE.row)


async def mail_message_for_viewer(context: Context, pk: int) -> MailMessageRow:
    """A logged message (`node(id:)`) for admins; NotFound for anyone else."""
    return await context.visible_one(mail_messages_by_id, pk)
