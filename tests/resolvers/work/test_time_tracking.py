"""Time entries: logging, changing and deleting them, who sees them, per-ticket sums."""

from __future__ import annotations

import pytest

from guichet.models.people import User
from guichet.models.tickets import TicketEvent, TicketEventKind
from guichet.models.time_tracking import BillStatus, TimeEntry
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.time_helpers import (
    DELETE_ENTRY,
    TICKET_TIME,
    UPDATE_ENTRY,
    day,
    iso,
    log_time,
    logged,
    payload_codes,
    ticket_for,
)
from tests.seed import seed_people, seed_tickets


@pytest.fixture
async def ticket(gql, agent, end_user) -> dict:
    return await ticket_for(gql, agent, end_user)


# ---------------------------------------------------------------- logging


async def test_agents_log_time_on_a_ticket(gql, agent, ticket):
    entry = await logged(
        gql, agent, ticket["id"], 90, billable=True, note="Replaced the fuser.",
        workedOn=iso(day(-2)),
    )  # fmt: skip
    assert entry["minutes"] == 90
    assert entry["billable"] is True
    assert entry["billStatus"] == "BILLABLE"
    assert entry["note"] == "Replaced the fuser."
    assert entry["workedOn"] == iso(day(-2))
    assert entry["agent"]["id"] == agent.id
    assert entry["ticket"] == {
        "id": ticket["id"],
        "number": ticket["number"],
        "timeSpentMinutes": 90,
    }
    assert (entry["hourlyRateCents"], entry["costCents"]) == (0, 0)
    assert (entry["invoiceRef"], entry["billedAt"]) == (None, None)
    stored = await TimeEntry.get(id=ids.decode_as(entry["id"], "TimeEntry"))
    assert (stored.minutes, stored.bill_status, stored.worked_on) == (
        90, BillStatus.BILLABLE, day(-2).date(),
    )  # fmt: skip


async def test_billable_defaults_to_false_and_worked_on_to_today(gql, agent, ticket):
    entry = await logged(gql, agent, ticket["id"], 15)
    assert (entry["billable"], entry["billStatus"]) == (False, "NON_BILLABLE")
    assert entry["workedOn"] == iso(day(0))
    assert entry["note"] is None


async def test_worked_on_counts_its_utc_day(gql, agent, ticket):
    # 01:30 at UTC+02:00 is 23:30 UTC the day before.
    moment = day(-1).replace(hour=1, minute=30).isoformat().replace("+00:00", "+02:00")
    entry = await logged(gql, agent, ticket["id"], 15, workedOn=moment)
    assert entry["workedOn"] == iso(day(-2))


@pytest.mark.parametrize("role", ["ADMIN", "OWNER"])
async def test_admins_and_the_owner_log_time_too(gql, everyone, ticket, role):
    entry = await logged(gql, everyone[role], ticket["id"], 5)
    assert entry["agent"]["id"] == everyone[role].id


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "END_USER"])
async def test_light_agents_and_end_users_cannot_log_time(gql, everyone, ticket, role):
    result = await log_time(gql, everyone[role], ticket["id"], 30)
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert await TimeEntry.all().count() == 0


async def test_time_on_an_unknown_ticket_is_not_found(gql, agent):
    for ticket_id in (ids.encode("Ticket", 999_999), "not an id", ids.encode("User", 1)):
        result = await log_time(gql, agent, ticket_id, 30)
        assert error_codes(result) == ["NOT_FOUND"]
    assert await TimeEntry.all().count() == 0


@pytest.mark.parametrize("minutes", [0, -5, 1441, 100_000, 2**31 - 1])
async def test_zero_negative_and_absurd_minutes_are_refused(gql, agent, ticket, minutes):
    result = await log_time(gql, agent, ticket["id"], minutes)
    assert payload_codes(result, "logTime") == ["INVALID_MINUTES"]
    assert result["data"]["logTime"]["errors"][0]["field"] == ["input", "minutes"]
    assert await TimeEntry.all().count() == 0


