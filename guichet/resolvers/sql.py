"""SQL on Tortoise's own connection, for reads and writes that must not build models.

**Tables** are declared once, next to the row type they build (`sql.Table`): name, alias,
columns and how each column becomes a row attribute. A table's column list
(`TICKET.columns`) and its row builder (`TICKET.row(r)`, `TICKET.row_of(model)`) read that
one declaration.

**Statements** are composed from parts — `select(...)`, `.where(...)`, `.group(...)`,
`.order(...)`, `.page()` / `.limit()`, `statement(...)` for writes — once, at import time,
as module constants. A part writes `?` for a value: placeholders are generated, never
numbered by hand. Two parts are filled at run time and make the statement's *shape*:

- `among("t.id")`: `t.id IN (…)`, one placeholder per value of the sequence given;
- `GIVEN`: SQL text given at run time — a condition from `access` (text and parameters,
  numbered from `$1` in the condition: `access.visible_tickets_condition(viewer, "t", 1)`)
  or a chosen ORDER BY. Its placeholders are shifted to where the part sits.

`await STATEMENT.fetch(*values)` binds one value per part in text order, and runs the
statement's text for that shape: built on the first call, then taken from the statement's
cache (text and parameter order, per dialect). A request never builds SQL text again.

**Dialects.** The text is PostgreSQL's (`$n`); SQLite gets `?` with the parameters put in
order (a `$n` used twice is bound twice), and its values as Tortoise stores them
(datetimes as ISO text, booleans as 0/1). The statements keep to what both databases
read alike — `LOWER(x) LIKE` rather than `ILIKE`, `RETURNING`, `ON CONFLICT … DO UPDATE`,
`TRUE` — so placeholders are the only difference.

**Why not pypika-tortoise**, Tortoise's own builder: it builds an object tree and renders
it on every call (≈ 230 µs for a 17-column select with a 10-value IN list), so caching
would need this module's shape keys anyway; every visibility rule is SQL text from
`access` with its own `$n` parameters, which pypika could only splice in as opaque text
(no placeholder shifting); its parameters are named by hand (`Parameter("$1")`); and the
statements that matter most (window functions over a partition, correlated counts,
`WITH … MATERIALIZED … FOR UPDATE SKIP LOCKED`, upserts with `CASE`) read better as the
SQL they are. A composer of text parts with generated placeholders is ~200 lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import ciso8601
import orjson

from guichet.models.db import db

_PLACEHOLDER = re.compile(r"\$(\d+)")
# Shapes kept per statement; a loader's batch sizes and the viewer kinds bound it in practice.
_MAX_SHAPES = 1024


# ---------------------------------------------------------------- values


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

    return converted


# ---------------------------------------------------------------- tables


Column = str | tuple[str, Callable[[Any], Any]]


class Table:
    """A table's spec: its name, the alias statements give it, its columns in the order of
    the row type's fields, and how each column's value becomes the field's (a plain name
    is taken as it is)."""

    __slots__ = ("_pairs", "alias", "columns", "name", "names", "type")

    def __init__(self, name: str, alias: str, row_type: type, *columns: Column) -> None:
        self.name = name
        self.alias = alias
        self.type = row_type
        self._pairs = tuple((c, None) if isinstance(c, str) else c for c in columns)
        self.names = tuple(n for n, _ in self._pairs)
        self.columns = ", ".join(f"{alias}.{n}" for n in self.names)

    def __str__(self) -> str:
        """The table as a FROM or JOIN names it: `"ticket" t`."""
        return f'"{self.name}" {self.alias}'

    def row(self, r: dict[str, Any]) -> Any:
        """The row type, from a result row holding the table's columns."""
        return self.type(*[r[n] if c is None else c(r[n]) for n, c in self._pairs])

    def row_of(self, model: Any) -> Any:
        """The row type, from the table's Tortoise model instance (a row just written)."""
        return self.type(
            *[getattr(model, n) if c is None else c(getattr(model, n)) for n, c in self._pairs]
        )


# ---------------------------------------------------------------- parts


