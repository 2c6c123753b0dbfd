"""Tables declared once: their columns and the rows they build; batch answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Column = str | tuple[str, Callable[[Any], Any]]


class Table:
    """A table's spec: its name, the alias statements give it, its columns in the order of
    the row type's fields, and how each column's value becomes the field's (a plain name
    is taken as it is). `row(r)` builds the row type from a result row holding the
    columns, `row_of(model)` from the table's Tortoise model (a row just written)."""

    __slots__ = (
        "_attributes",
        "alias",
        "columns",
        "converters",
        "name",
        "names",
        "row",
        "row_of",
        "type",
    )

    def __init__(self, name: str, alias: str, row_type: type, *columns: Column) -> None:
        self.name, self.alias, self.type = name, alias, row_type
        pairs = tuple((c, None) if isinstance(c, str) else c for c in columns)
        self.names = tuple(n for n, _ in pairs)
        self.converters = dict(pairs)  # column → converter (None: as it is)
        self._attributes = None  # attribute → (column, converter), made when first asked
        self.columns = ", ".join(f"{alias}.{n}" for n in self.names)
        self.row = _builder(row_type, pairs, "r[{!r}]")
        self.row_of = _builder(row_type, pairs, "r.{}")

    def __str__(self) -> str:
        """The table as a FROM or JOIN names it: `"ticket" t`."""
        return f'"{self.name}" {self.alias}'


def _builder(row_type: type, pairs: tuple, read: str) -> Callable[[Any], Any]:
    """A row builder written out once per table, as dataclasses write their __init__: a
    loop over the columns costs 50 % more per row, and a list reads rows by the hundred."""
    scope: dict[str, Any] = {"T": row_type}
    values = []
    for i, (column, convert) in enumerate(pairs):
        if not column.isidentifier():
            raise ValueError(f"not a column name: {column!r}")
        value = read.format(column)
        if convert is not None:
            scope[f"c{i}"] = convert
            value = f"c{i}({value})"
        values.append(value)
    exec(f"def build(r):\n    return T({', '.join(values)})", scope)
    return scope["build"]


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
