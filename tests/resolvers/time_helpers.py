"""Shared helpers of the time tracking tests: documents and small shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.resolvers.tickets_helpers import make_ticket

ENTRY_FIELDS = """
  id minutes billable note workedOn createdAt billStatus hourlyRateCents costCents
  invoiceRef billedAt agent { id } ticket { id number timeSpentMinutes }
"""

LOG_TIME = f"""
mutation($input: LogTimeInput!) {{
  logTime(input: $input) {{ timeEntry {{ {ENTRY_FIELDS} }} errors {{ code field message }} }}
}}
"""

UPDATE_ENTRY = f"""
mutation($input: UpdateTimeEntryInput!) {{
  updateTimeEntry(input: $input) {{ timeEntry {{ {ENTRY_FIELDS} }} errors {{ code field message }} }}
}}
"""

DELETE_ENTRY = """
mutation($id: ID!) {
  deleteTimeEntry(input: {id: $id}) {
    deletedTimeEntryId ticket { number timeSpentMinutes } errors { code field message }
  }
}
"""

SET_RATE = """
mutation($agentId: ID!, $cents: Int!) {
  setHourlyRate(input: {agentId: $agentId, cents: $cents}) {
    hourlyRate { cents agent { id } } errors { code field message }
  }
}
"""

MARK_BILLED = """
mutation($ids: [ID!]!, $ref: String!) {
  markBilled(input: {entryIds: $ids, invoiceRef: $ref}) {
    timeEntries { id billStatus invoiceRef billedAt } errors { code field message }
  }
}
"""

TICKET_TIME = """
query($number: Int!) {
  ticket(number: $number) { number timeSpentMinutes timeEntries { id minutes agent { id } } }
}
"""


def day(offset: int = 0) -> datetime:
    """Midnight UTC, `offset` days from today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=offset)


def iso(moment: datetime) -> str:
    return moment.isoformat()  # as the API prints it: 2026-03-01T00:00:00+00:00


async def ticket_for(gql, agent, requester) -> dict:
    return await make_ticket(gql, agent, requesterId=requester.id)


async def log_time(gql, as_, ticket_id: str, minutes: int = 30, **fields: Any) -> dict:
    """The logTime result (data and errors)."""
    request = {"ticketId": ticket_id, "minutes": minutes, **fields}
    return await gql(LOG_TIME, {"input": request}, as_=as_)


async def logged(gql, as_, ticket_id: str, minutes: int = 30, **fields: Any) -> dict:
    """Log time that must be accepted; the entry."""
    result = await log_time(gql, as_, ticket_id, minutes, **fields)
    assert "errors" not in result, result
    payload = result["data"]["logTime"]
    assert payload["errors"] == [], payload["errors"]
    return payload["timeEntry"]


def payload_codes(result: dict, field: str) -> list[str]:
    assert "errors" not in result, result
    return [e["code"] for e in result["data"][field]["errors"]]
