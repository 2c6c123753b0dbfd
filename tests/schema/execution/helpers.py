"""Running one document through both executors for the same viewer, with fresh loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from guichet.resolvers.context import Batch, Context
from guichet.schema.execution import STATS, RawData


class SwappingContext(Context):
    """A context whose loaders run other batch functions in place of some: how a test
    makes a relation answer what the database never would (nulls, wrong types, failures)."""

    __slots__ = ("swaps",)

    def __init__(self, *args: Any, swaps: dict[Batch, Batch] | None = None) -> None:
        super().__init__(*args)
        self.swaps = swaps or {}

    def loader(self, batch: Batch):
        return super().loader(self.swaps.get(batch, batch))


def swapped(batch: Batch, change: Callable[[Any, Any], Any]) -> dict[Batch, Batch]:
    """`batch`'s answers passed through `change(key, value)`."""

    async def changed(context: Any, keys: Any) -> list[Any]:
        return [change(k, v) for k, v in zip(keys, await batch(context, keys), strict=True)]

    return {batch: changed}


def context(app, viewer, *, planner: bool, swaps: dict | None = None) -> Context:
    """A request's context. Swapped batch functions are Python's: a context with swaps
    shapes its answers in Python (not in SQL: schema/execution/answers.py)."""
    settings = replace(app.state.settings, planner=planner, sql_answers=not swaps)
    return SwappingContext(settings, viewer, app.state.bus, swaps=swaps)


def answer(result: Any) -> dict:
    data = result.data
    body: dict = {"data": orjson.loads(data.text) if isinstance(data, RawData) else data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    return body


async def both(
    app, query: str, variables: dict | None = None, *, viewer=None, swaps: dict | None = None
) -> tuple[dict, dict]:
    """(planned, normal) answers of one query; asserts the first one ran planned."""
    schema = app.state.schema
    before = STATS["planned"]
    planned = await schema.execute(
        query,
        variable_values=variables,
        context_value=context(app, viewer, planner=True, swaps=swaps),
    )
    assert STATS["planned"] == before + 1, "the query did not run planned"
    normal = await schema.execute(
        query,
        variable_values=variables,
        context_value=context(app, viewer, planner=False, swaps=swaps),
    )
    return answer(planned), answer(normal)


async def same(
    app, query: str, variables: dict | None = None, *, viewer=None, swaps: dict | None = None
) -> dict:
    """The planned answer, once checked equal to the normal one (errors in the same order)."""
    planned, normal = await both(app, query, variables, viewer=viewer, swaps=swaps)
    assert planned == normal
    return planned
