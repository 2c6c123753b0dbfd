"""Sign-in state: sessions behind bearer tokens, and the throttle of password checks per address."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Session(Model):
    """One signed-in device. A token names its session; revoking the row ends the token."""

    id = fields.CharField(max_length=32, primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    # Indexed: every process polls for sessions revoked since its last look.
    revoked_at = fields.DatetimeField(null=True, db_index=True)
    # An impersonation: the admin who acts as `user` through this session, and why.
    impersonator = fields.ForeignKeyField(
        "models.User", related_name="impersonations", null=True, on_delete=fields.CASCADE
    )
    reason = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "session"


class LoginThrottle(Model):
    """Password checks for one address in its current window.

    A sign-in takes a slot (`attempts + 1`) with one conditional upsert *before* the
    password is checked, and only while fewer than MAX_FAILURES slots are taken: the row
    lock (PostgreSQL) or the single writer (SQLite) makes that exact under any number of
    concurrent requests and processes. A success deletes the row; a failure keeps its slot.
    """

    email = fields.CharField(max_length=254, primary_key=True)
    attempts = fields.IntField()
    window_started_at = fields.DatetimeField()

    class Meta:
        table = "login_throttle"


class PasswordReset(Model):
    """A mailed reset link: only the SHA-256 of its token is kept; used once, within the hour."""

    token_hash = fields.CharField(max_length=64, primary_key=True)
    user = fields.ForeignKeyField(
        "models.User", related_name="password_resets", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_reset"


class SignUpRequest(Model):
    """A mailed sign-up link: the account is made only when the address's owner follows it.
    Only the SHA-256 of its token is kept. A mail that told an address it already has an
    account is a row too (used at once): it counts toward the one-mail-per-address limit."""

    token_hash = fields.CharField(max_length=64, primary_key=True)
    email = fields.CharField(max_length=254, db_index=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sign_up_request"
