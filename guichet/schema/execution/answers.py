"""Answers built by PostgreSQL: a plan compiled to one statement that writes the JSON.

A planned query whose every field says what it is in SQL (`resolvers/sql/sources.py`:
columns of a declared table, `One` row, `Pages` of rows, `Computed` leaf) is answered on
PostgreSQL by ONE statement: `json_build_object` per object, `json_agg` per list, a
`LEFT JOIN LATERAL` per relation and per page, the same `access` conditions and the same
page, filter and sort parts as the Python loaders. The statement also counts the objects
it wrote (the cost budget's `actualQueryCost`). Its text is made once per plan; what
depends on the request (the viewer's conditions, a page's offset and size, a chosen
order) fills `sql.GIVEN` parts and values, so the text is cached per shape.

Exactness. Leaves are written as Python writes them: ids and cursors are the same base64
(`ids.encode`), DateTime is `isoformat()` (UTC, microseconds only when not zero), enums
are mapped member by member through the GraphQL type's own `serialize`, String and ID are
text. Whatever would need an error in the answer is left to the Python plan, which gives
it exactly: a null where none may be (the statement writes a marker there, and the
request runs in Python when the marker is in the answer), a field @requires refuses to
the viewer, arguments the field refuses (a bad cursor, a page too large), a signed-out
viewer, a failing statement.

What compiles: root fields whose resolver declares `Pages` (connections: `totalCount`,
`edges { cursor node }`, `pageInfo`) or `Found` (one row or null: `ticket(number:)`, `me`), attribute fields read from a declared table's
columns (Int, Boolean, String, ID, DateTime, enums), `id`, `__typename`, `related`
fields whose batch function declares `One`, `batched` fields whose batch function
declares `Pages` (a connection) or `Computed` (a leaf). Anything else (lists of objects,
interfaces, other resolvers) keeps the plan's Python run.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from graphql import get_argument_values
from strawberry.types.arguments import convert_arguments

from guichet.resolvers import sql
from guichet.resolvers.sql import Pages
from guichet.schema.execution.answer_compiler import Compiler
from guichet.schema.execution.answer_leaves import (
    MISSING,
    Unsupported,
)
from guichet.schema.execution.planner import FieldPlan, Plan

log = logging.getLogger("guichet.planner")


@dataclasses.dataclass(frozen=True, slots=True)
class RawData:
    """An answer's `data` as PostgreSQL wrote it (JSON text), and the objects it holds."""

    text: str
    objects: int


class _Run:
    """What one request fills in: the viewer, field arguments, keys and pages, once each."""

    def __init__(self, schema: Any, context: Any, variables: dict) -> None:
        self.schema, self.viewer, self.variables = schema, context.viewer, variables
        self.memo: dict[Any, Any] = {}

    def arguments(self, f: FieldPlan) -> dict:
        key = ("arguments", f.fid)
        if key not in self.memo:
            self.memo[key] = convert_arguments(
                get_argument_values(f.fdef, f.nodes[0], self.variables),
                f.definition.arguments,
                scalar_registry=self.schema.schema_converter.scalar_registry,
                config=self.schema.config,
            )
        return self.memo[key]

    def page(self, f: FieldPlan, source: Pages, given: Any, alias: str) -> sql.Page:
        key = ("page", f.fid)
        if key not in self.memo:
            page = source.page(self.viewer, given(self), alias)
            if page is None:
                raise Unsupported("the field's page is answered in Python")
            self.memo[key] = page
        return self.memo[key]


class CompiledAnswer:
    """A plan's statement: its composed text, what binds each part, the roles it needs."""

    def __init__(self, statement: sql.Statement, binders: list, roles: set) -> None:
        self.statement, self.binders, self.roles = statement, binders, roles

    async def run(self, schema: Any, context: Any, variables: dict) -> tuple[str, int] | None:
        """(the answer's `data` as JSON text, the objects it holds), or None: the request
        runs in Python."""
        viewer = context.viewer
        if viewer is None or not all(viewer.at_least(role) for role in self.roles):
            log.debug("answered in Python: no viewer, or a field refused to the viewer")
            return None
        run = _Run(schema, context, variables)
        try:
            values = [bind(run) for bind in self.binders]
        except Exception as error:  # refused arguments and the like: Python gives the error
            log.debug("answered in Python: %r", error)
            return None
        try:
            rows = await self.statement.fetch(*values)
        except Exception:
            log.warning("an answer built in SQL failed; answered in Python", exc_info=True)
            return None
        text = rows[0]["data"]
        if MISSING in text:
            log.debug("answered in Python: a null where none may be")
            return None
        return text, int(rows[0]["objects"])


def compiled_answer(schema: Any, plan: Plan) -> CompiledAnswer | None:
    """The plan's statement, compiled on first use; None when the plan runs in Python."""
    found = getattr(plan, "answer", None)
    if found is None:
        try:
            found = CompiledAnswer(*Compiler(schema, plan).compile())
        except Unsupported as reason:
            log.debug("answered in Python: %s", reason)
            found = str(reason)
        plan.answer = found
    return found if isinstance(found, CompiledAnswer) else None
