"""Ticket aggregates for dashboards and analytics clients: counts grouped by dimensions,
one GROUP BY statement over the tickets the viewer may see (same filters as the list),
display labels included (dimensions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.resolvers import access, sql
from guichet.resolvers.admin.dimensions import grouping
from guichet.resolvers.admin.report_zone import report_time_zone
from guichet.resolvers.tickets.ticket_search import TicketFilter, build_where

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


@dataclass(slots=True)
class Bucket:
    keys: list[str | None]
    count: int
    labels: list[str | None] = field(default_factory=list)


async def ticket_stats(
    context: Context, group_by: Sequence[str], filters: TicketFilter | None
) -> list[Bucket]:
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    chosen = grouping(group_by, report_time_zone(context))
    where = build_where(viewer, filters)
    # A statement per choice of dimensions and filters: text, as the choice reads.
    grouped = (
        f"(SELECT {', '.join([*chosen.keys, 'COUNT(*) AS n'])} FROM ticket t"
        f" WHERE {where.sql()}{chosen.group_by()})"
    )
    rows = await sql.fetch(chosen.around(grouped, ["n"]), *where.params)
    buckets = [Bucket(chosen.keys_of(r), r["n"], chosen.labels_of(r)) for r in rows]
    if not chosen.chosen and not buckets:
        return [Bucket([], 0, [])]
    return sorted(buckets, key=lambda b: (-b.count, [k or "" for k in b.keys]))