async def test_one_minute_and_one_whole_day_are_accepted(gql, agent, ticket):
    assert (await logged(gql, agent, ticket["id"], 1))["minutes"] == 1
    assert (await logged(gql, agent, ticket["id"], 1440))["minutes"] == 1440


async def test_notes_are_at_most_ten_thousand_characters(gql, agent, ticket):
    assert len((await logged(gql, agent, ticket["id"], note="x" * 10_000))["note"]) == 10_000
    result = await log_time(gql, agent, ticket["id"], note="x" * 10_001)
    assert payload_codes(result, "logTime") == ["TOO_LONG"]
    result = await log_time(gql, agent, ticket["id"], note="bad\x00note")
    assert payload_codes(result, "logTime") == ["INVALID"]
    assert await TimeEntry.all().count() == 1


async def test_work_cannot_be_logged_in_the_future(gql, agent, ticket):
    result = await log_time(gql, agent, ticket["id"], workedOn=iso(day(1)))
    assert payload_codes(result, "logTime") == ["WORKED_ON_IN_FUTURE"]
    result = await log_time(gql, agent, ticket["id"], workedOn="1999-12-31T00:00:00Z")
    assert payload_codes(result, "logTime") == ["INVALID_WORKED_ON"]
    result = await log_time(gql, agent, ticket["id"], 0, workedOn=iso(day(3)), note="\x00")
    assert sorted(payload_codes(result, "logTime")) == [
        "INVALID", "INVALID_MINUTES", "WORKED_ON_IN_FUTURE",
    ]  # fmt: skip
    assert await TimeEntry.all().count() == 0


async def test_logging_is_recorded_in_internal_history(gql, agent, end_user, ticket):
    entry = await logged(gql, agent, ticket["id"], 45, billable=True)
    event = await TicketEvent.get(kind=TicketEventKind.TIME_LOGGED)
    assert event.public is False
    assert event.actor_id == agent.row.pk
    data = __import__("orjson").loads(event.data)
    assert data["timeEntry"] == entry["id"]
    assert (data["minutes"], data["billable"], data["action"]) == (45, True, "LOGGED")
    history = await gql(
        "query($n: Int!) { ticket(number: $n) { history { edges { node { kind } } } } }",
        {"n": ticket["number"]},
        as_=end_user,
    )
    kinds = [e["node"]["kind"] for e in history["data"]["ticket"]["history"]["edges"]]
    assert "TIME_LOGGED" not in kinds


# ---------------------------------------------------------------- reading


async def test_agents_see_entries_and_the_sum_on_the_ticket(gql, agent, admin, ticket):
    first = await logged(gql, agent, ticket["id"], 20, workedOn=iso(day(-1)))
    second = await logged(gql, admin, ticket["id"], 25, workedOn=iso(day(-3)))
    result = await gql(TICKET_TIME, {"number": ticket["number"]}, as_=agent)
    seen = result["data"]["ticket"]
    assert seen["timeSpentMinutes"] == 45
    assert [e["id"] for e in seen["timeEntries"]] == [second["id"], first["id"]]


async def test_a_ticket_without_time_spent_shows_zero(gql, agent, ticket):
    result = await gql(TICKET_TIME, {"number": ticket["number"]}, as_=agent)
    assert result["data"]["ticket"]["timeSpentMinutes"] == 0
    assert result["data"]["ticket"]["timeEntries"] == []


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "END_USER"])
async def test_light_agents_and_end_users_never_see_time(gql, everyone, agent, ticket, role):
    entry = await logged(gql, agent, ticket["id"], 20)
    result = await gql(TICKET_TIME, {"number": ticket["number"]}, as_=everyone[role])
    assert result["data"]["ticket"] == {
        "number": ticket["number"], "timeSpentMinutes": None, "timeEntries": None,
    }  # fmt: skip
    assert sorted(tuple(e["path"]) for e in result["errors"]) == [
        ("ticket", "timeEntries"), ("ticket", "timeSpentMinutes"),
    ]  # fmt: skip
    assert set(error_codes(result)) == {"FORBIDDEN"}
    node = await gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": entry["id"]}, as_=everyone[role]
    )
    assert node["data"]["node"] is None


