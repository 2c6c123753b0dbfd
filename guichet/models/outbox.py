"""The outbox: messages to send (e-mail, SMS), written in the transaction of the change
that causes them and delivered by the worker, so a crash loses none and a retry sends
none twice."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    # No gateway configured: kept here and written to the log instead of sent.
    LOGGED = "LOGGED"
    FAILED = "FAILED"


class OutboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    channel = fields.CharEnumField(OutboxChannel, max_length=8)
    recipient = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=250, default="")
    body = fields.TextField()
    # E-mail only: JSON of the headers a ticket's mail carries (From's name, Reply-To,
    # Message-ID, In-Reply-To, References, Cc); null for plain notices.
    headers = fields.TextField(null=True)
    status = fields.CharEnumField(OutboxStatus, max_length=8, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    # A worker that claims a message holds it until then; after, another may retry it.
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "outbox_message"
