"""The runtime of a plan: one request's state, and the slow paths of the generated code.

The root object function shapes what it can at once and queues, per level, the related
fields (keys) and the resolver calls (awaitables). Each level then runs as one
`asyncio.gather`: one `load_many` per batch function (the keys of every field of the
level that names it, each once; through `context.loader(batch)`, so values are shared with
any resolver using the same loader) and every pending resolver call, concurrently, so the
request's BatchLoaders batch them. The queued positions are then completed, which queues
the next level, until nothing is left.

Errors follow graphql-core: a failing field is null with an error at its path; a failure
at a non-null position nulls the nearest nullable position above it, and an error below a
position already nulled is dropped (graphql-core's CollectedErrors).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from types import CoroutineType
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfo,
    default_type_resolver,
    get_argument_values,
    located_error,
)
from graphql.pyutils import Path
from strawberry.types.arguments import convert_arguments

from guichet.schema.execution.codegen import Bubble, Fallback
from guichet.schema.execution.leaves import coerce
from guichet.schema.execution.planner import FieldPlan, Plan, Shape


def path_list(path: tuple | None) -> list:
    keys = []
    while path is not None:
        path, key = path
        keys.append(key)
    keys.reverse()
    return keys


def graphql_path(path: tuple | None) -> Path | None:
    result = None
    for key in path_list(path):
        result = Path(result, key, None)
    return result


def _is_awaitable(value: Any) -> bool:
    return value.__class__ is CoroutineType or inspect.isawaitable(value)


class Runtime:
    """One request through one plan."""

    def __init__(self, schema: Any, plan: Plan, context: Any, root_value: Any, variables) -> None:
        self.strawberry = schema
        self.schema = schema._schema
        self.plan = plan
        self.context = context
        self.root_value = root_value
        self.variables = variables
        self.errors: list[GraphQLError] = []
        self.nulled: set[tuple] = set()
        self.related: list[tuple] = []
        self.calls: list[tuple] = []
        self.data: Any = None
        self._decisions: dict[int, GraphQLError | None] = {}
        self.is_awaitable = _is_awaitable

    # ---------------------------------------------------------------- per field, once

    def info(self, f: FieldPlan, path: tuple | None) -> GraphQLResolveInfo:
        return GraphQLResolveInfo(
            f.name,
            f.node_list,
            f.fdef.type,
            f.parent,
            graphql_path((path, f.key)),
            self.schema,
            self.plan.fragments,
            self.root_value,
            self.plan.operation,
            self.variables,
            self.context,
            _is_awaitable,
            None,
            None,
        )

    def allowed(self, f: FieldPlan) -> bool:
        """The @requires decision of a field, taken once for the request."""
        try:
            f.requires.check(
                self.strawberry.config.info_class(_raw_info=self.info(f, None), _field=f.definition)
            )
        except Exception as error:
            self._decisions[f.fid] = error
            return False
        return True

    def denied(self, f: FieldPlan) -> Exception:
        return self._decisions[f.fid]

    def caller(self, f: FieldPlan):
        resolve, info = f.fdef.resolve, self.info
        try:
            arguments = get_argument_values(f.fdef, f.nodes[0], self.variables)
        except Exception as error:
            problem = error

            def refuse(obj: Any, path: tuple | None) -> Any:
                raise problem

            return refuse

        def call(obj: Any, path: tuple | None) -> Any:
            return resolve(obj, info(f, path), **arguments)

        return call

    def keyer(self, f: FieldPlan):
        """A keyed field's `key(obj)` and `answer(loaded, obj)`, its arguments converted
        once for the request as strawberry converts them for each call."""
        try:
            arguments = convert_arguments(
                get_argument_values(f.fdef, f.nodes[0], self.variables),
                f.definition.arguments,
                scalar_registry=self.strawberry.schema_converter.scalar_registry,
                config=self.strawberry.config,
            )
        except Exception as error:
            problem = error

            def refuse(obj: Any, *_: Any) -> Any:
                raise problem

            return refuse, refuse
        key_of, answer = f.key_of, f.answer
        return (
            lambda obj: key_of(obj, **arguments),
            lambda loaded, obj: answer(loaded, obj, **arguments),
        )

    # ---------------------------------------------------------------- slow paths

    def _add(self, raw: Exception, nodes: Any, path: tuple, nulled: tuple | None) -> None:
        position = () if nulled is None else tuple(path_list(nulled))
        if None in self.nulled or any(
            position[:i] in self.nulled for i in range(1, len(position) + 1)
        ):
            return
        self.nulled.add(position if nulled is not None else None)
        self.errors.append(located_error(raw, list(nodes), path_list(path)))

    def field_error(self, error: Exception, shape: Shape, parent: tuple | None, key: Any) -> None:
        if shape.nonnull:
            raise Bubble(error, shape.field.nodes, (parent, key))
        self._add(error, shape.field.nodes, (parent, key), (parent, key))
        return None

    def nonnull(self, shape: Shape, parent: tuple | None, key: Any) -> None:
        f = shape.field
        raise Bubble(
            TypeError(f"Cannot return null for non-nullable field {f.parent.name}.{f.name}."),
            f.nodes,
            (parent, key),
        )

    def record(self, bubble: Bubble, parent: tuple | None, key: Any) -> None:
        self._add(bubble.raw, bubble.nodes, bubble.path, (parent, key))
        return None

    @staticmethod
    def leaf(value: Any, shape: Shape) -> Any:
        return coerce(shape.type, value)

    @staticmethod
    def as_list(value: Any, shape: Shape) -> list:
        if hasattr(value, "__aiter__"):
            raise Fallback("an async iterable")
        if isinstance(value, (str, bytes, bytearray, Mapping)) or not hasattr(value, "__iter__"):
            f = shape.field
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{f.parent.name}.{f.name}'."
            )
        return list(value)

    @staticmethod
    def fallback(value: Any) -> None:
        raise Fallback(f"is_type_of refused {type(value).__name__}")

    def abstract(self, value: Any, shape: Shape, parent: tuple | None, key: Any) -> Any:
        f = shape.field
        info = self.info(f, parent if key == f.key else parent[0])
        resolve_type = shape.type.resolve_type or default_type_resolver
        name = resolve_type(value, info, shape.type)
        if not isinstance(name, str) or name not in shape.choices:
            raise Fallback(f"{shape.type.name} resolved to {name!r}")
        return self.objects[shape.choices[name].oid](value, (parent, key))

    def queue_related(
        self, f: FieldPlan, key: Any, d: dict, path: tuple | None, obj: Any = None
    ) -> None:
        self.related.append((f, key, d, path, obj))

    def queue_call(self, f: FieldPlan, awaitable: Any, d: dict, path: tuple | None) -> None:
        self.calls.append((f, awaitable, d, path))

    def propagate(self, bubble: Bubble, path: tuple | None) -> None:
        """A non-null field of the object at `path` failed after the object was placed:
        null the nearest nullable position at or above it."""
        keys = path_list(path)
        nullable = self._nullability(keys)
        cut = max((i for i, n in enumerate(nullable) if n), default=-1)
        if cut < 0:
            self._add(bubble.raw, bubble.nodes, bubble.path, None)
            self.data = None
            return
        position = None
        for k in keys[: cut + 1]:
            position = (position, k)
        before = len(self.errors)
        self._add(bubble.raw, bubble.nodes, bubble.path, position)
        if len(self.errors) == before:
            return  # an ancestor is already null
        container = self.data
        for k in keys[:cut]:
            if container is None:
                return
            container = container[k]
        if container is not None:
            container[keys[cut]] = None

    def _nullability(self, keys: list) -> list[bool]:
        """For each position on the way to `keys`: whether it may be null."""
        out: list[bool] = []
        obj, shape, container = self.plan.root, None, self.data
        for k in keys:
            if isinstance(k, str):
                f = obj.by_key(k) if obj is not None else None
                if f is None:
                    raise Fallback(f"no plan for the position {keys}")
                shape = f.shape
            else:
                shape = shape.item
            out.append(not shape.nonnull)
            container = container[k] if isinstance(container, (dict, list)) else None
            obj = self._object_at(shape, container)
        return out

    def _object_at(self, shape: Shape, container: Any):
        if shape.kind == "object":
            return shape.object
        if shape.kind == "abstract" and isinstance(container, dict):
            for choice in shape.choices.values():  # the plan whose keys the dict holds
                if list(container) == [f.key for f in choice.fields]:
                    return choice
        return None

    # ---------------------------------------------------------------- the run

    async def run(self) -> ExecutionResult:
        root, done, self.objects = self.plan.make(self)
        try:
            self.data = root(self.root_value, None)
        except Bubble as bubble:
            self._add(bubble.raw, bubble.nodes, bubble.path, None)
            self.data = None
        try:
            while self.related or self.calls:
                related, self.related = self.related, []
                calls, self.calls = self.calls, []
                await self._level(related, calls, done)
        except Fallback:
            for _f, awaitable, _d, _path in self.calls:  # never to be awaited now
                close = getattr(awaitable, "close", None)
                if close is not None:
                    close()
            raise
        return ExecutionResult(self.data, self.errors or None)

    async def _level(self, related: list, calls: list, done: dict) -> None:
        keys: dict[Any, dict] = {}
        for f, key, _d, _path, _obj in related:
            keys.setdefault(f.batch, {})[key] = None
        batches = list(keys)
        work = [self._load(batch, list(keys[batch])) for batch in batches]
        work.extend(awaitable for _f, awaitable, _d, _path in calls)
        if len(work) == 1:
            try:
                results = [await work[0]]
            except Exception as error:
                results = [error]
        else:
            results = await asyncio.gather(*work, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        values = dict(zip(batches, results[: len(batches)], strict=True))
        for f, key, d, path, obj in related:
            loaded = values[f.batch]
            done[f.fid](loaded if isinstance(loaded, Exception) else loaded[key], d, path, obj)
        for (f, _awaitable, d, path), result in zip(calls, results[len(batches) :], strict=True):
            done[f.fid](result, d, path)

    async def _load(self, batch: Any, keys: list) -> dict:
        loader = self.context.loader(batch)
        try:
            values = await loader.load_level(keys)
        except Exception:
            values = await asyncio.gather(*(loader.load(k) for k in keys), return_exceptions=True)
        return dict(zip(keys, values, strict=True))
