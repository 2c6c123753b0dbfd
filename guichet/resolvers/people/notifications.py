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
from typing import TYPE_CHECKING, Any

from guichet.models.notifications import Notification
from guichet.resolvers import access, ids
from guichet.resolvers.errors import BadRequest, CommonErrorCode, Refused, UserError
from guichet.resolvers.sql import as_datetime, execute, fetch, placeholders

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


COLUMNS = (
    "n.id, n.user_id, n.kind, n.message, n.ticket_id, n.approval_request_id, n.activity_id,"
    " n.created_at, n.read_at"
)


def notification_row(r: dict[str, Any]) -> NotificationRow:
    return NotificationRow(
        r["id"], r["user_id"], r["kind"], r["message"], r["ticket_id"], r["approval_request_id"],
        r["activity_id"], as_datetime(r["created_at"]), as_datetime(r["read_at"]),
    )  # fmt: skip


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
    condition, params = access.visible_notifications_condition(viewer, "notification", 1)
    if notification_ids is None:
        await execute(
            f"UPDATE notification SET read_at = $2 WHERE {condition} AND read_at IS NULL",
            *params,
            now,
        )
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
        mine, mine_params = access.visible_notifications_condition(viewer, "n", len(wanted) + 1)
        rows = await fetch(
            f"SELECT n.id FROM notification n WHERE n.id IN ({placeholders(len(wanted))})"
            f" AND {mine}",
            *wanted,
            *mine_params,
        )
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
        await execute(
            f"UPDATE notification SET read_at = $2 WHERE {condition} AND read_at IS NULL"
            f" AND id IN ({placeholders(len(wanted), start=3)})",
            *params,
            now,
            *wanted,
        )
    return await unread_count(context)


# ---------------------------------------------------------------- reads


async def page(
    context: Context, *, unread_only: bool, before_pk: int | None, limit: int
) -> NotificationPage:
    """One page of the viewer's notifications, newest first, older than `before_pk` (the
    `after` cursor of the previous page); `total` counts the list asked for (unread ones
    only, with `unread_only`), `unread` the viewer's unread ones. Two statements."""
    viewer = context.require_viewer()
    condition, params = access.visible_notifications_condition(viewer, "n", 1)
    where, values = [condition], [*params]
    if unread_only:
        where.append("n.read_at IS NULL")
    if before_pk is not None:
        values.append(before_pk)
        where.append(f"n.id < ${len(values)}")
    values.append(limit + 1)
    rows = await fetch(
        f"SELECT {COLUMNS} FROM notification n WHERE {' AND '.join(where)}"
        f" ORDER BY n.id DESC LIMIT ${len(values)}",
        *values,
    )
    total, unread = await _counts(condition, params)
    return NotificationPage(
        [notification_row(r) for r in rows[:limit]],
        len(rows) > limit,
        unread if unread_only else total,
        unread,
    )


async def _counts(condition: str, params: list) -> tuple[int, int]:
    rows = await fetch(
        "SELECT COUNT(*) AS total, COUNT(n.read_at) AS read_count FROM notification n"
        f" WHERE {condition}",
        *params,
    )
    total = rows[0]["total"] or 0
    return total, total - (rows[0]["read_count"] or 0)


async def unread_count(context: Context) -> int:
    condition, params = access.visible_notifications_condition(context.require_viewer(), "n", 1)
    rows = await fetch(
        f"SELECT COUNT(*) AS unread FROM notification n WHERE {condition} AND n.read_at IS NULL",
        *params,
    )
    return rows[0]["unread"]


async def notifications_by_id(
    context: Context, keys: Sequence[int]
) -> list[NotificationRow | None]:
    """Notifications by id, each only if it is the viewer's."""
    viewer = context.require_viewer()
    wanted = [k for k in keys if 0 < k <= ids.MAX_KEY]
    if not wanted:
        return [None] * len(keys)
    condition, params = access.visible_notifications_condition(viewer, "n", len(wanted) + 1)
    rows = await fetch(
        f"SELECT {COLUMNS} FROM notification n"
        f" WHERE n.id IN ({placeholders(len(wanted))}) AND {condition}",
        *wanted,
        *params,
    )
    found = {r["id"]: notification_row(r) for r in rows}
    return [found.get(k) for k in keys]


async def notification_for_viewer(context: Context, pk: int) -> NotificationRow:
    """One of the viewer's notifications (`node(id:)`), or NotFound."""
    return await context.visible_one(notifications_by_id, pk)


async def notifications_after(context: Context, after_pk: int, limit: int) -> list[NotificationRow]:
    """Replay: the viewer's notifications after an id, oldest first."""
    condition, params = access.visible_notifications_condition(context.require_viewer(), "n", 3)
    rows = await fetch(
        f"SELECT {COLUMNS} FROM notification n WHERE n.id > $1 AND {condition}"
        " ORDER BY n.id LIMIT $2",
        after_pk,
        limit,
        *params,
    )
    return [notification_row(r) for r in rows]
