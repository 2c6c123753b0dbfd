"""Time tracking: entries on tickets, their costs, billing, and time statistics.

Only agents and above ever reach a TimeEntry (Ticket.timeEntries carries @requires(AGENT),
`node` loads one through time_tracking.time_entry_for_viewer, the mutations refuse everyone
else), so its fields, costs and billing included, are plain: no @requires of their own.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from guichet.models import time_tracking as models
from guichet.models.people import Role
from guichet.resolvers.people import people
from guichet.resolvers.tickets import tickets
from guichet.resolvers.work import time_billing, time_tracking
from guichet.schema.fields import related
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User
from guichet.schema.relay import Node
from guichet.schema.requires import requires
from guichet.schema.ticket_ref import LazyTicket

BillStatus = strawberry.enum(
    models.BillStatus,
    name="BillStatus",
    description="NON_BILLABLE, BILLABLE (not invoiced yet) or BILLED (invoiced: frozen).",
)


@strawberry.enum
class TimeDimension(Enum):
    AGENT = "AGENT"
    ORGANIZATION = "ORGANIZATION"
    TICKET = "TICKET"
    DAY = "DAY"


@strawberry.type(description="Minutes an agent spent on a ticket.")
class TimeEntry(Node):
    minutes: int
    billable: bool
    note: str | None
    worked_on: datetime = strawberry.field(description="The day the work was done (midnight UTC).")
    created_at: datetime
    bill_status: BillStatus
    hourly_rate_cents: int | None = strawberry.field(
        description="The agent's hourly rate when the entry was logged (0 if none was set); "
        "later rate changes do not alter it."
    )
    cost_cents: int = strawberry.field(
        description="minutes x hourlyRateCents / 60, rounded half up."
    )
    invoice_ref: str | None = strawberry.field(description="The invoice that billed the entry.")
    billed_at: datetime | None
    ticket: LazyTicket = related(tickets.tickets_by_id, key="ticket_id")
    agent: User = related(people.users_by_id, key="agent_id")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, time_tracking.TimeEntryRow)


@strawberry.type(description="Time grouped by the dimensions asked.")
class TimeBucket:
    keys: list[str | None] = strawberry.field(
        description="The dimension values of this bucket, in the order asked (null for 'none')."
    )
    minutes: int
    billable_minutes: int = strawberry.field(description="Minutes of BILLABLE and BILLED entries.")
    entries: int

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, time_billing.TimeBucket)


@strawberry.type(description="An agent's hourly rate, captured by each entry they log.")
class HourlyRate:
    cents: int
    updated_at: datetime
    agent: User = related(people.users_by_id, key="agent_id")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, time_billing.HourlyRateRow)


# ---------------------------------------------------------------- inputs and payloads


@strawberry.input
class LogTimeInput:
    ticket_id: strawberry.ID
    minutes: int = strawberry.field(description="1 to 1440.")
    billable: bool | None = strawberry.field(default=None, description="False when omitted.")
    note: str | None = None
    worked_on: datetime | None = strawberry.field(
        default=None, description="The day (its UTC date counts); today when omitted; not future."
    )


@strawberry.input(description="Only the fields given change; a null note clears it.")
class UpdateTimeEntryInput:
    id: strawberry.ID
    minutes: int | None = strawberry.UNSET
    billable: bool | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    worked_on: datetime | None = strawberry.UNSET


@strawberry.input
class DeleteTimeEntryInput:
    id: strawberry.ID


@strawberry.input
class SetHourlyRateInput:
    agent_id: strawberry.ID
    cents: int = strawberry.field(description="Cents an hour, 0 to 10,000,000.")


@strawberry.input
class MarkBilledInput:
    entry_ids: list[strawberry.ID]
    invoice_ref: str = strawberry.field(description="The invoice's reference (100 characters).")


@payload
class TimeEntryPayload:
    time_entry: TimeEntry | None = None


@payload
class DeleteTimeEntryPayload:
    deleted_time_entry_id: strawberry.ID | None = None
    ticket: LazyTicket | None = None


@payload
class HourlyRatePayload:
    hourly_rate: HourlyRate | None = None


@payload
class MarkBilledPayload:
    time_entries: list[TimeEntry] | None = None


# ---------------------------------------------------------------- root fields


@strawberry.type
class TimeTrackingQuery:
    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description=(
            "Minutes logged, grouped by the dimensions asked (keys in that order: AGENT and "
            "ORGANIZATION are global ids, TICKET the ticket number, DAY YYYY-MM-DD). `from` and "
            "`to` bound workedOn, both inclusive. Most minutes first."
        ),
    )
    async def time_stats(
        self,
        info: strawberry.Info,
        group_by: list[TimeDimension],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        billable: bool | None = None,
    ) -> list[TimeBucket] | None:
        return await time_billing.time_stats(
            info.context, [d.value for d in group_by], from_, to, billable
        )


@strawberry.type
class TimeTrackingMutation:
    @mutation(TimeEntryPayload, description="Agents and admins: log minutes spent on a ticket.")
    async def log_time(self, info: strawberry.Info, input: LogTimeInput) -> TimeEntryPayload:
        entry = await time_tracking.log_time(
            info.context,
            ticket_id=input.ticket_id,
            minutes=input.minutes,
            billable=input.billable,
            note=input.note,
            worked_on=input.worked_on,
        )
        return TimeEntryPayload(time_entry=entry)

    @mutation(
        TimeEntryPayload,
        description="Change an own entry (admins: any) until it is billed.",
    )
    async def update_time_entry(
        self, info: strawberry.Info, input: UpdateTimeEntryInput
    ) -> TimeEntryPayload:
        changes = plain(input, time_tracking.TimeEntryChanges)
        entry = await time_tracking.update_time_entry(info.context, changes)
        return TimeEntryPayload(time_entry=entry)

    @mutation(
        DeleteTimeEntryPayload,
        description="Delete an own entry (admins: any) until it is billed.",
    )
    async def delete_time_entry(
        self, info: strawberry.Info, input: DeleteTimeEntryInput
    ) -> DeleteTimeEntryPayload:
        deleted = await time_tracking.delete_time_entry(info.context, input.id)
        return DeleteTimeEntryPayload(deleted_time_entry_id=deleted.entry_id, ticket=deleted.ticket)

    @mutation(
        HourlyRatePayload,
        description="Admins: set a staff member's hourly rate for new entries.",
    )
    async def set_hourly_rate(
        self, info: strawberry.Info, input: SetHourlyRateInput
    ) -> HourlyRatePayload:
        rate = await time_billing.set_hourly_rate(
            info.context, agent_id=input.agent_id, cents=input.cents
        )
        return HourlyRatePayload(hourly_rate=rate)

    @mutation(
        MarkBilledPayload,
        description="Admins: mark BILLABLE entries BILLED on an invoice, all of them or none.",
    )
    async def mark_billed(self, info: strawberry.Info, input: MarkBilledInput) -> MarkBilledPayload:
        entries = await time_billing.mark_billed(
            info.context, entry_ids=input.entry_ids, invoice_ref=input.invoice_ref
        )
        return MarkBilledPayload(time_entries=entries)