class _Value:
    """One value: a `?` in a part's text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "?"


_VALUE = _Value()


class among:
    """`column IN (…)` with one placeholder per value of the sequence bound to it (none:
    `column IN (NULL)`, which holds for no row)."""

    __slots__ = ("column",)

    def __init__(self, column: str) -> None:
        self.column = column


class _Given:
    """SQL text given at run time: a str, or a (text, parameters) pair numbered from $1."""

    __slots__ = ()


GIVEN = _Given()


def _tokens(part: Any) -> tuple:
    if isinstance(part, str):
        pieces = part.split("?")
        out: list = [pieces[0]]
        for piece in pieces[1:]:
            out += [_VALUE, piece]
        return tuple(p for p in out if p != "")
    if isinstance(part, Statement):
        return part.tokens
    if isinstance(part, Table):
        return (part.columns,)
    if isinstance(part, among | _Given):
        return (part,)
    raise TypeError(f"not a statement part: {part!r}")


def _joined(parts: Sequence[Any], separator: str) -> tuple:
    out: tuple = ()
    for i, part in enumerate(parts):
        out += ((separator,) if i else ()) + _tokens(part)
    return out


class Statement:
    """A statement's parts; built once, run many times (see the module's docstring)."""

    __slots__ = ("_shapes", "_slots", "tokens")

    def __init__(self, tokens: tuple) -> None:
        self.tokens = tokens
        self._slots = tuple(t for t in tokens if not isinstance(t, str))
        self._shapes: dict[tuple, tuple[str, tuple[int, ...] | None]] = {}

    def __add__(self, more: Any) -> Statement:
        return Statement(self.tokens + _tokens(more))

    def where(self, *conditions: Any) -> Statement:
        """WHERE every condition holds (AND)."""
        return self + " WHERE " + Statement(_joined(conditions, " AND "))

    def group(self, *columns: str) -> Statement:
        return self + f" GROUP BY {', '.join(columns)}"

    def order(self, *terms: Any) -> Statement:
        return self + " ORDER BY " + Statement(_joined(terms, ", "))

    def limit(self) -> Statement:
        """LIMIT a value."""
        return self + " LIMIT ?"

    def page(self) -> Statement:
        """LIMIT then OFFSET: two values, in that order."""
        return self + " LIMIT ? OFFSET ?"

    def then(self, text: Any) -> Statement:
        """Any other clause, written as it reads (`RETURNING id`, `FOR UPDATE`)."""
        return self + " " + Statement(_tokens(text))

    def as_(self, alias: str) -> Statement:
        """The statement as a subquery: `(SELECT …) alias`, for a FROM or a JOIN."""
        return Statement(("(", *self.tokens, f") {alias}"))

    # ------------------------------------------------------------ running

    def bind(self, values: Sequence[Any]) -> tuple[tuple, list[Any]]:
        """The shape of a call and its parameters, in text order."""
        if len(values) != len(self._slots):
            raise TypeError(f"{len(self._slots)} values expected, {len(values)} given")
        shape: list = []
        params: list = []
        for slot, value in zip(self._slots, values, strict=True):
            if slot is _VALUE:
                params.append(value)
            elif type(slot) is among:
                shape.append(len(value))
                params.extend(value)
            elif isinstance(value, str):
                shape.append(value)
            else:
                text, given = value
                shape.append(text)
                params.extend(given)
        return tuple(shape), params

    def text(self, shape: tuple = ()) -> str:
        """The PostgreSQL text for a shape (as `bind` gives it)."""
        out: list[str] = []
        count = 0
        shaped = iter(shape)
        for token in self.tokens:
            if isinstance(token, str):
                out.append(token)
            elif token is _VALUE:
                count += 1
                out.append(f"${count}")
            elif type(token) is among:
                size = next(shaped)
                marks = ", ".join(f"${count + i}" for i in range(1, size + 1))
                out.append(f"{token.column} IN ({marks or 'NULL'})")
                count += size
            else:
                given = next(shaped)
                out.append(_shifted(given, count))
                count += max((int(n) for n in _PLACEHOLDER.findall(given)), default=0)
        return "".join(out)

    def _compiled(self, dialect: str, shape: tuple) -> tuple[str, tuple[int, ...] | None]:
        key = (dialect, shape)
        found = self._shapes.get(key)
        if found is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            text = self.text(shape)
            found = _for_sqlite(text) if dialect == "sqlite" else (text, None)
            self._shapes[key] = found
        return found

    async def fetch(self, *values: Any) -> list[dict[str, Any]]:
        """Run a read (or a write that RETURNs) and return its rows as dicts."""
        connection = db()
        shape, params = self.bind(values)
        text, order = self._compiled(connection.capabilities.dialect, shape)
        return await connection.execute_query_dict(text, _ordered(params, order))

    async def execute(self, *values: Any) -> int:
        """Run a write; returns the number of rows it touched."""
        connection = db()
        shape, params = self.bind(values)
        text, order = self._compiled(connection.capabilities.dialect, shape)
        count, _ = await connection.execute_query(text, _ordered(params, order))
        return count


def _shifted(text: str, by: int) -> str:
    """Given SQL numbered from $1, numbered from $(by + 1)."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m[1]) + by}", text) if by else text


