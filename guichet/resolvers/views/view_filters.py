"""A view's stored definition: its filter (the API's TicketFilter, as JSON), sort and columns.

The filter is stored as the TicketFilter input object a client would send to
`tickets(filter:)` (camelCase keys, enum names, ISO date-times), so `View.filter` hands it
back as is and `tickets(filter: view.filter)` counts what `View.count` counts: both go
through `ticket_search.build_where`, never through a copy of its rules.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from guichet.models.tickets import TicketPriority, TicketStatus, TicketType
from guichet.resolvers import ids
from guichet.resolvers.errors import BadRequest, Refused, UserError
from guichet.resolvers.sql import fetch
from guichet.resolvers.tickets.search_syntax import SearchSyntaxError, parse
from guichet.resolvers.tickets.ticket_search import (
    PEOPLE_FIELDS,
    SORT_COLUMNS,
    TicketFilter,
    TicketSort,
    build_where,
)
from guichet.resolvers.views.errors import ViewErrorCode

# The columns a client may show, by the names of the Ticket fields they display.
COLUMNS = (
    "number", "subject", "status", "priority", "type", "via", "requester", "submitter",
    "assignee", "group", "organization", "tags", "createdAt", "updatedAt", "solvedAt",
    "firstReplyAt", "satisfaction",
)  # fmt: skip
DEFAULT_COLUMNS = ("number", "subject", "requester", "status", "priority", "assignee", "updatedAt")
DEFAULT_SORT = (TicketSort("UPDATED_AT", "DESC"),)

_ENUMS: dict[str, type[Enum]] = {
    "status": TicketStatus,
    "priority": TicketPriority,
    "type": TicketType,
}
_DATES = ("created_after", "created_before")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_SNAKE = {_camel(f.name): f.name for f in fields(TicketFilter)}


def filter_json(chosen: TicketFilter) -> str:
    """The filter as the TicketFilter input object, JSON text: only what is set."""
    data: dict[str, Any] = {}
    for name, value in asdict(chosen).items():
        if value is None:
            continue
        if name in _ENUMS:
            value = [v.value for v in value]
        elif name in _DATES:
            value = value.isoformat()
        elif name == "tags":
            value = list(value)
        data[_camel(name)] = value
    return json.dumps(data, sort_keys=True)


def filter_of(data: dict[str, Any]) -> TicketFilter:
    """A stored filter back as the rules take it. Raises BadRequest for one this version no
    longer reads (an unknown key or value)."""
    values: dict[str, Any] = {}
    try:
        for key, value in data.items():
            name = _SNAKE[key]
            if name in _ENUMS:
                value = [_ENUMS[name](v) for v in value]
            elif name in _DATES:
                value = datetime.fromisoformat(value)
            values[name] = value
    except (KeyError, ValueError, TypeError) as error:
        raise BadRequest(f"This view's filter no longer reads ({error}): update it.") from None
    return TicketFilter(**values)


def sort_json(sort: Sequence[TicketSort] | None) -> str:
    chosen = list(sort or DEFAULT_SORT)
    return json.dumps([{"field": s.field, "direction": s.direction} for s in chosen])


def sort_of(text: str) -> list[TicketSort]:
    return [
        TicketSort(s["field"], s["direction"])
        for s in json.loads(text)
        if s.get("field") in SORT_COLUMNS and s.get("direction") in ("ASC", "DESC")
    ]


def columns_json(columns: Sequence[str] | None) -> str:
    """The columns, checked against the known names; none given: the default ones."""
    chosen = list(dict.fromkeys(columns or DEFAULT_COLUMNS))
    unknown = [c for c in chosen if c not in COLUMNS]
    if unknown:
        raise Refused(
            UserError(
                f"Unknown column {unknown[0]!r} (use {', '.join(COLUMNS)}).",
                ViewErrorCode.UNKNOWN_COLUMN,
                ["input", "columns"],
            )
        )
    return json.dumps(chosen)


def depends_on_viewer(chosen: TicketFilter) -> bool:
    """True when the filter says `me` (`assignee:me`): each viewer counts their own tickets."""
    if not chosen.query:
        return False
    try:
        parsed = parse(chosen.query, now=datetime.now(UTC))
    except SearchSyntaxError:
        return True  # it will not count anyway
    return any(t.field in PEOPLE_FIELDS and t.values[0] == "me" for t in parsed.terms)


_GROUP_ACTIVE = 'SELECT 1 AS found FROM "group" x WHERE {match} AND x.active = TRUE'
_ORG_ACTIVE = "SELECT 1 AS found FROM organization x WHERE {match} AND x.active = TRUE"
_USER_ACTIVE = 'SELECT 1 AS found FROM "user" x WHERE {match} AND x.active = TRUE'


async def check_filter(viewer: Any, chosen: TicketFilter) -> None:
    """Refuse (Refused, code INVALID_FILTER) a filter `tickets(filter:)` would refuse, or
    one naming a user, group or organization that does not exist or is deactivated: a view
    is kept for later, and would silently count nothing."""

    def refuse(message: str, *path: str) -> Refused:
        return Refused(UserError(message, ViewErrorCode.INVALID_FILTER, ["input", "filter", *path]))

    try:
        build_where(viewer, chosen)
    except BadRequest as error:
        raise refuse(error.message, "query" if chosen.query else "filter") from None
    checks: list[tuple[str, str, Any, str, str]] = []
    for attribute, type_name, statement in (
        ("assignee_id", "User", _USER_ACTIVE), ("requester_id", "User", _USER_ACTIVE),
        ("group_id", "Group", _GROUP_ACTIVE), ("organization_id", "Organization", _ORG_ACTIVE),
    ):  # fmt: skip
        value = getattr(chosen, attribute)
        if value is not None:
            pk = ids.decode_as(value, type_name)
            checks.append((statement, "x.id = $1", pk, value, _camel(attribute)))
    if chosen.query:
        for term in parse(chosen.query, now=datetime.now(UTC)).terms:
            value = term.values[0] if term.values else None
            if not isinstance(value, str) or value in ("me", "none"):
                continue
            if term.field == "group":
                checks.append(
                    (_GROUP_ACTIVE, "LOWER(x.name) = $1", value, f"group:{value}", "query")
                )
            elif term.field == "organization":
                checks.append(
                    (_ORG_ACTIVE, "LOWER(x.name) = $1", value, f"organization:{value}", "query")
                )
            elif term.field in PEOPLE_FIELDS:
                match = "(LOWER(x.email) = $1 OR LOWER(x.name) = $1)"
                checks.append((_USER_ACTIVE, match, value, f"{term.field}:{value}", "query"))
    for statement, match, value, said, path in checks:
        if not await fetch(statement.format(match=match), value):
            raise refuse(f"{said!r} names nothing active: a view cannot keep it.", path)
