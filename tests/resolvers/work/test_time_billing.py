"""Hourly rates, costs, invoice runs (all or nothing, never twice) and timeStats."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date

import pytest

from guichet.models.people import Role
from guichet.models.tickets import Ticket
from guichet.models.time_tracking import BillStatus, HourlyRate, TimeEntry
from guichet.resolvers import ids
from guichet.resolvers.work.time_tracking import cost_cents
from tests.conftest import error_codes
from tests.resolvers.time_helpers import (
    MARK_BILLED,
    SET_RATE,
    UPDATE_ENTRY,
    day,
    iso,
    logged,
    payload_codes,
    ticket_for,
)
from tests.seed import seed_people, seed_tickets


@pytest.fixture
async def ticket(gql, agent, end_user) -> dict:
    return await ticket_for(gql, agent, end_user)


async def set_rate(gql, as_, agent_id: str, cents: int) -> dict:
    return await gql(SET_RATE, {"agentId": agent_id, "cents": cents}, as_=as_)


# ---------------------------------------------------------------- rates and costs


@pytest.mark.parametrize(
    ("minutes", "rate", "cost"),
    [(60, 6000, 6000), (25, 6000, 2500), (1, 90, 2), (1, 30, 1), (1, 29, 0), (7, 1000, 117),
     (1440, 10_000_000, 240_000_000)],
)  # fmt: skip
def test_costs_are_minutes_times_rate_over_sixty_rounded_half_up(minutes, rate, cost):
    assert cost_cents(minutes, rate) == cost


async def test_an_entry_keeps_the_rate_it_was_logged_with(gql, admin, agent, ticket):
    assert (await set_rate(gql, admin, agent.id, 6000))["data"]["setHourlyRate"] == {
        "hourlyRate": {"cents": 6000, "agent": {"id": agent.id}}, "errors": [],
    }  # fmt: skip
    before = await logged(gql, agent, ticket["id"], 25)
    assert (before["hourlyRateCents"], before["costCents"]) == (6000, 2500)
    await set_rate(gql, admin, agent.id, 12_000)
    after = await logged(gql, agent, ticket["id"], 25)
    assert (after["hourlyRateCents"], after["costCents"]) == (12_000, 5000)
    changed = await gql(UPDATE_ENTRY, {"input": {"id": before["id"], "minutes": 30}}, as_=agent)
    entry = changed["data"]["updateTimeEntry"]["timeEntry"]
    assert (entry["hourlyRateCents"], entry["costCents"]) == (6000, 3000)
    assert await HourlyRate.filter(agent_id=agent.row.pk).count() == 1


async def test_rates_are_for_staff_within_bounds(gql, admin, owner, light_agent, end_user):
    for cents in (-1, 10_000_001):
        assert payload_codes(
            await set_rate(gql, admin, light_agent.id, cents), "setHourlyRate"
        ) == ["INVALID_RATE"]
    for cents in (0, 10_000_000):
        assert (
            payload_codes(await set_rate(gql, owner, light_agent.id, cents), "setHourlyRate") == []
        )
    refused = await set_rate(gql, admin, end_user.id, 5000)
    assert payload_codes(refused, "setHourlyRate") == ["NOT_STAFF"]
    for unknown in (ids.encode("User", 999_999), "nope", ids.encode("Ticket", 1)):
        assert payload_codes(await set_rate(gql, admin, unknown, 5000), "setHourlyRate") == [
            "NOT_FOUND"
        ]
    assert [r.cents for r in await HourlyRate.all()] == [10_000_000]


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT", "AGENT"])
async def test_only_admins_set_rates_and_bill(gql, everyone, agent, ticket, role):
    entry = await logged(gql, agent, ticket["id"], 20, billable=True)
    assert error_codes(await set_rate(gql, everyone[role], agent.id, 1)) == ["FORBIDDEN"]
    billed = await gql(MARK_BILLED, {"ids": [entry["id"]], "ref": "INV-1"}, as_=everyone[role])
    assert error_codes(billed) == ["FORBIDDEN"]
    assert await HourlyRate.all().count() == 0
    assert (await TimeEntry.get()).bill_status is BillStatus.BILLABLE


# ---------------------------------------------------------------- invoice runs


async def bill(gql, admin, entry_ids: list[str], ref: str = "INV-2026-001") -> dict:
    return await gql(MARK_BILLED, {"ids": entry_ids, "ref": ref}, as_=admin)


async def test_an_invoice_run_bills_billable_entries(gql, admin, agent, ticket):
    entries = [await logged(gql, agent, ticket["id"], m, billable=True) for m in (10, 20)]
    result = await bill(gql, admin, [e["id"] for e in entries] + [entries[0]["id"]])
    billed = result["data"]["markBilled"]["timeEntries"]
    assert [e["id"] for e in billed] == [e["id"] for e in entries]
    assert {(e["billStatus"], e["invoiceRef"]) for e in billed} == {("BILLED", "INV-2026-001")}
    assert all(e["billedAt"] for e in billed)
    stored = await TimeEntry.all()
    assert {(e.bill_status, e.invoice_ref) for e in stored} == {(BillStatus.BILLED, "INV-2026-001")}


async def test_an_invoice_run_bills_all_or_nothing(gql, admin, agent, ticket):
    billable = await logged(gql, agent, ticket["id"], 10, billable=True)
    free = await logged(gql, agent, ticket["id"], 20)
    done = await logged(gql, agent, ticket["id"], 30, billable=True)
    assert payload_codes(await bill(gql, admin, [done["id"]], "INV-0"), "markBilled") == []
    unknown = ids.encode("TimeEntry", 999_999)
    result = await bill(gql, admin, [billable["id"], free["id"], done["id"], unknown])
    errors = result["data"]["markBilled"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("NOT_BILLABLE", ["input", "entryIds", "1"]),
        ("ALREADY_BILLED", ["input", "entryIds", "2"]),
        ("NOT_FOUND", ["input", "entryIds", "3"]),
    ]
    assert done["id"] in errors[1]["message"] and "INV-0" in errors[1]["message"]
    assert result["data"]["markBilled"]["timeEntries"] is None
    statuses = {e.minutes: (e.bill_status, e.invoice_ref) for e in await TimeEntry.all()}
    assert statuses == {
        10: (BillStatus.BILLABLE, None), 20: (BillStatus.NON_BILLABLE, None),
        30: (BillStatus.BILLED, "INV-0"),
    }  # fmt: skip


async def test_bad_invoice_runs_are_refused(gql, admin, agent, ticket):
    entry = await logged(gql, agent, ticket["id"], 10, billable=True)
    for entry_ids, ref, code in (
        ([], "INV-1", "REQUIRED"), ([entry["id"]], "  ", "REQUIRED"),
        ([entry["id"]], "x" * 101, "TOO_LONG"), (["garbage"], "INV-1", "NOT_FOUND"),
        ([entry["id"]] * 1001, "INV-1", "TOO_MANY"),
    ):  # fmt: skip
        assert payload_codes(await bill(gql, admin, entry_ids, ref), "markBilled") == [code]
    assert (await TimeEntry.get()).bill_status is BillStatus.BILLABLE


async def test_racing_invoice_runs_never_bill_an_entry_twice(gql, admin, owner, agent, ticket):
    entries = [await logged(gql, agent, ticket["id"], m, billable=True) for m in range(1, 21)]
    entry_ids = [e["id"] for e in entries]
    for _ in range(3):
        first, second = await asyncio.gather(
            bill(gql, admin, entry_ids, "INV-A"), bill(gql, owner, entry_ids[::-1], "INV-B")
        )
        outcomes = [first["data"]["markBilled"], second["data"]["markBilled"]]
        winners = [o for o in outcomes if not o["errors"]]
        losers = [o for o in outcomes if o["errors"]]
        assert len(winners) == len(losers) == 1
        assert {e["code"] for e in losers[0]["errors"]} == {"ALREADY_BILLED"}
        ref = winners[0]["timeEntries"][0]["invoiceRef"]
        assert {(e.bill_status, e.invoice_ref) for e in await TimeEntry.all()} == {
            (BillStatus.BILLED, ref)
        }
        await TimeEntry.all().update(bill_status=BillStatus.BILLABLE, invoice_ref=None)


# ---------------------------------------------------------------- timeStats

STATS = """
query($by: [TimeDimension!]!, $from: DateTime, $to: DateTime, $billable: Boolean) {
  timeStats(groupBy: $by, from: $from, to: $to, billable: $billable) {
    keys minutes billableMinutes entries
  }
}
"""


async def _seeded(org, other_org) -> list[TimeEntry]:
    customers, agents = await seed_people(customers=3, agents=4)
    tickets = await seed_tickets(
        requesters=customers, agents=agents, tickets=9, comments_per_ticket=0
    )
    await Ticket.filter(id__in=[t.id for t in tickets[::3]]).update(organization_id=org.pk)
    await Ticket.filter(id__in=[t.id for t in tickets[1::3]]).update(organization_id=other_org.pk)
    await TimeEntry.bulk_create(
        [
            TimeEntry(
                ticket_id=tickets[(i * 5) % 9].id, agent_id=agents[i % 4].id,
                minutes=5 + (i * 13) % 120, bill_status=list(BillStatus)[i % 3],
                worked_on=day(-(i % 6)).date(), rate_cents=0,
            )
            for i in range(40)
        ]
    )  # fmt: skip
    return await TimeEntry.all().prefetch_related("ticket")


def _key(entry: TimeEntry, dimension: str) -> str | None:
    if dimension == "AGENT":
        return ids.encode("User", entry.agent_id)
    if dimension == "ORGANIZATION":
        org = entry.ticket.organization_id
        return None if org is None else ids.encode("Organization", org)
    if dimension == "TICKET":
        return str(entry.ticket.number)
    return entry.worked_on.isoformat()


def _expected(entries, by: list[str]) -> dict[tuple, tuple[int, int, int]]:
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in entries:
        bucket = sums[tuple(_key(e, d) for d in by)]
        bucket[0] += e.minutes
        bucket[1] += e.minutes if e.bill_status is not BillStatus.NON_BILLABLE else 0
        bucket[2] += 1
    return {k: tuple(v) for k, v in sums.items()}


def _as_dict(buckets) -> dict[tuple, tuple[int, int, int]]:
    return {tuple(b["keys"]): (b["minutes"], b["billableMinutes"], b["entries"]) for b in buckets}


@pytest.mark.parametrize(
    "by", [["AGENT"], ["ORGANIZATION"], ["TICKET"], ["DAY"], ["DAY", "AGENT"],
           ["ORGANIZATION", "TICKET", "DAY"]],
)  # fmt: skip
async def test_time_stats_match_sums_computed_from_the_orm(gql, agent, org, other_org, by):
    entries = await _seeded(org, other_org)
    result = await gql(STATS, {"by": by}, as_=agent)
    assert "errors" not in result, result
    buckets = result["data"]["timeStats"]
    assert _as_dict(buckets) == _expected(entries, by)
    assert [b["minutes"] for b in buckets] == sorted((b["minutes"] for b in buckets), reverse=True)


async def test_time_stats_filter_days_and_billable(gql, admin, org, other_org):
    entries = await _seeded(org, other_org)
    first, last = day(-4), day(-1)
    window = [e for e in entries if first.date() <= e.worked_on <= last.date()]
    variables = {"by": ["DAY"], "from": iso(first), "to": iso(last.replace(hour=12))}
    result = await gql(STATS, variables, as_=admin)
    assert _as_dict(result["data"]["timeStats"]) == _expected(window, ["DAY"])
    # A `from` after midnight leaves that day out: its workedOn (midnight) is earlier.
    later = await gql(STATS, {**variables, "from": iso(first.replace(hour=1))}, as_=admin)
    assert _as_dict(later["data"]["timeStats"]) == _expected(
        [e for e in window if e.worked_on != first.date()], ["DAY"]
    )
    for billable in (True, False):
        chosen = [e for e in entries if (e.bill_status is not BillStatus.NON_BILLABLE) == billable]
        result = await gql(STATS, {"by": ["AGENT"], "billable": billable}, as_=admin)
        assert _as_dict(result["data"]["timeStats"]) == _expected(chosen, ["AGENT"])


async def test_no_dimension_gives_one_total_even_without_entries(gql, agent, org, other_org):
    assert (await gql(STATS, {"by": []}, as_=agent))["data"]["timeStats"] == [
        {"keys": [], "minutes": 0, "billableMinutes": 0, "entries": 0}
    ]
    entries = await _seeded(org, other_org)
    result = await gql(STATS, {"by": []}, as_=agent)
    assert _as_dict(result["data"]["timeStats"]) == _expected(entries, [])
    old = await gql(STATS, {"by": [], "to": "2001-01-01T00:00:00Z"}, as_=agent)
    assert old["data"]["timeStats"][0]["entries"] == 0
    assert date.fromisoformat(_key(entries[0], "DAY"))  # keys are YYYY-MM-DD


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_end_users_and_light_agents_get_no_time_stats(gql, everyone, role):
    result = await gql(STATS, {"by": ["AGENT"]}, as_=everyone[role])
    assert result["data"] == {"timeStats": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert everyone[role].row.role in (Role.END_USER, Role.LIGHT_AGENT)
