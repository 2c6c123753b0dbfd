"""What admins change: the help desk's settings, and the audit trail of every change to a
person or a setting."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class HelpCenterSettings(Model):
    """The settings admins change at run time: one row (id 1). A column left null takes the
    environment's default (GUICHET_*), so a deployment's variables stay the defaults."""

    id = fields.IntField(primary_key=True)
    help_center_name = fields.CharField(max_length=200, null=True)
    support_email = fields.CharField(max_length=254, null=True)
    time_zone = fields.CharField(max_length=64, null=True)
    agents_use_portal = fields.BooleanField(null=True)
    sign_up_open = fields.BooleanField(null=True)
    csat_enabled = fields.BooleanField(null=True)
    csat_window_days = fields.IntField(null=True)
    auto_close_solved_after_days = fields.IntField(null=True)
    # Counted up on every change: processes compare it to know their copy is stale.
    version = fields.IntField(default=0)
    updated_by = fields.ForeignKeyField(
        "models.User", related_name="settings_changes", null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "help_center_settings"


class AuditEntry(Model):
    """One change to a person, an organization, a group, a custom field, a view or the
    settings: who (and through whose impersonation), when, what, from what to what."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.ForeignKeyField(
        "models.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    impersonator = fields.ForeignKeyField(
        "models.User", related_name="impersonated_audit_entries", null=True,
        on_delete=fields.SET_NULL,
    )  # fmt: skip
    # e.g. "user.updated", "user.deactivated", "ownership.transferred", "settings.updated"
    action = fields.CharField(max_length=64)
    # The Node type and primary key of what changed (none for the settings).
    target_type = fields.CharField(max_length=32, null=True)
    target_id = fields.IntField(null=True)
    # JSON: {"field": [before, after], ...} or what the action needs to say.
    changes = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_entry"
        indexes = (("target_type", "target_id", "id"),)
