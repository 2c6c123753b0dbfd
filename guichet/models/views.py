"""Saved views: named ticket lists (a filter, an order, columns) for one agent, a group or
every agent; the built-in ones exist from the start and can be hidden, not deleted."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ViewScope(StrEnum):
    PERSONAL = "PERSONAL"
    GROUP = "GROUP"
    SHARED = "SHARED"


class View(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    scope = fields.CharEnumField(ViewScope, max_length=8)
    # PERSONAL: whose; GROUP/SHARED: who made it (null for the built-in ones).
    owner = fields.ForeignKeyField(
        "models.User", related_name="views", null=True, on_delete=fields.CASCADE
    )
    group = fields.ForeignKeyField(
        "models.Group", related_name="views", null=True, on_delete=fields.CASCADE
    )
    # The built-in views' stable key ("my_open", "unassigned", ...); null for the others.
    built_in = fields.CharField(max_length=32, null=True, unique=True)
    # JSON: the TicketFilter input, the sort ([{field, direction}]) and the column names.
    ticket_filter = fields.TextField()
    sort = fields.TextField()
    columns = fields.TextField()
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "view"


class ViewPreference(Model):
    """One agent's place for, or hiding of, a view they share with others."""

    id = fields.IntField(primary_key=True)
    view = fields.ForeignKeyField(
        "models.View", related_name="preferences", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField(
        "models.User", related_name="view_preferences", on_delete=fields.CASCADE
    )
    hidden = fields.BooleanField(default=False)
    position = fields.IntField(null=True)

    class Meta:
        table = "view_preference"
        unique_together = (("view", "user"),)
