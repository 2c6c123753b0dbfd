"""SQL for the leaves of an answer PostgreSQL writes (answers.py): each value as the JSON
Python would write for it, and the table facts the compiler reads (columns, node types)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson
from graphql import GraphQLEnumType

from guichet.resolvers import ids, sql
from guichet.resolvers.sql.values import as_bool, as_datetime

# Where the answer may hold no null but the database gave one, the statement writes this
# JSON string instead (PostgreSQL text cannot hold a NUL character, so no value can look
# like it), and the request runs in Python, which reports the error.
MISSING = '"\\u0000"'
MISSING_SQL = "'\"\\u0000\"'::json"
TEXT_LEAVES = {"String", "ID"}  # GraphQL leaves written as text


class Unsupported(Exception):
    """Something in the plan is not compiled: the plan runs in Python."""


def encoded(type_name: str, number_sql: str) -> str:
    """`ids.encode(type_name, n)` in SQL: url-safe base64 of "Type:n" without padding (no
    line breaks: base64 breaks lines every 57 bytes, and ids are shorter)."""
    return (
        f"rtrim(translate(encode(convert_to('{type_name}:' || ({number_sql})::text, 'UTF8'),"
        " 'base64'), '+/', '-_'), '=')"
    )


def isoformat(column: str) -> str:
    """`datetime.isoformat()` of a timestamptz, in UTC."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
        f" EXTRACT(MICROSECONDS FROM {column})::bigint % 1000000 = 0 THEN ''"
        f" ELSE to_char({utc}, '.US') END || '+00:00')"
    )


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_literal(value: Any) -> str:
    return literal(orjson.dumps(value).decode()) + "::json"


def quoted(name: str) -> str:
    return f'"{name}"'


def encoded_tokens(type_name: str, number: list) -> list:
    """`encoded` around tokens (slots included)."""
    head, tail = encoded(type_name, "\x00").split("\x00")
    return [head, *number, tail]


def columns_of(table: sql.Table) -> dict[str, tuple[str, Any]]:
    """Attribute → (column, converter) of a table's row type (the builder is positional)."""
    found = getattr(table, "_attributes", None)
    if found is None:
        found = {
            f.name: (column, table.converters[column])
            for f, column in zip(dataclasses.fields(table.type), table.names, strict=False)
        }
        table._attributes = found
    return found


def node_type(row_type: type) -> str | None:
    """The type name a row's `id` property encodes (it must be ids.encode(name, pk))."""
    if not isinstance(getattr(row_type, "id", None), property):
        return None
    probe = object.__new__(row_type)
    try:
        probe.pk = 987_654_321
        decoded = ids.decode(probe.id)
    except Exception:
        return None
    if decoded is None or decoded[1] != 987_654_321:
        return None
    return decoded[0] if ids.encode(decoded[0], 987_654_321) == probe.id else None


def leaf(column: str, convert: Any, gtype: Any) -> str:
    """A column's value as the JSON Python writes for its GraphQL leaf type."""
    inner = getattr(convert, "inner", None)
    optional = inner is not None
    convert = inner if optional else convert
    name = gtype.name
    if convert is None and name in TEXT_LEAVES:
        return f"to_json(({column})::text)"
    if (convert is None and name == "Int") or (convert is as_bool and name == "Boolean"):
        return f"to_json({column})"
    if convert is as_datetime and name == "DateTime":
        probe = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
        if gtype.serialize(probe) != probe.isoformat():
            raise Unsupported("DateTime is not isoformat")
        return f"to_json({isoformat(column)})"
    if (
        isinstance(convert, type)
        and issubclass(convert, Enum)
        and isinstance(gtype, GraphQLEnumType)
    ):
        cases = []
        for member in convert:
            if not isinstance(member.value, str):
                raise Unsupported(f"{convert.__name__} is not stored as text")
            cases.append(
                f" WHEN {literal(member.value)} THEN {json_literal(gtype.serialize(member))}"
            )
        head = f"CASE COALESCE({column}, '') WHEN '' THEN NULL" if optional else f"CASE {column}"
        return f"{head}{''.join(cases)} ELSE {MISSING_SQL} END"
    raise Unsupported(f"a {name} leaf from {convert!r}")
