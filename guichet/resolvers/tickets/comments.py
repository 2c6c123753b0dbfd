"""The conversation on a ticket: public replies and internal notes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.tickets import Channel, Comment, TicketEventKind, TicketStatus
from guichet.resolvers import access, idempotency, ids, sql
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.mail import ticket_mail
from guichet.resolvers.people import organization_subscriptions
from guichet.resolvers.sql import as_bool, as_datetime
from guichet.resolvers.tickets import attachments as attachment_rules
from guichet.resolvers.tickets import mentions
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.ticket_updates import apply_status
from guichet.resolvers.tickets.tickets import (
    MAX_BODY,
    TICKET,
    channel_of,
    forget,
    target_ticket,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


class CommentErrorCode(StrEnum):
    # A closed ticket's TICKET_CLOSED is the gate's (ticket_gate.py), as for every change.
    INTERNAL_NOT_ALLOWED = "INTERNAL_NOT_ALLOWED"
    PUBLIC_NOT_ALLOWED = "PUBLIC_NOT_ALLOWED"


@dataclass(slots=True)
class CommentRow:
    pk: int
    ticket_id: int
    author_id: int
    body: str
    public: bool
    via: Channel
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("Comment", self.pk)


COMMENT = sql.Table(
    "comment", "c", CommentRow,
    "id", "ticket_id", "author_id", "body", ("public", as_bool), ("via", Channel),
    ("created_at", as_datetime),
)  # fmt: skip


def _ranked(direction: str) -> sql.Statement:
    """Each ticket's visible comments numbered in `direction`, and counted: a page of every
    ticket of a list in one statement."""
    ranked = sql.select(
        COMMENT,
        "ROW_NUMBER() OVER (PARTITION BY c.ticket_id"
        f" ORDER BY c.created_at {direction}, c.id {direction}) AS position",
        "COUNT(*) OVER (PARTITION BY c.ticket_id) AS total",
    ).where(sql.among("c.ticket_id"), sql.GIVEN)
    return (
        sql.select("*", from_=ranked.as_("ranked"))
        .where("position > ?", "position <= ?")
        .order("ticket_id, position")
    )


_PAGES = {True: _ranked("DESC"), False: _ranked("ASC")}
_COUNT = sql.count(COMMENT).where("c.ticket_id = ?", sql.GIVEN)
_BY_ID = sql.select(COMMENT, from_=f"{COMMENT} JOIN ticket t ON t.id = c.ticket_id").where(
    sql.among("c.id"), sql.GIVEN, sql.GIVEN
)


@dataclass(frozen=True, slots=True)
class CommentPage:
    """Which page of a ticket's comments: a loader key, so one query serves all tickets."""

    ticket_id: int
    offset: int
    limit: int
    newest_first: bool


@dataclass(slots=True)
class CommentPageResult:
    rows: list[CommentRow]
    total: int


def _page_in_sql(viewer: Viewer, key: CommentPage, alias: str) -> sql.Page:
    """The same page as `comment_pages`, for an answer built in SQL."""
    direction = "DESC" if key.newest_first else "ASC"
    visible = access.visible_comments_condition(viewer, alias)
    return sql.Page(
        f"{alias}.ticket_id = {key.ticket_id} AND {visible}",
        f"{alias}.created_at {direction}, {alias}.id {direction}",
        key.offset,
        key.limit,
    )


@sql.answers_in_sql(sql.Pages(COMMENT, _page_in_sql))
async def comment_pages(context: Context, keys: Sequence[CommentPage]) -> list[CommentPageResult]:
    """For each key, one page of that ticket's comments the viewer may see, and how many
    there are in all: one statement for every ticket of a list (a window per ticket)."""
    viewer = context.require_viewer()
    visible = access.visible_comments_condition(viewer, "c")
    results = []
    shapes: dict[tuple[int, int, bool], list[CommentPage]] = defaultdict(list)
    for key in keys:
        shapes[(key.offset, key.limit, key.newest_first)].append(key)
    found: dict[CommentPage, CommentPageResult] = {}
    for (offset, limit, newest_first), group in shapes.items():
        tickets = list(dict.fromkeys(k.ticket_id for k in group))
        rows = await _PAGES[newest_first].fetch(tickets, visible, offset, offset + limit)
        by_ticket: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_ticket[r["ticket_id"]].append(r)
        for key in group:
            page = by_ticket.get(key.ticket_id, [])
            if page:
                total = page[0]["total"]
            elif offset or not limit:  # an empty page says nothing about the others
                total = await _count(viewer, key.ticket_id)
            else:
                total = 0
            found[key] = CommentPageResult([COMMENT.row(r) for r in page], total)
    results = [found[k] for k in keys]
    return results


async def _count(viewer, ticket_pk: int) -> int:
    rows = await _COUNT.fetch(ticket_pk, access.visible_comments_condition(viewer, "c"))
    return rows[0]["total"]


