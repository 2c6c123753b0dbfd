"""Notifications: what a user should know, kept so that a bell menu lists it after a reload
and a reconnecting client replays what it missed.

A row is written in the transaction of the change it tells of; only its id is published,
after the commit (see resolvers/history.Changes.notify).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField(
        "models.User", related_name="notifications", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=64)
    message = fields.TextField()
    # What it is about: plain ids (no foreign keys), read through the viewer's visibility,
    # so a notification outlives nothing it names and never widens what its reader sees.
    ticket_id = fields.IntField(null=True)
    approval_request_id = fields.IntField(null=True)
    activity_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Null while unread.
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        # "The viewer's notifications, newest first" (and replay after an id) walks the
        # first; "unread count" and "unread ones, newest first" the second.
        indexes = (("user", "id"), ("user", "read_at", "id"))
