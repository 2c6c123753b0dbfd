"""The dashboard: a staff member's home page in one round trip, against hand counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from guichet.resolvers.views.dashboard import periods
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import get_ticket, make_ticket
from tests.resolvers.views.conftest import NOW
from tests.resolvers.views_helpers import created_view, list_views
from tests.resolvers.work.test_activities import added

DASHBOARD = """{ dashboard {
  myOpenTickets unassignedTickets approvalsWaitingForMe activitiesDueToday activitiesOverdue
  solvedThisWeek satisfactionThisMonth { good bad score } views { view { name } count }
} }"""
RATE = """mutation($id: ID!) {
  rateSatisfaction(input: {ticketId: $id, score: GOOD}) { errors { code } }
}"""


async def dashboard(gql, person) -> dict:
    result = await gql(DASHBOARD, as_=person)
    assert "errors" not in result, result
    return result["data"]["dashboard"]


async def test_the_dashboard_counts_what_a_hand_count_says(gql, seeded, agent, admin, end_user):
    three = (await get_ticket(gql, agent, 3))["id"]
    rated = await gql(RATE, {"id": three}, as_=end_user)
    assert rated["data"]["rateSatisfaction"]["errors"] == []
    today = periods(datetime.now(UTC), UTC)
    overdue_today = int(NOW - timedelta(hours=2) >= today.day_start)
    mine = await dashboard(gql, agent)
    assert mine == {
        "myOpenTickets": 2,
        "unassignedTickets": 2,
        "approvalsWaitingForMe": 0,
        "activitiesDueToday": overdue_today,  # the overdue one, if it was due today
        "activitiesOverdue": 1,
        "solvedThisWeek": 1,
        "satisfactionThisMonth": {"good": 1, "bad": 0, "score": 1.0},
        "views": [
            {"view": {"name": v["name"]}, "count": v["count"]} for v in await list_views(gql, agent)
        ],
    }
    theirs = await dashboard(gql, admin)
    assert (theirs["myOpenTickets"], theirs["approvalsWaitingForMe"]) == (1, 1)
    assert (theirs["activitiesOverdue"], theirs["activitiesDueToday"]) == (0, 0)


async def test_light_agents_have_a_dashboard_end_users_do_not(gql, light_agent, end_user):
    assert (await dashboard(gql, light_agent))["myOpenTickets"] == 0
    assert error_codes(await gql(DASHBOARD, as_=end_user)) == ["FORBIDDEN"]


async def test_the_dashboard_takes_as_many_statements_whatever_the_views(
    gql, agent, end_user, count_statements
):
    await make_ticket(gql, end_user)
    await list_views(gql, agent)  # the built-in views exist
    with count_statements() as few:
        await dashboard(gql, agent)
    for n in range(6):
        await created_view(gql, agent, name=f"View {n}", filter={"query": f"printer{n}"})
    with count_statements() as many:
        await dashboard(gql, agent)
    assert many.count == few.count


def test_today_and_this_week_are_the_help_desks():
    paris = ZoneInfo("Europe/Paris")
    # Sunday 29 March 2026, 23:30 in Paris (summer time began that night): 21:30 UTC.
    now = datetime(2026, 3, 29, 21, 30, tzinfo=UTC)
    p = periods(now, paris)
    assert p.day_start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # midnight, winter time
    assert p.day_end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # next midnight, summer time
    assert p.week_start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)  # Monday 23 March
    assert p.month_start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)


async def test_activities_due_today_are_counted_in_the_help_desks_time_zone(
    app, gql, agent, end_user
):
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its "today" is seldom UTC's
    ticket = await make_ticket(gql, end_user)
    local = periods(datetime.now(UTC), zone)
    for due in (local.day_end - timedelta(minutes=1), local.day_start - timedelta(minutes=1)):
        await added(gql, agent, ticket, dueAt=due.isoformat())
    settings = app.state.settings
    app.state.settings = replace(settings, time_zone="Pacific/Kiritimati")
    try:
        assert (await dashboard(gql, agent))["activitiesDueToday"] == 1
    finally:
        app.state.settings = settings
