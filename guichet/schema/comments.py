"""Comments: public replies and internal notes."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.resolvers.people import people
from guichet.resolvers.tickets import attachments, comments
from guichet.schema.attachments import Attachment, Upload
from guichet.schema.fields import related
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User
from guichet.schema.relay import Node
from guichet.schema.ticket_enums import Channel
from guichet.schema.ticket_ref import LazyTicket


@strawberry.type(description="A reply or an internal note on a ticket.")
class Comment(Node):
    body: str
    public: bool = strawberry.field(
        description="False for internal notes: never visible to end users."
    )
    via: Channel
    created_at: datetime
    author: User = related(people.users_by_id, key="author_id")
    attachments: list[Attachment] = related(
        attachments.attachments_by_comment, key="pk", description="Files sent with the comment."
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, comments.CommentRow)


@strawberry.input
class AddCommentInput:
    ticket_id: strawberry.ID
    body: str
    public: bool | None = strawberry.field(
        default=None, description="Defaults to true; end users can only write public comments."
    )
    attachments: list[Upload] | None = strawberry.field(
        default=None,
        description="Files sent as parts of a multipart request (GraphQL multipart request spec).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retrying with the same key returns the first result instead of commenting twice.",
    )


@payload
class CommentPayload:
    comment: Comment | None = None
    ticket: LazyTicket | None = None


@strawberry.type
class CommentMutation:
    @mutation(
        CommentPayload,
        description=(
            "Reply publicly or add an internal note. End users write public replies only and "
            "reopen a solved ticket by replying; light agents write internal notes only. "
            'Mentions notify staff (MENTIONED): `@email` (the exact address), `@"Full Name"` '
            "or `@Full Name` (a whole staff name, any case, the longest that matches), at the "
            "start of a word; never the author, once per comment; `@` an end user notifies "
            "nobody."
        ),
    )
    async def add_comment(self, info: strawberry.Info, input: AddCommentInput) -> CommentPayload:
        comment, ticket = await comments.add_comment(
            info.context,
            ticket_id=input.ticket_id,
            body=input.body,
            public=input.public,
            idempotency_key=input.idempotency_key,
            attachments=input.attachments,
        )
        return CommentPayload(comment=comment, ticket=ticket)
