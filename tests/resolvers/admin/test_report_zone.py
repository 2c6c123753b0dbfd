"""Days, weeks and months of reports begin in the help center's time zone, daylight saving
included, alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from guichet.models.tickets import Ticket
from tests.seed import seed_people, seed_tickets

STATS = "query($by: [TicketDimension!]!) { ticketStats(groupBy: $by) { keys count } }"
UPDATE_SETTINGS = (
    "mutation($zone: String) { updateSettings(input: {timeZone: $zone}) { errors { code } } }"
)
TIMES = "query($by: [ResponseDimension!]!) { responseTimes(groupBy: $by) { keys tickets } }"
# New York moved from UTC-5 to UTC-4 on 2026-03-08 at 07:00 UTC.
CREATED = [
    datetime(2026, 3, 8, 4, 30, tzinfo=UTC),  # Saturday 7 March, 23:30 EST
    datetime(2026, 3, 9, 3, 30, tzinfo=UTC),  # Sunday 8 March, 23:30 EDT
    datetime(2026, 4, 1, 3, 0, tzinfo=UTC),  # Tuesday 31 March, 23:00 EDT
]


async def _in_zone(gql, admin, zone: str) -> None:
    result = await gql(UPDATE_SETTINGS, {"zone": zone}, as_=admin)
    assert result["data"]["updateSettings"]["errors"] == [], result


async def _seeded() -> None:
    customers, agents = await seed_people(customers=1, agents=1)
    tickets = await seed_tickets(
        requesters=customers, agents=agents, tickets=len(CREATED), comments_per_ticket=0
    )
    for ticket, created in zip(tickets, CREATED, strict=True):
        await Ticket.filter(id=ticket.id).update(created_at=created)


async def _keys(gql, agent, query, by) -> dict[str, int]:
    result = await gql(query, {"by": [by]}, as_=agent)
    assert "errors" not in result, result
    field = next(iter(result["data"].values()))
    return {b["keys"][0]: b.get("count", b.get("tickets")) for b in field}


async def test_days_weeks_and_months_follow_the_help_center_time_zone(gql, agent, admin):
    await _seeded()
    assert await _keys(gql, agent, STATS, "CREATED_DAY") == {
        "2026-03-08": 1,
        "2026-03-09": 1,
        "2026-04-01": 1,
    }
    await _in_zone(gql, admin, "America/New_York")
    assert await _keys(gql, agent, STATS, "CREATED_DAY") == {
        "2026-03-07": 1,
        "2026-03-08": 1,
        "2026-03-31": 1,
    }
    assert await _keys(gql, agent, STATS, "CREATED_WEEK") == {"2026-03-02": 2, "2026-03-30": 1}
    assert await _keys(gql, agent, STATS, "CREATED_MONTH") == {"2026-03-01": 3}
    assert await _keys(gql, agent, TIMES, "CREATED_WEEK") == {"2026-03-02": 2, "2026-03-30": 1}


async def test_a_zone_without_daylight_saving_shifts_by_its_offset(gql, agent, admin):
    await _seeded()
    last = await Ticket.all().order_by("-id").first()
    await Ticket.filter(id=last.id).update(created_at=datetime(2026, 3, 31, 20, 0, tzinfo=UTC))
    assert await _keys(gql, agent, STATS, "CREATED_MONTH") == {"2026-03-01": 3}
    await _in_zone(gql, admin, "Asia/Kolkata")  # UTC+5:30: 1 April, 01:30
    assert await _keys(gql, agent, STATS, "CREATED_MONTH") == {"2026-03-01": 2, "2026-04-01": 1}