async def test_agents_load_an_entry_by_its_id(gql, agent, admin, ticket):
    entry = await logged(gql, admin, ticket["id"], 20)
    result = await gql(
        "query($id: ID!) { node(id: $id) { id ... on TimeEntry { minutes agent { id } } } }",
        {"id": entry["id"]},
        as_=agent,
    )
    assert result["data"]["node"] == {"id": entry["id"], "minutes": 20, "agent": {"id": admin.id}}


LIST = """
query($n: Int!) {
  tickets(first: $n, sort: [{field: NUMBER, direction: ASC}]) { edges { node {
    number timeSpentMinutes timeEntries { minutes billStatus costCents agent { name } }
  } } }
}
"""


async def test_sums_on_a_ticket_list_need_no_per_row_queries(gql, agent, count_statements):
    customers, agents = await seed_people(customers=3, agents=4)
    tickets = await seed_tickets(
        requesters=customers, agents=agents, tickets=60, comments_per_ticket=0
    )
    await TimeEntry.bulk_create(
        [
            TimeEntry(
                ticket_id=t.id, agent_id=agents[(i + j) % 4].id, minutes=5 + (i * 7 + j) % 90,
                bill_status=list(BillStatus)[j % 3], worked_on=day(-j).date(), rate_cents=6000,
            )
            for i, t in enumerate(tickets) if i % 5
            for j in range(i % 4)
        ]
    )  # fmt: skip
    with count_statements() as few:
        small = await gql(LIST, {"n": 5}, as_=agent)
    with count_statements() as many:
        large = await gql(LIST, {"n": 50}, as_=agent)
    assert "errors" not in large, large
    assert few.count == many.count <= 8
    expected: dict[int, int] = {}
    for e in await TimeEntry.all().prefetch_related("ticket"):
        expected[e.ticket.number] = expected.get(e.ticket.number, 0) + e.minutes
    for edge in small["data"]["tickets"]["edges"] + large["data"]["tickets"]["edges"]:
        node = edge["node"]
        assert node["timeSpentMinutes"] == expected.get(node["number"], 0)
        assert sum(e["minutes"] for e in node["timeEntries"]) == node["timeSpentMinutes"]


# ---------------------------------------------------------------- changing and deleting


async def update(gql, as_, entry_id: str, **fields) -> dict:
    return await gql(UPDATE_ENTRY, {"input": {"id": entry_id, **fields}}, as_=as_)


async def test_agents_change_their_own_entries(gql, agent, ticket):
    entry = await logged(gql, agent, ticket["id"], 20, note="first try")
    result = await update(gql, agent, entry["id"], minutes=35, billable=True, workedOn=iso(day(-1)))
    changed = result["data"]["updateTimeEntry"]["timeEntry"]
    assert (changed["minutes"], changed["billStatus"], changed["note"]) == (
        35,
        "BILLABLE",
        "first try",
    )
    assert changed["workedOn"] == iso(day(-1))
    assert changed["ticket"]["timeSpentMinutes"] == 35
    cleared = await update(gql, agent, entry["id"], note=None)
    assert cleared["data"]["updateTimeEntry"]["timeEntry"]["note"] is None
    events = await TicketEvent.filter(kind=TicketEventKind.TIME_LOGGED).order_by("id")
    assert [e.public for e in events] == [False, False, False]
    assert '"previous":{"minutes":20,"billable":false}' in events[1].data