async def comments_by_id(context: Context, keys: Sequence[int]) -> list[CommentRow | None]:
    viewer = context.require_viewer()
    rows = await _BY_ID.fetch(
        keys,
        access.visible_comments_condition(viewer, "c"),
        access.visible_tickets_condition(viewer, "t", 1),
    )
    return sql.in_key_order(keys, rows, COMMENT.row)


async def comment_for_viewer(context: Context, pk: int) -> CommentRow:
    """A comment the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(comments_by_id, pk)


async def add_comment(
    context: Context,
    *,
    ticket_id: str,
    body: str,
    public: bool | None,
    idempotency_key: str | None,
    attachments: Sequence[Any] | None = None,
    via: Channel | None = None,
) -> tuple[CommentRow, Any]:
    """Reply publicly or write an internal note. Customers write public replies only, light
    agents internal notes only. A customer's reply reopens a SOLVED ticket; an agent's
    public reply opens a NEW one. `@email`, `@"Full Name"` or `@Full Name` of a member of
    staff notifies them (MENTIONED, see mentions.py); the subscribers of the ticket's
    organization who may see the comment are told (organization_subscriptions.py).
    `attachments`: files already in the store, attached to
    the comment (see resolvers/tickets/attachments.py)."""
    viewer = context.require_viewer()
    done = await idempotency.previous_result(viewer.id, "addComment", idempotency_key)
    if done is not None:
        return await _replayed(context, ticket_id, done)
    files = attachment_rules.received(attachments, ["input", "attachments"])
    via = via or channel_of(viewer)  # EMAIL for a reply by mail
    changes = Changes.of(viewer)
    try:
        async with in_transaction():
            ticket = await ticket_for_change(context, ticket_id, TicketAction.COMMENT)
            public = _checked(viewer, public, body)
            claimed = await idempotency.claim(viewer.id, "addComment", idempotency_key)
            comment = await Comment.create(
                ticket_id=ticket.id, author_id=viewer.id, body=body, public=public, via=via
            )
            await changes.record(
                ticket.id, TicketEventKind.COMMENT_ADDED, actor_pk=viewer.id, via=via, public=public,
                data={"comment": ids.encode("Comment", comment.id), "public": public},
            )  # fmt: skip
            await attachment_rules.attach(
                changes, files, ticket_pk=ticket.id, comment_pk=comment.id, uploader_pk=viewer.id,
                via=via, public=public,
            )  # fmt: skip
            if not viewer.is_agent and ticket.status is TicketStatus.SOLVED:
                await apply_status(changes, ticket, TicketStatus.OPEN, viewer, via)
            elif public and access.may_work_tickets(viewer) and ticket.status is TicketStatus.NEW:
                await apply_status(changes, ticket, TicketStatus.OPEN, viewer, via)
            if public and access.may_work_tickets(viewer) and ticket.first_reply_at is None:
                # The row is locked by the gate and saved below: set once, by the first reply.
                ticket.first_reply_at = comment.created_at
            await mentions.tell_mentioned(changes, ticket, body, public=public, author=viewer)
            await ticket_mail.comment_added(
                context.settings, changes, ticket, comment.id, body, public, viewer
            )
            await organization_subscriptions.tell_subscribers(changes, ticket, viewer.id)
            await ticket.save()  # stamps updated_at (auto_now)
            await idempotency.settle(claimed, comment.id)
    except idempotency.AlreadyDone:
        return await add_comment(
            context, ticket_id=ticket_id, body=body, public=public,
            idempotency_key=idempotency_key, attachments=attachments, via=via,
        )  # fmt: skip
    forget(context)
    await changes.publish(context)
    row = CommentRow(comment.id, ticket.id, viewer.id, body, public, via, comment.created_at)
    return row, TICKET.row_of(ticket)  # the row as written: no need to read it back


def _checked(viewer: Viewer, public: bool | None, body: str) -> bool:
    """Whether the comment is public, once the viewer may write it so; refuses otherwise."""
    if not viewer.is_agent and public is False:
        raise Refused(
            UserError(
                "Customers write public replies only.",
                CommentErrorCode.INTERNAL_NOT_ALLOWED,
                ["input", "public"],
            )
        )
    if viewer.is_agent and not access.may_work_tickets(viewer):
        if public is True:
            raise Refused(
                UserError(
                    "Light agents write internal notes only.",
                    CommentErrorCode.PUBLIC_NOT_ALLOWED,
                    ["input", "public"],
                )
            )
        public = False
    if error := text_error(body, ["input", "body"], max_length=MAX_BODY):
        raise Refused(error)
    return True if public is None else public


async def _replayed(context: Context, ticket_id: str, comment_pk: int) -> tuple[CommentRow, Any]:
    """The first answer to a retried addComment: a read, so no gate and no lock; the viewer
    must still take part in the ticket, whatever happened to it since (closed included)."""
    viewer = context.require_viewer()
    current = await target_ticket(context, ticket_id)
    await access.customer_participates(viewer, current.pk)
    return await comment_for_viewer(context, comment_pk), current
