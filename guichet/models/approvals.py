"""Approval requests: an agent asks approvers (agents or customers) to decide."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    WITHDRAWN = "WITHDRAWN"


class ApprovalRequest(Model):
    id = fields.IntField(primary_key=True)
    ticket = fields.ForeignKeyField(
        "models.Ticket", related_name="approval_requests", on_delete=fields.CASCADE
    )
    subject = fields.CharField(max_length=250)
    message = fields.TextField()
    status = fields.CharEnumField(
        ApprovalStatus, max_length=16, default=ApprovalStatus.PENDING, db_index=True
    )
    created_by = fields.ForeignKeyField(
        "models.User", related_name="approval_requests_made", on_delete=fields.RESTRICT
    )
    decided_by = fields.ForeignKeyField(
        "models.User", related_name="approval_decisions", null=True, on_delete=fields.SET_NULL
    )
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "approval_request"

    def is_final(self) -> bool:
        return self.status is not ApprovalStatus.PENDING


class ApprovalApprover(Model):
    id = fields.IntField(primary_key=True)
    request = fields.ForeignKeyField(
        "models.ApprovalRequest", related_name="approvers", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField(
        "models.User", related_name="approvals_to_decide", on_delete=fields.CASCADE
    )

    class Meta:
        table = "approval_approver"
        unique_together = (("request", "user"),)


class ApprovalComment(Model):
    id = fields.IntField(primary_key=True)
    request = fields.ForeignKeyField(
        "models.ApprovalRequest", related_name="comments", on_delete=fields.CASCADE
    )
    author = fields.ForeignKeyField(
        "models.User", related_name="approval_comments", on_delete=fields.RESTRICT
    )
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "approval_comment"
