"""Column values as rows hold them, and values as statements take them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ciso8601
import orjson


def as_datetime(value: Any) -> datetime | None:
    """A timestamp column as an aware datetime, whichever database returned it."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    parsed = ciso8601.parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def json_text(value: Any) -> str | None:
    """A value for a Tortoise JSONField. Tortoise takes a str as JSON text already encoded,
    so every value (strings included) goes in encoded; None stays SQL NULL."""
    return None if value is None else orjson.dumps(value).decode()


def as_json(value: Any) -> Any:
    """A JSON column's value: asyncpg and SQLite hand it back as text."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def as_bool(value: Any) -> bool:
    return bool(value)


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching `text` anywhere, its %, _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert`, for a nullable column whose empty values (NULL, '') read as None."""

    def converted(value: Any) -> Any:
        return convert(value) if value else None

    converted.inner = convert  # type: ignore[attr-defined]  # what the value becomes, for SQL
    return converted
