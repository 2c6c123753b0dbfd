"""Attachments: files that came with a ticket or one of its comments.

Files are sent with createTicket and addComment by the GraphQL multipart request spec
(server/uploads.py) and downloaded from `url` (server/attachments.py) with the same bearer
token, by whoever may see what they belong to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ForwardRef

import strawberry
from strawberry.file_uploads import Upload

from guichet.resolvers.tickets import attachments, comments
from guichet.schema.fields import related
from guichet.schema.relay import Node

__all__ = ["Attachment", "Upload"]

LazyComment = Annotated[ForwardRef("Comment"), strawberry.lazy("guichet.schema.comments")]


@strawberry.type(description="A file attached to a ticket or a comment.")
class Attachment(Node):
    filename: str
    content_type: str
    size: int
    sha256: str = strawberry.field(description="SHA-256 of the content, hex.")
    url: str = strawberry.field(
        description="Authenticated download URL: GET it with the same bearer token."
    )
    created_at: datetime
    comment: LazyComment | None = related(
        comments.comments_by_id,
        key="comment_id",
        description="The comment it came with (null: attached to the ticket itself).",
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, attachments.AttachmentRow)