async def test_bad_changes_are_refused_and_change_nothing(gql, agent, ticket):
    entry = await logged(gql, agent, ticket["id"], 20)
    for fields, code in (
        ({"minutes": 0}, "INVALID_MINUTES"), ({"minutes": None}, "INVALID_MINUTES"),
        ({"minutes": 5000}, "INVALID_MINUTES"), ({"note": "x" * 10_001}, "TOO_LONG"),
        ({"workedOn": iso(day(2))}, "WORKED_ON_IN_FUTURE"), ({"workedOn": None}, "REQUIRED"),
        ({"billable": None}, "REQUIRED"),
    ):  # fmt: skip
        assert payload_codes(
            await update(gql, agent, entry["id"], **fields), "updateTimeEntry"
        ) == [code]
    stored = await TimeEntry.get(id=ids.decode_as(entry["id"], "TimeEntry"))
    assert (stored.minutes, stored.bill_status) == (20, BillStatus.NON_BILLABLE)


async def test_another_agents_entry_is_not_found(gql, agent, make_person, ticket):
    other = await make_person("Otto Other", "otto@guichet.test", agent.row.role)
    entry = await logged(gql, other, ticket["id"], 20)
    assert error_codes(await update(gql, agent, entry["id"], minutes=5)) == ["NOT_FOUND"]
    deleted = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=agent)
    assert error_codes(deleted) == ["NOT_FOUND"]
    assert await TimeEntry.filter(minutes=20).count() == 1


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "END_USER"])
async def test_light_agents_and_end_users_cannot_change_entries(gql, everyone, agent, ticket, role):
    entry = await logged(gql, agent, ticket["id"], 20)
    assert error_codes(await update(gql, everyone[role], entry["id"], minutes=5)) == ["FORBIDDEN"]
    deleted = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=everyone[role])
    assert error_codes(deleted) == ["FORBIDDEN"]


async def test_admins_change_and_delete_anyones_entries(gql, agent, admin, ticket):
    entry = await logged(gql, agent, ticket["id"], 20)
    result = await update(gql, admin, entry["id"], minutes=10)
    assert result["data"]["updateTimeEntry"]["timeEntry"]["minutes"] == 10
    deleted = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=admin)
    assert deleted["data"]["deleteTimeEntry"] == {
        "deletedTimeEntryId": entry["id"], "errors": [],
        "ticket": {"number": ticket["number"], "timeSpentMinutes": 0},
    }  # fmt: skip
    assert await TimeEntry.all().count() == 0


async def test_agents_delete_their_own_entries_with_history(gql, agent, ticket):
    keep = await logged(gql, agent, ticket["id"], 15)
    entry = await logged(gql, agent, ticket["id"], 20)
    deleted = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=agent)
    assert deleted["data"]["deleteTimeEntry"]["ticket"]["timeSpentMinutes"] == 15
    assert [e.id for e in await TimeEntry.all()] == [ids.decode_as(keep["id"], "TimeEntry")]
    last = await TicketEvent.filter(kind=TicketEventKind.TIME_LOGGED).order_by("-id").first()
    assert '"action":"DELETED"' in last.data and last.public is False
    again = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=agent)
    assert error_codes(again) == ["NOT_FOUND"]


async def test_billed_entries_can_neither_change_nor_be_deleted(gql, agent, admin, ticket):
    entry = await logged(gql, agent, ticket["id"], 20, billable=True)
    await TimeEntry.filter(id=ids.decode_as(entry["id"], "TimeEntry")).update(
        bill_status=BillStatus.BILLED, invoice_ref="INV-7"
    )
    for person in (agent, admin):
        result = await update(gql, person, entry["id"], minutes=5)
        assert payload_codes(result, "updateTimeEntry") == ["ALREADY_BILLED"]
        deleted = await gql(DELETE_ENTRY, {"id": entry["id"]}, as_=person)
        assert payload_codes(deleted, "deleteTimeEntry") == ["ALREADY_BILLED"]
    assert (await TimeEntry.get()).minutes == 20
    assert await User.filter(id=agent.row.pk).exists()
