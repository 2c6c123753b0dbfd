"""Enums of tickets, shared by the ticket, comment and history types."""

from __future__ import annotations

from enum import Enum

import strawberry

from guichet.models import tickets as models

TicketStatus = strawberry.enum(models.TicketStatus, name="TicketStatus")
TicketType = strawberry.enum(models.TicketType, name="TicketType")
TicketPriority = strawberry.enum(models.TicketPriority, name="TicketPriority")
Channel = strawberry.enum(
    models.Channel, name="Channel", description="How something entered the system."
)
CustomFieldType = strawberry.enum(models.CustomFieldType, name="CustomFieldType")
FieldVisibility = strawberry.enum(models.FieldVisibility, name="FieldVisibility")
TicketEventKind = strawberry.enum(models.TicketEventKind, name="TicketEventKind")


@strawberry.enum
class TicketSortField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    STATUS = "STATUS"
    NUMBER = "NUMBER"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum(description="The order of a ticket's comments.")
class CommentOrder(Enum):
    NEWEST_FIRST = "NEWEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"
