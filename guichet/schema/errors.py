"""The UserError type that every mutation payload carries."""

from __future__ import annotations

import strawberry

from guichet.resolvers import errors


@strawberry.type(description="A business-rule or validation failure of a mutation.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Input field path the error is about, if any (e.g. ["input", "status"]).'
    )
    message: str
    code: str = strawberry.field(
        description="Stable machine code, e.g. APPROVAL_PENDING, INVALID_TRANSITION, TICKET_CLOSED."
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, (errors.UserError, cls))
