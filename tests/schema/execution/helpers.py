"""Running one document through both executors on the same viewer (fresh loaders)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from guichet.resolvers.context import Context
from guichet.schema.execution import STATS


def _context(app, viewer, *, planner: bool) -> Context:
    settings = replace(app.state.settings, planner=planner)
    return Context(settings, viewer, app.state.bus)


def answer(result: Any) -> dict:
    body: dict = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    return body


async def both(app, query: str, variables: dict | None = None, *, viewer=None) -> tuple[dict, dict]:
    """(planned, normal) answers of one query for one viewer; asserts it ran planned."""
    schema = app.state.schema
    before = STATS["planned"]
    planned = await schema.execute(
        query, variable_values=variables, context_value=_context(app, viewer, planner=True)
    )
    assert STATS["planned"] == before + 1, "the query did not run planned"
    normal = await schema.execute(
        query, variable_values=variables, context_value=_context(app, viewer, planner=False)
    )
    return answer(planned), answer(normal)


async def same(app, query: str, variables: dict | None = None, *, viewer=None) -> dict:
    planned, normal = await both(app, query, variables, viewer=viewer)
    assert planned == normal
    return planned
