"""Attachments. Uploading files is not implemented yet: lists are empty and an input that
carries files is refused (code ATTACHMENTS_NOT_SUPPORTED) rather than silently dropped."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from guichet.schema.errors import UserError
from guichet.schema.relay import Node

__all__ = ["NO_ATTACHMENTS", "Attachment", "Upload"]


@strawberry.type(description="A file attached to a ticket or a comment.")
class Attachment(Node):
    filename: str
    content_type: str
    size: int
    url: str = strawberry.field(description="Authenticated download URL.")
    created_at: datetime


# What createTicket and addComment answer while uploads are not stored.
NO_ATTACHMENTS = UserError(
    field=["input", "attachments"],
    message="Attachments are not accepted yet; send the ticket without files.",
    code="ATTACHMENTS_NOT_SUPPORTED",
)
