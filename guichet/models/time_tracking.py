"""Time entries: minutes agents spent on tickets, billable or not, and hourly rates."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class BillStatus(StrEnum):
    NON_BILLABLE = "NON_BILLABLE"
    BILLABLE = "BILLABLE"
    BILLED = "BILLED"


class TimeEntry(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="time_entries", on_delete=fields.CASCADE
    )
    agent = fields.ForeignKeyField(
        "models.User", related_name="time_entries", on_delete=fields.RESTRICT
    )
    minutes = fields.IntField()
    bill_status = fields.CharEnumField(BillStatus, max_length=16, db_index=True)
    note = fields.TextField(null=True)
    worked_on = fields.DateField(db_index=True)
    # The agent's hourly rate when the entry was logged, in cents: cost never changes after.
    rate_cents = fields.IntField(default=0)
    invoice_ref = fields.CharField(max_length=100, null=True)
    billed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "time_entry"
        indexes = (("ticket_id",),)


class HourlyRate(Model):
    """An agent's hourly rate in cents, set by admins."""

    id = fields.IntField(primary_key=True)
    agent = fields.OneToOneField(
        "models.User", related_name="hourly_rate", on_delete=fields.CASCADE
    )
    cents = fields.IntField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "hourly_rate"
