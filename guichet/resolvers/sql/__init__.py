"""SQL on Tortoise's own connection, for reads and writes that must not build models.

**Tables** are declared once, next to the row type they build (`sql.Table`): name, alias,
columns, how each column becomes a row attribute. Column lists (`TICKET.columns`) and row
builders (`TICKET.row(r)`, `TICKET.row_of(model)`) read that one declaration.

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

The package: `values` (column values both ways), `tables` (Table, batch answers),
`statements` (the parts, Statement, Where), `dialects` (running text on either database),
`sources` (what a field's rows are in SQL, for answers built in one statement).

What stays text: the statements whose shape is chosen per request (analytics' GROUP BY
over chosen dimensions, in admin/analytics.py and work/time_billing.py) run through
`fetch`, with their conditions from `Where`; `access` writes its conditions as text.
"""

from __future__ import annotations

from guichet.resolvers.sql.dialects import dialect, execute, fetch
from guichet.resolvers.sql.sources import (
    ColumnRef,
    Computed,
    Found,
    One,
    Page,
    Pages,
    answers_in_sql,
)
from guichet.resolvers.sql.statements import (
    GIVEN,
    Statement,
    Where,
    among,
    count,
    select,
    statement,
)
from guichet.resolvers.sql.tables import Column, Table, grouped_by, in_key_order
from guichet.resolvers.sql.values import (
    as_bool,
    as_datetime,
    as_json,
    json_text,
    like_pattern,
    optional,
)

__all__ = [
    "GIVEN",
    "Column",
    "ColumnRef",
    "Computed",
    "Found",
    "One",
    "Page",
    "Pages",
    "Statement",
    "Table",
    "Where",
    "among",
    "answers_in_sql",
    "as_bool",
    "as_datetime",
    "as_json",
    "count",
    "dialect",
    "execute",
    "fetch",
    "grouped_by",
    "in_key_order",
    "json_text",
    "like_pattern",
    "optional",
    "select",
    "statement",
]
