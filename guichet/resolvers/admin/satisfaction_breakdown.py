"""Satisfaction per agent (the ticket's assignee) or group: GOOD and BAD ratings and the
GOOD share, with the same dates and visibility as `satisfactionStats` (ratings last
changed in [from, to), on tickets the viewer sees), in one GROUP BY statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.resolvers import access, sql
from guichet.resolvers.admin.dimensions import grouping
from guichet.resolvers.admin.report_zone import report_time_zone

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


@dataclass(slots=True)
class SatisfactionBucket:
    keys: list[str | None]
    labels: list[str | None]
    good: int
    bad: int

    @property
    def score(self) -> float | None:
        """good / (good + bad); None when nothing was rated."""
        rated = self.good + self.bad
        return self.good / rated if rated else None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def satisfaction_breakdown(
    context: Context, group_by: Sequence[str], since: datetime | None, until: datetime | None
) -> list[SatisfactionBucket]:
    """GOOD and BAD ratings per bucket (AGENT, GROUP), most ratings first."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    chosen = grouping(group_by, report_time_zone(context))
    where = sql.Where()
    for operator, moment in ((">=", since), ("<", until)):
        if moment is not None:
            where.add(f"s.updated_at {operator} ?", _utc(moment))
    where.given(access.visible_tickets_condition(viewer, "t", 1))
    columns = [
        *chosen.keys,
        "SUM(CASE WHEN s.score = 'GOOD' THEN 1 ELSE 0 END) AS good",
        "SUM(CASE WHEN s.score = 'BAD' THEN 1 ELSE 0 END) AS bad",
    ]
    grouped = (
        f"(SELECT {', '.join(columns)} FROM satisfaction_rating s"
        f" JOIN ticket t ON t.id = s.ticket_id WHERE {where.sql()}{chosen.group_by()})"
    )
    rows = await sql.fetch(chosen.around(grouped, ["good", "bad"]), *where.params)
    buckets = [
        SatisfactionBucket(
            chosen.keys_of(r), chosen.labels_of(r), int(r["good"] or 0), int(r["bad"] or 0)
        )
        for r in rows
        if r["good"] or r["bad"]  # no dimension and no rating: the aggregate row is empty
    ]
    if not chosen.chosen and not buckets:
        return [SatisfactionBucket([], [], 0, 0)]
    return sorted(buckets, key=lambda b: (-(b.good + b.bad), [k or "" for k in b.keys]))
