"""Reply and resolution times per bucket: how long customers waited for the first public
staff reply (`ticket.first_reply_at`) and for a solution (`ticket.solved_at`), in minutes
from the ticket's creation, over the tickets `tickets(filter:)` would list.

One statement whatever the number of tickets, and the same answer on both databases. The
method is PostgreSQL's `percentile_cont` (linear interpolation): over a bucket's n known
values sorted x_1 ≤ … ≤ x_n, the p-th percentile sits at the 0-based position
h = p·(n - 1) and is x_⌊h⌋+1 + (h - ⌊h⌋)·(x_⌊h⌋+2 - x_⌊h⌋+1). PostgreSQL runs
`percentile_cont` itself (twice as fast as the window functions at 100,000 tickets);
SQLite, which has no such aggregate, runs the same formula with window functions
(ROW_NUMBER and COUNT over each bucket) — and a test runs that statement on PostgreSQL
too, against percentile_cont. Tickets without a first reply (or not solved) count in
`tickets` and not in that measure; a bucket where no ticket has one answers null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guichet.models.people import Role
from guichet.resolvers import access, sql
from guichet.resolvers.admin.dimensions import Grouping, grouping
from guichet.resolvers.admin.report_zone import report_time_zone
from guichet.resolvers.tickets.ticket_search import TicketFilter, build_where

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# measure -> the ticket's column its minutes run to
MEASURES = {"fr": "t.first_reply_at", "rs": "t.solved_at"}
# percentile name -> p as a fraction (numerator, denominator): integer arithmetic gives ⌊h⌋
PERCENTILES = {"median": (1, 2), "p90": (9, 10)}


@dataclass(slots=True)
class ResponseTimeBucket:
    keys: list[str | None]
    labels: list[str | None]
    tickets: int
    first_reply_median_minutes: float | None
    first_reply_p90_minutes: float | None
    resolution_median_minutes: float | None
    resolution_p90_minutes: float | None


def minutes_between(start: str, end: str) -> str:
    """Minutes from one timestamp column to another (NULL when `end` is)."""
    if sql.dialect() == "sqlite":  # ISO text; julianday counts days
        return f"(julianday({end}) - julianday({start})) * 1440.0"
    # date_part is double precision (EXTRACT is numeric: slower to sort and sum)
    return f"date_part('epoch', {end} - {start}) / 60"


def _percentile(measure: str, numerator: int, denominator: int) -> str:
    """The interpolated percentile of `measure` in each group, from the rank (`{m}_rn`, 1
    for the smallest known value) and count (`{m}_n`) the window functions gave each row."""
    m = measure
    lower = f"(({m}_n - 1) * {numerator} / {denominator} + 1)"  # 1-based rank of x_⌊h⌋+1
    fraction = f"((({m}_n - 1) * {numerator}) % {denominator}) * 1.0 / {denominator}"
    return (
        f"SUM(CASE WHEN {m}_rn = {lower} THEN {m} * (1 - {fraction})"
        f" WHEN {m}_rn = {lower} + 1 THEN {m} * {fraction} END)"
    )


def statement_text(chosen: Grouping, where: str, *, windows: bool | None = None) -> str:
    """The statement for chosen dimensions and a ticket condition: keys `k0…`, labels
    `l0…`, `tickets`, and `{measure}_{percentile}` for each measure and percentile.
    `windows`: percentiles by window functions (default: on SQLite only)."""
    keys = chosen.names
    measured = [*chosen.keys]
    measured += [f"{minutes_between('t.created_at', c)} AS {m}" for m, c in MEASURES.items()]
    results = [f"{m}_{name}" for m in MEASURES for name in PERCENTILES]
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    if not (sql.dialect() == "sqlite" if windows is None else windows):
        aggregates = [
            f"percentile_cont({n / d}) WITHIN GROUP (ORDER BY {m}) AS {m}_{name}"
            for m in MEASURES
            for name, (n, d) in PERCENTILES.items()
        ]
        return (
            f"WITH measured AS (SELECT {', '.join(measured)} FROM ticket t WHERE {where}),"
            f" grouped AS (SELECT {', '.join([*keys, 'COUNT(*) AS tickets', *aggregates])}"
            f" FROM measured{group}) {chosen.around('grouped', ['tickets', *results])}"
        )
    ranks = []
    for m in MEASURES:
        # Known values ranked from 1 apart from the unknown ones, and counted.
        partition = ", ".join([*keys, f"CASE WHEN {m} IS NULL THEN 1 ELSE 0 END"])
        ranks.append(f"ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {m}) AS {m}_rn")
        over = f"PARTITION BY {', '.join(keys)}" if keys else ""
        ranks.append(f"COUNT({m}) OVER ({over}) AS {m}_n")
    aggregates = [
        f"{_percentile(m, *p)} AS {m}_{name}" for m in MEASURES for name, p in PERCENTILES.items()
    ]
    return (
        f"WITH measured AS (SELECT {', '.join(measured)} FROM ticket t WHERE {where}),"
        f" ranked AS (SELECT measured.*, {', '.join(ranks)} FROM measured),"
        f" grouped AS (SELECT {', '.join([*keys, 'COUNT(*) AS tickets', *aggregates])}"
        f" FROM ranked{group}) {chosen.around('grouped', ['tickets', *results])}"
    )


def _minutes(value: Any) -> float | None:
    return None if value is None else float(value)


async def response_times(
    context: Context, group_by: Sequence[str], filters: TicketFilter | None
) -> list[ResponseTimeBucket]:
    """First-reply and resolution median and 90th percentile per bucket, most tickets first."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    chosen = grouping(group_by, report_time_zone(context))
    where = build_where(viewer, filters)
    rows = await sql.fetch(statement_text(chosen, where.sql()), *where.params)
    buckets = [
        ResponseTimeBucket(
            chosen.keys_of(r),
            chosen.labels_of(r),
            int(r["tickets"]),
            _minutes(r["fr_median"]),
            _minutes(r["fr_p90"]),
            _minutes(r["rs_median"]),
            _minutes(r["rs_p90"]),
        )
        for r in rows
        if r["tickets"]  # no dimension and no ticket: the one aggregate row counts 0
    ]
    if not chosen.chosen and not buckets:
        return [ResponseTimeBucket([], [], 0, None, None, None, None)]
    return sorted(buckets, key=lambda b: (-b.tickets, [k or "" for k in b.keys]))
