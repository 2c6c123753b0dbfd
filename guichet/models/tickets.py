"""Tickets and what hangs off them: comments, CCs, tags, custom fields and history.

Invariants about a ticket's own data live here (which status may follow which, SOLVED
needs an assignee); rules that look elsewhere (pending approvals) live in resolvers.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class TicketStatus(StrEnum):
    NEW = "NEW"
    OPEN = "OPEN"
    PENDING = "PENDING"
    ON_HOLD = "ON_HOLD"
    SOLVED = "SOLVED"
    CLOSED = "CLOSED"


class TicketType(StrEnum):
    QUESTION = "QUESTION"
    INCIDENT = "INCIDENT"
    PROBLEM = "PROBLEM"
    TASK = "TASK"


class TicketPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class Channel(StrEnum):
    WEB = "WEB"
    PORTAL = "PORTAL"
    EMAIL = "EMAIL"
    API = "API"
    RULE = "RULE"
    SYSTEM = "SYSTEM"


# NEW is only ever the first status; CLOSED is final and follows SOLVED only.
ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(
        {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED}
    ),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.ON_HOLD, TicketStatus.SOLVED}),
    TicketStatus.ON_HOLD: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.SOLVED: frozenset(
        {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.CLOSED}
    ),
    TicketStatus.CLOSED: frozenset(),
}


class Ticket(Model):
    id = fields.IntField(primary_key=True)
    number = fields.IntField(unique=True)
    subject = fields.CharField(max_length=250)
    description = fields.TextField()
    status = fields.CharEnumField(
        TicketStatus, max_length=16, default=TicketStatus.NEW, db_index=True
    )
    type = fields.CharEnumField(TicketType, max_length=16, null=True)
    priority = fields.CharEnumField(TicketPriority, max_length=16, null=True)
    via = fields.CharEnumField(Channel, max_length=16)
    requester = fields.ForeignKeyField(
        "models.User", related_name="requested_tickets", on_delete=fields.RESTRICT
    )
    submitter = fields.ForeignKeyField(
        "models.User", related_name="submitted_tickets", on_delete=fields.RESTRICT
    )
    assignee = fields.ForeignKeyField(
        "models.User", related_name="assigned_tickets", null=True, on_delete=fields.SET_NULL
    )
    group = fields.ForeignKeyField(
        "models.Group", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    organization = fields.ForeignKeyField(
        "models.Organization", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    follow_up_of = fields.ForeignKeyField(
        "models.Ticket", related_name="follow_ups", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)
    solved_at = fields.DatetimeField(null=True)
    # When staff first replied publicly: response times read it instead of every comment.
    first_reply_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ticket"
        # Stats, views and the dashboard group and filter by these. With the status beside
        # the assignee, each agent's "My open tickets" is counted from the index alone (200
        # agents' view counts: 49 ms against 1,061 ms; bench/RESULTS.md).
        indexes = (("assignee_id", "status"), ("group_id",), ("organization_id",))

    def transition_error(self, new_status: TicketStatus, *, assignee_id: int | None) -> str | None:
        """Why this ticket cannot move to `new_status` on its own data, or None."""
        if self.status is TicketStatus.CLOSED:
            return "TICKET_CLOSED"
        if new_status == self.status:
            return None
        if new_status not in ALLOWED_TRANSITIONS[self.status]:
            return "INVALID_TRANSITION"
        if new_status in (TicketStatus.SOLVED, TicketStatus.CLOSED) and assignee_id is None:
            return "ASSIGNEE_REQUIRED"
        return None


class TicketCounter(Model):
    """The last ticket number handed out, counted up atomically in the creating transaction."""

    id = fields.IntField(primary_key=True)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "ticket_counter"


class TicketCc(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField("models.Ticket", related_name="ccs", on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name="cc_on", on_delete=fields.CASCADE)

    class Meta:
        table = "ticket_cc"
        unique_together = (("ticket", "user"),)


class TicketTag(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField("models.Ticket", related_name="tags", on_delete=fields.CASCADE)
    tag = fields.CharField(max_length=80, db_index=True)

    class Meta:
        table = "ticket_tag"
        unique_together = (("ticket", "tag"),)


class CustomFieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    CHECKBOX = "CHECKBOX"
    DROPDOWN = "DROPDOWN"
    DATE = "DATE"


class FieldVisibility(StrEnum):
    AGENTS_ONLY = "AGENTS_ONLY"
    PUBLIC = "PUBLIC"


class CustomField(Model):
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200)
    type = fields.CharEnumField(CustomFieldType, max_length=16)
    visibility = fields.CharEnumField(FieldVisibility, max_length=16)
    options = fields.JSONField(null=True)
    required_for_end_users = fields.BooleanField(default=False)
    # Deactivated: kept on old tickets, gone from forms. Forms list fields by position.
    active = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "custom_field"


class CustomFieldValue(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="field_values", on_delete=fields.CASCADE
    )
    field = fields.ForeignKeyField(
        "models.CustomField", related_name="values", on_delete=fields.CASCADE
    )
    # JSON text, encoded by the resolvers: Tortoise's JSONField cannot hold a bare string.
    value = fields.TextField(null=True)

    class Meta:
        table = "custom_field_value"
        unique_together = (("ticket", "field"),)


class Comment(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="comments", on_delete=fields.CASCADE
    )
    author = fields.ForeignKeyField(
        "models.User", related_name="comments", on_delete=fields.RESTRICT
    )
    body = fields.TextField()
    # False for internal notes, which end users never see.
    public = fields.BooleanField()
    via = fields.CharEnumField(Channel, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "comment"
        indexes = (("ticket", "created_at"),)


class TicketEventKind(StrEnum):
    CREATED = "CREATED"
    FIELD_CHANGED = "FIELD_CHANGED"
    COMMENT_ADDED = "COMMENT_ADDED"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_COMMENTED = "APPROVAL_COMMENTED"
    APPROVAL_APPROVED = "APPROVAL_APPROVED"
    APPROVAL_DENIED = "APPROVAL_DENIED"
    APPROVAL_WITHDRAWN = "APPROVAL_WITHDRAWN"
    ACTIVITY_ADDED = "ACTIVITY_ADDED"
    ACTIVITY_COMPLETED = "ACTIVITY_COMPLETED"
    TIME_LOGGED = "TIME_LOGGED"
    RESOLUTION_SET = "RESOLUTION_SET"
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED"
    NOTIFICATION_SENT = "NOTIFICATION_SENT"
    SATISFACTION_RATED = "SATISFACTION_RATED"
    FOLLOW_UP_CREATED = "FOLLOW_UP_CREATED"
    CC_ADDED = "CC_ADDED"
    RULE_APPLIED = "RULE_APPLIED"


class TicketEvent(Model):
    """One immutable entry of a ticket's history, written in the transaction of the change."""

    id = fields.BigIntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(TicketEventKind, max_length=32)
    actor = fields.ForeignKeyField(
        "models.User", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    via = fields.CharEnumField(Channel, max_length=16)
    field = fields.CharField(max_length=64, null=True)
    # JSON text, encoded by the resolvers: Tortoise's JSONField cannot hold a bare string.
    previous_value = fields.TextField(null=True)
    new_value = fields.TextField(null=True)
    data = fields.TextField(null=True)
    public = fields.BooleanField()
    # The approval request an APPROVAL_* event is about: its approvers may see the event.
    approval_request_id = fields.IntField(null=True, db_index=True)
    # The admin acting as `actor` through an impersonation token, if one was.
    impersonator = fields.ForeignKeyField(
        "models.User", related_name="impersonated_events", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ticket_event"
        indexes = (("ticket", "id"),)


class IdempotencyKey(Model):
    """A client's retry key: the same key from the same user within 24 hours answers
    the first result instead of writing twice."""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField(
        "models.User", related_name="idempotency_keys", on_delete=fields.CASCADE
    )
    operation = fields.CharField(max_length=32)
    key = fields.CharField(max_length=200)
    result_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("user", "operation", "key"),)
