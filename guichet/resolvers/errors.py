"""How the application says no.

Expected failures of a mutation are `UserError`s returned in its payload, each with a
stable code from its domain's enum. Failures of access are top-level GraphQL errors
with `extensions.code` UNAUTHENTICATED, FORBIDDEN or NOT_FOUND. Anything else is a bug
and reaches the client masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from graphql import GraphQLError


class AccessError(GraphQLError):
    """A refusal the client must see as is (never masked)."""

    code = "FORBIDDEN"
    default_message = "You may not do this."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.default_message, extensions={"code": self.code, **details})


class Unauthenticated(AccessError):
    code = "UNAUTHENTICATED"
    default_message = "Sign in first: send 'Authorization: Bearer <token>'."


class Forbidden(AccessError):
    code = "FORBIDDEN"
    default_message = "Your role may not do this."


class NotFound(AccessError):
    code = "NOT_FOUND"
    default_message = "No such object."


class BadRequest(AccessError):
    """An argument no mutation payload can carry (a query argument out of range)."""

    code = "BAD_USER_INPUT"
    default_message = "Invalid argument."


class CommonErrorCode(StrEnum):
    """Codes any mutation may return."""

    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"


@dataclass(frozen=True, slots=True)
class UserError:
    message: str
    code: str
    field: Sequence[str] | None = None


class Refused(Exception):
    """Raised inside a rule function to abort its transaction and answer with errors."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = list(errors)


def text_error(value: str | None, path: Sequence[str], *, max_length: int) -> UserError | None:
    """The error for a required free-text input, or None when it is acceptable."""
    if value is None or not value.strip():
        return UserError(f"{path[-1]} is required.", CommonErrorCode.REQUIRED, list(path))
    if len(value) > max_length:
        return UserError(
            f"{path[-1]} is longer than {max_length} characters.",
            CommonErrorCode.TOO_LONG,
            list(path),
        )
    if "\x00" in value:  # PostgreSQL text cannot hold it
        return UserError(
            f"{path[-1]} contains a NUL character.", CommonErrorCode.INVALID, list(path)
        )
    return None
