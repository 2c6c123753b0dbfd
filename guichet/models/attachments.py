"""Attachments: files that came with a ticket or one of its comments.

The bytes live in the file store (models/storage.py), once per SHA-256; a row here says
which ticket and comment a file belongs to, under which (sanitised) name. Who may download
it follows from that comment: an internal note's files are staff-only, like the note.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Attachment(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="attachments", on_delete=fields.CASCADE
    )
    # Null: attached to the ticket itself (its description), visible with the ticket.
    comment = fields.ForeignKeyField(
        "models.Comment", related_name="attachments", null=True, on_delete=fields.CASCADE
    )
    uploader = fields.ForeignKeyField(
        "models.User", related_name="uploads", null=True, on_delete=fields.SET_NULL
    )
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=200)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachment"
        indexes = (("ticket", "id"), ("comment", "id"))
