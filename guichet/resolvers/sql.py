"""Reads as SQL on Tortoise's own connection, for lists that must not build models.

Statements are written once with PostgreSQL's `$1` placeholders; SQLite gets them
rewritten to `?` (cached), so each query has one text for both databases.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import ciso8601
import orjson

from guichet.models.db import db

_PLACEHOLDER = re.compile(r"\$\d+")


@lru_cache(maxsize=512)
def _for_sqlite(statement: str) -> tuple[str, tuple[int, ...]]:
    order = tuple(int(m.group()[1:]) - 1 for m in _PLACEHOLDER.finditer(statement))
    return _PLACEHOLDER.sub("?", statement), order


def _sqlite_value(value: Any) -> Any:
    # Tortoise stores SQLite datetimes as ISO text; compare like with like.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(" ")
    if isinstance(value, bool):
        return int(value)
    return value


async def fetch(statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run a read and return its rows as dicts."""
    connection = db()
    if connection.capabilities.dialect == "sqlite":
        text, order = _for_sqlite(statement)
        values = [_sqlite_value(params[i]) for i in order]
        return await connection.execute_query_dict(text, values)
    return await connection.execute_query_dict(statement, list(params))


async def execute(statement: str, *params: Any) -> int:
    """Run a write; returns the number of rows it touched."""
    connection = db()
    if connection.capabilities.dialect == "sqlite":
        text, order = _for_sqlite(statement)
        count, _ = await connection.execute_query(text, [_sqlite_value(params[i]) for i in order])
        return count
    count, _ = await connection.execute_query(statement, list(params))
    return count


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


def as_bool(value: Any) -> bool:
    return bool(value)


def placeholders(count: int, start: int = 1) -> str:
    """`$1, $2, …` for an IN list of `count` values."""
    return ", ".join(f"${i}" for i in range(start, start + count))
