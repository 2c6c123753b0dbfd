"""Resolutions of tickets, help-center articles, and satisfaction ratings."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Article(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=250)
    body = fields.TextField()
    published = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "article"


class Resolution(Model):
    """How a ticket was resolved: one per ticket, written once it is SOLVED or CLOSED."""

    id = fields.IntField(primary_key=True)
    ticket = fields.OneToOneField(
        "models.Ticket", related_name="resolution", on_delete=fields.CASCADE
    )
    body = fields.TextField()
    author = fields.ForeignKeyField(
        "models.User", related_name="resolutions", on_delete=fields.RESTRICT
    )
    article = fields.ForeignKeyField(
        "models.Article", related_name="resolutions", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "resolution"


class SatisfactionScore(StrEnum):
    GOOD = "GOOD"
    BAD = "BAD"


class SatisfactionRating(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.OneToOneField(
        "models.Ticket", related_name="satisfaction", on_delete=fields.CASCADE
    )
    score = fields.CharEnumField(SatisfactionScore, max_length=8)
    comment = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "satisfaction_rating"
