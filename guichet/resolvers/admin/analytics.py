"""Ticket aggregates for dashboards and analytics clients: counts grouped by dimensions,
one GROUP BY statement over the tickets the viewer may see (same filters as the list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guichet.models.db import dialect
from guichet.models.people import Role
from guichet.resolvers import access, ids, sql
from guichet.resolvers.tickets.ticket_search import TicketFilter, build_where

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


@dataclass(slots=True)
class Bucket:
    keys: list[str | None]
    count: int


def _created_day() -> str:
    # SQLite keeps UTC timestamps as ISO text; PostgreSQL as timestamptz.
    if dialect() == "sqlite":
        return "substr(t.created_at, 1, 10)"
    return "to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


# dimension -> (SQL expression, how a value becomes a key)
def _dimensions() -> dict[str, tuple[str, Any]]:
    def plain(value: Any) -> str | None:
        return None if value is None else str(value)

    def node(type_name: str):
        return lambda value: None if value is None else ids.encode(type_name, value)

    return {
        "STATUS": ("t.status", plain),
        "PRIORITY": ("t.priority", plain),
        "TYPE": ("t.type", plain),
        "CHANNEL": ("t.via", plain),
        "ASSIGNEE": ("t.assignee_id", node("User")),
        "GROUP": ("t.group_id", node("Group")),
        "ORGANIZATION": ("t.organization_id", node("Organization")),
        "CREATED_DAY": (_created_day(), plain),
    }


async def ticket_stats(
    context: Context, group_by: Sequence[str], filters: TicketFilter | None
) -> list[Bucket]:
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    dimensions = _dimensions()
    chosen = [dimensions[d] for d in group_by]
    where = build_where(viewer, filters)
    columns = [f"{expression} AS k{i}" for i, (expression, _) in enumerate(chosen)]
    group = f" GROUP BY {', '.join(e for e, _ in chosen)}" if chosen else ""
    # A statement per choice of dimensions and filters: text, as the choice reads.
    rows = await sql.fetch(
        f"SELECT {', '.join([*columns, 'COUNT(*) AS n'])} FROM ticket t WHERE {where.sql()}{group}"
        " ORDER BY n DESC",
        *where.params,
    )
    buckets = [
        Bucket([shape(r[f"k{i}"]) for i, (_, shape) in enumerate(chosen)], r["n"]) for r in rows
    ]
    if not chosen and not buckets:
        return [Bucket([], 0)]
    return sorted(buckets, key=lambda b: (-b.count, [k or "" for k in b.keys]))
