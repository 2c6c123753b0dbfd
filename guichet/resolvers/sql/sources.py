"""What a field's rows are, in SQL: for the planned executor's one-statement answers.

On PostgreSQL a planned query can be answered by one statement that builds the whole JSON
answer (schema/execution/answers.py). It needs to know, for each field, which rows it
stands for; a batch function (or a root field's resolver) says so here, next to the
Python that loads the same rows, using the same table declaration and the same `access`
conditions:

- `One(table)`: the row of `table` whose `column` equals the field's key (a `related`
  field: `users_by_id`), shown only where `visible(viewer)` holds;
- `Pages(table, page)`: a page of rows, in order (a connection). `page(viewer, given,
  alias)` answers a `Page` for the table under `alias`: the key a `batched` field computes
  (whose parent columns are `ColumnRef`s), or a root field's arguments; None when the
  request must run in Python (its errors are the resolver's to give);
- `Found(table, condition)`: a root field's one row (or null), `condition(viewer,
  arguments, alias)` picking it;
- `Computed(expression)`: a leaf computed from the key's columns, `expression(viewer,
  key)` giving SQL text, or (text, parameters numbered from $1).

Declared with `answers_in_sql(source)` on the function. A field without one is answered
in Python, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from guichet.resolvers.sql.tables import Table

Condition = str | tuple[str, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A column of the row a key is computed from, as SQL text (`q3.id`)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a table's rows under an alias: WHERE `condition` ORDER BY `order`, `limit`
    rows from `offset`. Positions (cursors) count from 1 at the list's first row."""

    condition: Condition
    order: str
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class One:
    table: Table
    column: str = "id"
    visible: Callable[[Any], bool] | None = None


@dataclass(frozen=True, slots=True)
class Pages:
    table: Table
    page: Callable[[Any, Any, str], Page | None]
    alias: str | None = None  # the alias `page` writes its SQL for (None: any)


@dataclass(frozen=True, slots=True)
class Found:
    """A root field's one row of `table` (or null): `condition(viewer, arguments, alias)`
    picks it (text, or text and parameters numbered from $1); None: answered in Python."""

    table: Table
    condition: Callable[[Any, dict, str], Condition | None]
    alias: str | None = None  # the alias `condition` writes its SQL for (None: any)


@dataclass(frozen=True, slots=True)
class Computed:
    expression: Callable[[Any, Any], Condition]


def answers_in_sql(source: One | Pages | Found | Computed) -> Callable[[Any], Any]:
    """Marks a batch function (or a root resolver) with the SQL of what it loads."""

    def mark(function: Any) -> Any:
        function.in_sql = source
        return function

    return mark
