"""The views every help desk has from the start (shared, hideable, never deletable).

Created on first use, idempotently: one INSERT per missing key, keyed by the unique
`view.built_in`, so concurrent first uses on several processes make each view once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from guichet.resolvers.sql import execute
from guichet.resolvers.tickets.ticket_search import TicketFilter, TicketSort
from guichet.resolvers.views.view_filters import (
    DEFAULT_COLUMNS,
    columns_json,
    filter_json,
    sort_json,
)


@dataclass(frozen=True)
class BuiltIn:
    key: str
    name: str
    query: str
    sort: tuple[TicketSort, ...]

    @property
    def filter(self) -> TicketFilter:
        return TicketFilter(query=self.query)


_NEWEST = (TicketSort("UPDATED_AT", "DESC"),)
BUILT_INS = (
    BuiltIn("my_open", "My open tickets", "assignee:me status<solved", _NEWEST),
    BuiltIn(
        "unassigned",
        "Unassigned",
        "assignee:none status<solved",
        (TicketSort("CREATED_AT", "ASC"),),
    ),
    BuiltIn("pending_approval", "Pending approval", "approval:pending", _NEWEST),
    BuiltIn("recently_solved", "Recently solved", "status>=solved solved<7d", _NEWEST),
    BuiltIn("overdue_activities", "Overdue activities", "activity:overdue", _NEWEST),
)
BY_KEY = {b.key: b for b in BUILT_INS}

_INSERT = (
    'INSERT INTO "view" (name, scope, built_in, ticket_filter, sort, columns, position,'
    " created_at, updated_at) VALUES ($1, 'SHARED', $2, $3, $4, $5, $6, $7, $7)"
    " ON CONFLICT (built_in) DO NOTHING"
)


async def ensure_built_ins(present: set[str]) -> bool:
    """Create the built-in views not in `present`; True when some were missing."""
    now = datetime.now(UTC)
    missing = [(i, b) for i, b in enumerate(BUILT_INS) if b.key not in present]
    for position, b in missing:
        await execute(
            _INSERT,
            b.name,
            b.key,
            filter_json(b.filter),
            sort_json(b.sort),
            columns_json(DEFAULT_COLUMNS),
            position - len(BUILT_INS),  # before the views people make (those start at 1)
            now,
        )
    return bool(missing)
