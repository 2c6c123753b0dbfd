"""Statements composed from parts, their text built once per shape (see the package)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guichet.models.db import db
from guichet.resolvers.sql.dialects import _PLACEHOLDER, _ordered, _prepared
from guichet.resolvers.sql.tables import Table

# Shapes kept per statement; a loader's batch sizes and the viewer kinds bound it in practice.
_MAX_SHAPES = 1024


class _Value:
    """One value: a `?` in a part's text."""

    __slots__ = ()


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
            found = self._shapes[key] = _prepared(self.text(shape), dialect)
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