def select(*columns: Any, from_: Any = None) -> Statement:
    """SELECT the columns (a Table stands for its column list) FROM `from_`: by default the
    first Table named. `from_` is a Table, text (joins), or a subquery (`Statement.as_`)."""
    source = from_ if from_ is not None else next(c for c in columns if isinstance(c, Table))
    return Statement(("SELECT ", *_joined(columns, ", "), " FROM ", *_from(source)))


def _from(source: Any) -> tuple:
    return (str(source),) if isinstance(source, Table) else _tokens(source)


def statement(*parts: Any) -> Statement:
    """Any other statement (INSERT, UPDATE, DELETE, WITH …), its parts joined by spaces."""
    return Statement(_joined(parts, " "))


def count(from_: Any, alias: str = "total") -> Statement:
    """SELECT COUNT(*) AS total FROM `from_` (then `.where(...)`)."""
    return select(f"COUNT(*) AS {alias}", from_=from_)


class Where:
    """Conditions chosen at run time (a list's filters), for a `GIVEN` part: their text,
    numbered from $1 as values are added, and those values."""

    __slots__ = ("conditions", "params")

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        """The placeholder of one more value."""
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, condition: str, *values: Any) -> None:
        """A condition written with `?` for its values, in order."""
        pieces = condition.split("?")
        if len(pieces) != len(values) + 1:
            raise TypeError(f"{len(pieces) - 1} values expected, {len(values)} given")
        marks = [self.param(v) for v in values]
        self.conditions.append("".join(p + m for p, m in zip(pieces, [*marks, ""], strict=True)))

    def given(self, condition: str | tuple[str, Sequence[Any]]) -> None:
        """A condition from `access`: a str, or its text numbered from $1 and its values."""
        if isinstance(condition, str):
            self.conditions.append(condition)
            return
        text, values = condition
        self.conditions.append(_shifted(text, len(self.params)))
        self.params.extend(values)

    def sql(self) -> str:
        return " AND ".join(self.conditions) or "TRUE"

    @property
    def part(self) -> tuple[str, list[Any]]:
        """The conditions as a value for a `GIVEN` part."""
        return self.sql(), self.params


# ---------------------------------------------------------------- results


def in_key_order(
    keys: Sequence[Any], rows: list[dict[str, Any]], build: Callable, key: str = "id"
) -> list[Any]:
    """A batch function's answer: for each key, its row built (or None), in key order."""
    found = {r[key]: build(r) for r in rows}
    return [found.get(k) for k in keys]


def grouped_by(
    keys: Sequence[Any], rows: list[dict[str, Any]], build: Callable, key: str
) -> list[list[Any]]:
    """A batch function's answer: for each key, the rows whose `key` column holds it."""
    grouped: dict[Any, list[Any]] = {}
    for r in rows:
        grouped.setdefault(r[key], []).append(build(r))
    return [grouped.get(k, []) for k in keys]


# ---------------------------------------------------------------- dialects


@lru_cache(maxsize=512)
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


def _ordered(params: list[Any], order: tuple[int, ...] | None) -> list[Any]:
    if order is None:
        return params
    return [_sqlite_value(params[i]) for i in order]


async def fetch(text: str, *params: Any) -> list[dict[str, Any]]:
    """Run a read written as PostgreSQL text (`$n`); prefer a composed Statement."""
    connection = db()
    order = None
    if connection.capabilities.dialect == "sqlite":
        text, order = _for_sqlite(text)
    return await connection.execute_query_dict(text, _ordered(list(params), order))


async def execute(text: str, *params: Any) -> int:
    """Run a write written as PostgreSQL text (`$n`); prefer a composed Statement."""
    connection = db()
    order = None
    if connection.capabilities.dialect == "sqlite":
        text, order = _for_sqlite(text)
    count, _ = await connection.execute_query(text, _ordered(list(params), order))
    return count
