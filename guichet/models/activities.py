"""Activities on a ticket (tasks, calls, events) and their reminders."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ActivityKind(StrEnum):
    TASK = "TASK"
    CALL = "CALL"
    EVENT = "EVENT"


class ReminderChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    POPUP = "POPUP"


class Activity(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="activities", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ActivityKind, max_length=8)
    subject = fields.CharField(max_length=250)
    description = fields.TextField(null=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="activities", on_delete=fields.RESTRICT
    )
    created_by = fields.ForeignKeyField(
        "models.User", related_name="activities_created", on_delete=fields.RESTRICT
    )
    due_at = fields.DatetimeField(null=True, db_index=True)
    remind_at = fields.DatetimeField(null=True)
    # Comma-separated ReminderChannel values ("" when there is no reminder).
    reminder_channels = fields.CharField(max_length=32, default="")
    # Set by the worker that sent the reminder: a reminder is sent once.
    reminded_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "activity"
        indexes = (("reminded_at", "remind_at"),)
