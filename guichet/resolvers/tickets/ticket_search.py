"""The ticket list: filters, search syntax, sort and pages, as one SQL statement.

Every condition starts from `access.visible_tickets_condition` (deny by default), so a
search can never reach a ticket the viewer may not open. Free words match the subject,
the description and the comments the viewer may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guichet.models.tickets import TicketPriority, TicketStatus, TicketType
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.sql import Where
from guichet.resolvers.tickets.search_syntax import FieldTerm, SearchSyntaxError, parse
from guichet.resolvers.tickets.tickets import TICKET, TicketRow

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

SORT_COLUMNS = {
    "CREATED_AT": "t.created_at",
    "UPDATED_AT": "t.updated_at",
    "NUMBER": "t.number",
    "PRIORITY": "CASE t.priority WHEN 'LOW' THEN 1 WHEN 'NORMAL' THEN 2 WHEN 'HIGH' THEN 3 WHEN 'URGENT' THEN 4 ELSE 0 END",
    "STATUS": "CASE t.status WHEN 'NEW' THEN 1 WHEN 'OPEN' THEN 2 WHEN 'PENDING' THEN 3 WHEN 'ON_HOLD' THEN 4 WHEN 'SOLVED' THEN 5 ELSE 6 END",
}
PEOPLE_FIELDS = {
    "assignee": "t.assignee_id",
    "requester": "t.requester_id",
    "submitter": "t.submitter_id",
}
ENUM_FIELDS = {"status": "t.status", "priority": "t.priority", "type": "t.type", "via": "t.via"}
DATE_FIELDS = {"created": "t.created_at", "updated": "t.updated_at", "solved": "t.solved_at"}


_COUNT = sql.count(TICKET).where(sql.GIVEN)
# The page and the list's size in one round trip: the count is an uncorrelated subquery,
# which PostgreSQL and SQLite evaluate once per statement. Only a page past the end (no
# row to carry it) asks for the count again on its own.
_PAGE = sql.select(TICKET, _COUNT.as_("total")).where(sql.GIVEN).order(sql.GIVEN).page()


def _text_match(where: Where, viewer: Viewer, text: str) -> str:
    p = where.param(sql.like_pattern(text))
    visible = access.visible_comments_condition(viewer, "c")
    return (
        f"(LOWER(t.subject) LIKE {p} ESCAPE '\\' OR LOWER(t.description) LIKE {p} ESCAPE '\\'"
        f" OR EXISTS (SELECT 1 FROM comment c WHERE c.ticket_id = t.id AND {visible}"
        f" AND LOWER(c.body) LIKE {p} ESCAPE '\\'))"
    )


def _term(where: Where, viewer: Viewer, term: FieldTerm) -> str:
    name, values = term.field, term.values
    if name in ENUM_FIELDS:
        return f"{ENUM_FIELDS[name]} IN ({', '.join(where.param(v) for v in values)})"
    if name in DATE_FIELDS:
        column = DATE_FIELDS[name]
        pairs = zip(values[::2], values[1::2], strict=True)
        return "(" + " AND ".join(f"{column} {op} {where.param(when)}" for op, when in pairs) + ")"
    value = values[0]
    if name in PEOPLE_FIELDS:
        column = PEOPLE_FIELDS[name]
        if value == "me":
            return f"{column} = {where.param(viewer.id)}"
        if value == "none":
            return f"{column} IS NULL"
        p = where.param(value)
        return f'{column} IN (SELECT u.id FROM "user" u WHERE LOWER(u.email) = {p} OR LOWER(u.name) = {p})'
    if name == "group" and not access.can_see_groups(viewer):
        raise BadRequest("Groups are for agents: remove the group term.", term="group")
    if name in ("group", "organization"):
        column, table = (
            ("t.group_id", '"group"') if name == "group" else ("t.organization_id", "organization")
        )
        if value == "none":
            return f"{column} IS NULL"
        return (
            f"{column} IN (SELECT x.id FROM {table} x WHERE LOWER(x.name) = {where.param(value)})"
        )
    if name == "tags":
        if not viewer.is_agent:
            raise BadRequest("Tags are for agents: remove the tags term.", term="tags")
        return f"EXISTS (SELECT 1 FROM ticket_tag g WHERE g.ticket_id = t.id AND g.tag = {where.param(value)})"
    if name in ("approval", "activity"):
        if not viewer.is_agent:
            raise BadRequest(f"The {name} term is for staff: remove it.", term=name)
        return _work_term(where, name, values)
    raise BadRequest(f"Cannot search on {name}.", term=name)


def _work_term(where: Where, name: str, values: tuple) -> str:
    """Approvals and activities on the ticket (what the built-in views need)."""
    if name == "approval":
        return (
            "EXISTS (SELECT 1 FROM approval_request r WHERE r.ticket_id = t.id"
            f" AND r.status = {where.param(values[0])})"
        )
    overdue = f" AND a.due_at < {where.param(values[1])}" if values[0] == "OVERDUE" else ""
    return (
        "EXISTS (SELECT 1 FROM activity a WHERE a.ticket_id = t.id"
        f" AND a.completed_at IS NULL{overdue})"
    )


def _decoded(global_id: str | None, type_name: str) -> int:
    pk = ids.decode_as(global_id, type_name) if global_id else None
    if pk is None:
        raise BadRequest(f"{global_id!r} is not a {type_name} id.")
    return pk


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """The ticket list's filter, as plain values: the API's TicketFilter."""

    status: Sequence[TicketStatus] | None = None
    priority: Sequence[TicketPriority] | None = None
    type: Sequence[TicketType] | None = None
    assignee_id: str | None = None
    requester_id: str | None = None
    group_id: str | None = None
    organization_id: str | None = None
    tags: Sequence[str] | None = None
    query: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class TicketSort:
    field: str  # a key of SORT_COLUMNS
    direction: str  # ASC or DESC


def build_where(viewer: Viewer, filters: TicketFilter | None) -> Where:
    where = Where()
    where.given(access.visible_tickets_condition(viewer, "t", 1))
    if filters is None:
        return where
    for attribute, column in (
        ("status", "t.status"),
        ("priority", "t.priority"),
        ("type", "t.type"),
    ):
        chosen = getattr(filters, attribute)
        if chosen:
            marks = ", ".join(["?"] * len(chosen))
            where.add(f"{column} IN ({marks})", *[v.value for v in chosen])
    for attribute, column, type_name in (
        ("assignee_id", "t.assignee_id", "User"), ("requester_id", "t.requester_id", "User"),
        ("group_id", "t.group_id", "Group"), ("organization_id", "t.organization_id", "Organization"),
    ):  # fmt: skip
        value = getattr(filters, attribute)
        if value is not None and type_name == "Group" and not access.can_see_groups(viewer):
            raise BadRequest("Groups are for agents: remove groupId.", term="groupId")
        if value is not None:
            where.add(f"{column} = ?", _decoded(value, type_name))
    for tag in filters.tags or ():
        if "\x00" in tag:
            raise BadRequest("A tag cannot contain a NUL character.", term="tags")
        where.add(_term(where, viewer, FieldTerm("tags", (tag.strip().lower(),))))
    if filters.created_after is not None:
        where.add("t.created_at > ?", filters.created_after)
    if filters.created_before is not None:
        where.add("t.created_at < ?", filters.created_before)
    if filters.query:
        if "\x00" in filters.query:  # no database text holds one: say so, do not crash
            bad = next(t for t in filters.query.split() if "\x00" in t)
            raise BadRequest("A query cannot contain a NUL character.", term=bad)
        try:
            parsed = parse(filters.query, now=datetime.now(UTC))
        except SearchSyntaxError as error:
            raise BadRequest(str(error), term=error.term) from None
        for term in parsed.terms:
            condition = _term(where, viewer, term)
            # A ticket without the value (no type, no assignee) is not excluded: NOT NULL is NULL.
            where.add(f"NOT COALESCE(({condition}), FALSE)" if term.negated else condition)
        for text in (*parsed.words, *parsed.phrases):
            where.add(_text_match(where, viewer, text))
        for text in parsed.excluded_words:
            where.add(f"NOT {_text_match(where, viewer, text)}")
    return where


def order_by(sort: Sequence[TicketSort] | None) -> str:
    parts = [f"{SORT_COLUMNS[s.field]} {s.direction}" for s in sort or ()]
    if not parts:
        parts = ["t.created_at DESC"]
    direction = sort[-1].direction if sort else "DESC"
    return ", ".join([*parts, f"t.id {direction}"])


@dataclass
class TicketPage:
    rows: list[TicketRow]
    total: int
    offset: int
    has_next: bool
    has_previous: bool


async def ticket_page(
    context: Context,
    filters: TicketFilter | None,
    sort: Sequence[TicketSort] | None,
    *,
    offset: int,
    limit: int,
) -> TicketPage:
    viewer = context.require_viewer()
    where = build_where(viewer, filters).part
    rows = await _PAGE.fetch(where, where, order_by(sort), limit, offset) if limit else []
    if rows:
        total = rows[0]["total"]
    elif offset == 0 and limit:
        total = 0  # the first page is empty: so is the list
    else:
        total = (await _COUNT.fetch(where))[0]["total"]
    return TicketPage(
        [TICKET.row(r) for r in rows],
        total,
        offset,
        has_next=offset + len(rows) < total,
        has_previous=offset > 0,
    )
