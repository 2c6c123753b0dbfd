"""Notifications: stored for the one user they tell, listed newest first, marked read, and
replayed to a client that reconnects.

Rules tell someone with `Changes.notify` (resolvers/history.py): the row is written in the
rule's transaction, and only its id is published after the commit; each subscriber reads
it back here, as itself (subscriptions/notifications.py). Nobody but its user ever reads a
notification: `access.visible_notifications_condition` is in every statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guichet.models.notifications import Notification
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import BadRequest, CommonErrorCode, Refused, UserError
from guichet.resolvers.sql import as_datetime

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# markNotificationsRead takes at most this many ids (a client marks what it shows; "all of
# them" is the input without ids).
MAX_IDS = 100


@dataclass(slots=True)
class NotificationRow:
    pk: int
    user_id: int
    kind: str
    message: str
    ticket_id: int | None
    approval_request_id: int | None
    activity_id: int | None
    created_at: datetime
    read_at: datetime | None

    @property
    def id(self) -> str:
        return ids.encode("Notification", self.pk)


@dataclass(frozen=True, slots=True)
class NewNotification:
    """What a rule tells a user; `created_at` None is now."""

    user_pk: int
    kind: str
    message: str
    ticket_pk: int | None = None
    approval_request_pk: int | None = None
    activity_pk: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NotificationPage:
    rows: list[NotificationRow]
    has_next: bool
    total: int
    unread: int


NOTIFICATION = sql.Table(
    "notification", "n", NotificationRow,
    "id", "user_id", "kind", "message", "ticket_id", "approval_request_id", "activity_id",
    ("created_at", as_datetime), ("read_at", as_datetime),
)  # fmt: skip
_MARK_READ = sql.statement("UPDATE notification SET read_at = ?").where(
    sql.GIVEN, "read_at IS NULL"
)
_MARK_READ_AMONG = sql.statement("UPDATE notification SET read_at = ?").where(
    sql.GIVEN, "read_at IS NULL", sql.among("id")
)
_OWN = sql.select("n.id", from_=NOTIFICATION).where(sql.among("n.id"), sql.GIVEN)
_PAGE = sql.select(NOTIFICATION).where(sql.GIVEN).order("n.id DESC").limit()
_COUNTS = sql.select(
    "COUNT(*) AS total", "COUNT(n.read_at) AS read_count", from_=NOTIFICATION
).where(sql.GIVEN)
_UNREAD = sql.count(NOTIFICATION, "unread").where(sql.GIVEN, "n.read_at IS NULL")
_BY_ID = sql.select(NOTIFICATION).where(sql.among("n.id"), sql.GIVEN)
_AFTER = sql.select(NOTIFICATION).where("n.id > ?", sql.GIVEN).order("n.id").limit()


def position(after: str | None) -> int | None:
    """The notification id an `after` stands for: a notification's id or an edge cursor."""
    if after is None:
        return None
    pk = ids.decode_cursor(after) or ids.decode_as(after, "Notification")
    if pk is None:
        raise BadRequest("`after` takes a notification's id or cursor.")
    return min(pk, ids.MAX_KEY)  # a larger one names no row (nor may be a parameter)


# ---------------------------------------------------------------- writes


async def store(notification: NewNotification) -> int:
    """Write one notification, in the caller's transaction if there is one; returns its id."""
    row = await Notification.create(
        user_id=notification.user_pk,
        kind=notification.kind,
        message=notification.message,
        ticket_id=notification.ticket_pk,
        approval_request_id=notification.approval_request_pk,
        activity_id=notification.activity_pk,
        **({"created_at": notification.created_at} if notification.created_at else {}),
    )
    return row.id


async def mark_read(context: Context, notification_ids: Sequence[str] | None) -> int:
    """Mark the viewer's notifications read — all of them when `notification_ids` is None —
    and answer how many stay unread. An id that names no notification of the viewer's
    (someone else's, unknown, malformed) refuses the whole call with NOT_FOUND: nothing is
    changed. Marking a read notification again keeps its first `readAt`."""
    viewer = context.require_viewer()
    now = datetime.now(UTC)
    mine = access.visible_notifications_condition(viewer, "notification", 1)
    if notification_ids is None:
        await _MARK_READ.execute(now, mine)
        return await unread_count(context)
    if len(notification_ids) > MAX_IDS:
        raise Refused(
            UserError(
                f"Mark at most {MAX_IDS} notifications at once, or all of them (no ids).",
                CommonErrorCode.INVALID,
                ["input", "ids"],
            )
        )
    pks = [ids.decode_as(given, "Notification") for given in notification_ids]
    wanted = sorted({pk for pk in pks if pk})
    own: set[int] = set()
    if wanted:
        rows = await _OWN.fetch(wanted, access.visible_notifications_condition(viewer, "n", 1))
        own = {r["id"] for r in rows}
    if missing := [i for i, pk in enumerate(pks) if pk not in own]:
        raise Refused(
            *(
                UserError(
                    "No such notification.", CommonErrorCode.NOT_FOUND, ["input", "ids", str(i)]
                )
                for i in missing
            )
        )
    if wanted:
        await _MARK_READ_AMONG.execute(now, mine, wanted)
    return await unread_count(context)


# ---------------------------------------------------------------- reads


async def page(
    context: Context, *, unread_only: bool, before_pk: int | None, limit: int
) -> NotificationPage:
    """One page of the viewer's notifications, newest first, older than `before_pk` (the
    `after` cursor of the previous page); `total` counts the list asked for (unread ones
    only, with `unread_only`), `unread` the viewer's unread ones. Two statements."""
    viewer = context.require_viewer()
    mine = access.visible_notifications_condition(viewer, "n", 1)
    where = sql.Where()
    where.given(mine)
    if unread_only:
        where.add("n.read_at IS NULL")
    if before_pk is not None:
        where.add("n.id < ?", before_pk)
    rows = await _PAGE.fetch(where.part, limit + 1)
    total, unread = await _counts(mine)
    return NotificationPage(
        [NOTIFICATION.row(r) for r in rows[:limit]],
        len(rows) > limit,
        unread if unread_only else total,
        unread,
    )


async def _counts(mine: tuple[str, list]) -> tuple[int, int]:
    rows = await _COUNTS.fetch(mine)
    total = rows[0]["total"] or 0
    return total, total - (rows[0]["read_count"] or 0)


async def unread_count(context: Context) -> int:
    mine = access.visible_notifications_condition(context.require_viewer(), "n", 1)
    rows = await _UNREAD.fetch(mine)
    return rows[0]["unread"]


async def notifications_by_id(
    context: Context, keys: Sequence[int]
) -> list[NotificationRow | None]:
    """Notifications by id, each only if it is the viewer's."""
    viewer = context.require_viewer()
    wanted = [k for k in keys if 0 < k <= ids.MAX_KEY]
    if not wanted:
        return [None] * len(keys)
    rows = await _BY_ID.fetch(wanted, access.visible_notifications_condition(viewer, "n", 1))
    return sql.in_key_order(keys, rows, NOTIFICATION.row)


async def notification_for_viewer(context: Context, pk: int) -> NotificationRow:
    """One of the viewer's notifications (`node(id:)`), or NotFound."""
    return await context.visible_one(notifications_by_id, pk)


async def notifications_after(context: Context, after_pk: int, limit: int) -> list[NotificationRow]:
    """Replay: the viewer's notifications after an id, oldest first."""
    mine = access.visible_notifications_condition(context.require_viewer(), "n", 1)
    return [NOTIFICATION.row(r) for r in await _AFTER.fetch(after_pk, mine, limit)]
