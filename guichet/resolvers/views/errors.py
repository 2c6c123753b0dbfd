"""The codes a view mutation answers with."""

from enum import StrEnum


class ViewErrorCode(StrEnum):
    INVALID_FILTER = "INVALID_FILTER"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    # The viewer's role or membership does not allow this scope or this change.
    NOT_ALLOWED = "NOT_ALLOWED"
    BUILT_IN = "BUILT_IN"
    GROUP_REQUIRED = "GROUP_REQUIRED"
