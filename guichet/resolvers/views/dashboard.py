"""The dashboard: what a staff member's home page shows, in one round trip.

Its ticket figures are the built-in views' counts (`myOpenTickets` is "My open tickets"),
so the two can never disagree; all figures and the viewer's view counts are one statement,
satisfaction is a second (the `satisfactionStats` rule), the list of views a third.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guichet.models.people import Role
from guichet.resolvers import access
from guichet.resolvers.tickets.ticket_search import build_where
from guichet.resolvers.views import built_in
from guichet.resolvers.views.view_counts import Count, count_all, tickets_count
from guichet.resolvers.views.views import ViewRow, viewer_views
from guichet.resolvers.work.satisfaction import SatisfactionStats, rating_counts

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


def help_desk_zone(context: Context) -> tzinfo:
    """The zone "today" and "this week" are in: the help desk's (`timeZone` of the settings,
    which a request's `context.settings` carries as in effect now); UTC when unset or not
    a zone this machine knows."""
    name = getattr(context.settings, "time_zone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True, slots=True)
class Periods:
    day_start: datetime
    day_end: datetime
    week_start: datetime  # Monday 00:00
    month_start: datetime


def periods(now: datetime, zone: tzinfo) -> Periods:
    """Today, this week and this month in `zone`, as UTC instants."""
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)

    def utc(moment: datetime) -> datetime:
        # Re-attach the zone to the wall time: across a DST change the offset differs.
        return moment.replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)

    return Periods(
        utc(midnight),
        utc(midnight + timedelta(days=1)),
        utc(midnight - timedelta(days=midnight.weekday())),
        utc(midnight.replace(day=1)),
    )


@dataclass(frozen=True, slots=True)
class ViewCount:
    view: ViewRow
    count: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    my_open_tickets: int
    unassigned_tickets: int
    approvals_waiting_for_me: int
    activities_due_today: int
    activities_overdue: int
    solved_this_week: int
    satisfaction_this_month: SatisfactionStats
    views: list[ViewCount]


def _figures(viewer: Viewer, now: datetime, p: Periods) -> list[Count]:
    def tickets(query_key: str) -> Count:
        text, params = build_where(viewer, built_in.BY_KEY[query_key].filter).part
        return f"SELECT COUNT(*) FROM ticket t WHERE {text}", params

    visible, visible_params = access.visible_tickets_condition(viewer, "t", 2)
    open_activity = (
        "SELECT COUNT(*) FROM activity a WHERE a.owner_id = $1 AND a.completed_at IS NULL"
    )
    return [
        tickets("my_open"),
        tickets("unassigned"),
        (
            "SELECT COUNT(*) FROM approval_request r JOIN approval_approver a"
            " ON a.request_id = r.id WHERE a.user_id = $1 AND r.status = 'PENDING'",
            [viewer.id],
        ),
        (
            f"{open_activity} AND a.due_at >= $2 AND a.due_at < $3",
            [viewer.id, p.day_start, p.day_end],
        ),
        (f"{open_activity} AND a.due_at < $2", [viewer.id, now]),
        (
            f"SELECT COUNT(*) FROM ticket t WHERE t.solved_at >= $1 AND {visible}",
            [p.week_start, *visible_params],
        ),
    ]


async def dashboard(context: Context) -> Dashboard:
    viewer = context.require_viewer()
    access.require_role(viewer, Role.LIGHT_AGENT)
    now = datetime.now(UTC)
    p = periods(now, help_desk_zone(context))
    views = await viewer_views(context)
    counted = [(v, c) for v in views if (c := tickets_count(viewer, v)) is not None]
    figures = _figures(viewer, now, p)
    totals = await count_all([*figures, *(c for _, c in counted)])
    mine, unassigned, approvals, due_today, overdue, solved = totals[: len(figures)]
    return Dashboard(
        my_open_tickets=mine,
        unassigned_tickets=unassigned,
        approvals_waiting_for_me=approvals,
        activities_due_today=due_today,
        activities_overdue=overdue,
        solved_this_week=solved,
        satisfaction_this_month=await rating_counts(viewer, p.month_start, None),
        views=[ViewCount(v, n) for (v, _), n in zip(counted, totals[len(figures) :], strict=True)],
    )
