"""The mail log: every e-mail received or sent, with what became of it.

An inbound message that was acted on holds its Message-ID in `accepted_message_id`
(unique): a second delivery of the same message finds it taken and changes nothing, even
when both arrive at the same instant. Ignored messages (duplicates, auto-replies, refusals)
are logged with a reason and leave that column empty. An outbound message is logged when
it is queued in the outbox (`outbox_id`) and follows its delivery's status.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class MailDirection(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class MailStatus(StrEnum):
    RECEIVED = "RECEIVED"
    IGNORED = "IGNORED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    LOGGED = "LOGGED"


class MailMessage(Model):
    id = fields.BigIntField(primary_key=True)
    direction = fields.CharEnumField(MailDirection, max_length=8)
    status = fields.CharEnumField(MailStatus, max_length=8)
    message_id = fields.CharField(max_length=500, db_index=True)
    accepted_message_id = fields.CharField(max_length=500, null=True, unique=True)
    in_reply_to = fields.CharField(max_length=500, null=True)
    # The References header, as received or sent (ids separated by spaces).
    references = fields.TextField(null=True)
    from_address = fields.CharField(max_length=500)
    # JSON lists of addresses.
    to_addresses = fields.TextField()
    cc_addresses = fields.TextField()
    subject = fields.CharField(max_length=500)
    reason = fields.CharField(max_length=500, null=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="mail_messages", null=True, on_delete=fields.SET_NULL
    )
    comment_id = fields.IntField(null=True)
    outbox_id = fields.BigIntField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "mail_message"
        indexes = (("ticket", "id"), ("direction", "id"))
