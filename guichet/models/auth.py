"""Sign-in state: sessions behind bearer tokens, and failed attempts for throttling."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Session(Model):
    """One signed-in device. A token names its session; revoking the row ends the token."""

    id = fields.CharField(max_length=32, primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "session"


class LoginFailure(Model):
    """One failed sign-in. Rows are only inserted (never counted up in place), so
    concurrent failures from several processes are all kept."""

    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254)
    failed_at = fields.DatetimeField()

    class Meta:
        table = "login_failure"
        indexes = (("email", "failed_at"),)
