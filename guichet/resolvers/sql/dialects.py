"""Running text on Tortoise's connection: PostgreSQL's `$n` as it is, SQLite's `?` in order."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from guichet.models.db import db

_PLACEHOLDER = re.compile(r"\$(\d+)")


def _for_sqlite(statement: str) -> tuple[str, tuple[int, ...]]:
    order = tuple(int(m[1]) - 1 for m in _PLACEHOLDER.finditer(statement))
    return _PLACEHOLDER.sub("?", statement), order


def _sqlite_value(value: Any) -> Any:
    # Tortoise stores SQLite datetimes as ISO text; compare like with like.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(" ")
    if isinstance(value, bool):
        return int(value)
    return value


def _prepared(text: str, dialect: str) -> tuple[str, tuple[int, ...] | None]:
    """The text for the dialect, and for SQLite the order its `?` take the values in."""
    return _for_sqlite(text) if dialect == "sqlite" else (text, None)


def _ordered(params: list[Any], order: tuple[int, ...] | None) -> list[Any]:
    if order is None:
        return params
    return [_sqlite_value(params[i]) for i in order]


async def fetch(text: str, *params: Any) -> list[dict[str, Any]]:
    """Run a read written as PostgreSQL text (`$n`); prefer a composed Statement."""
    connection = db()
    text, order = _prepared(text, connection.capabilities.dialect)
    return await connection.execute_query_dict(text, _ordered(list(params), order))


async def execute(text: str, *params: Any) -> int:
    """Run a write written as PostgreSQL text (`$n`); prefer a composed Statement."""
    connection = db()
    text, order = _prepared(text, connection.capabilities.dialect)
    count, _ = await connection.execute_query(text, _ordered(list(params), order))
    return count


def dialect() -> str:
    """The database's dialect: "postgres" or "sqlite"."""
    return db().capabilities.dialect
