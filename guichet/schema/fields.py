"""The ways to declare a field whose value a batch function loads.

    organizations: list[Organization] = related(people.organizations_by_user_id, key="pk")
    comments: Connection[Comment] = batched(comment_pages, key=page_of, answer=connection_of)

`related` reads its key from an attribute of the object; `batched` computes it from the
object and the field's arguments, then makes the field's value from what was loaded. Either
way the normal executor resolves one object at a time through the request's DataLoader for
that batch function, and the planned executor (schema/execution) calls the same functions
for a whole level: every key first, one load, then every answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry

from guichet.models.people import Role
from guichet.resolvers.context import Batch
from guichet.schema.requires import requires as requires_extension


def related(
    batch: Batch,
    *,
    key: str,
    requires: Role | None = None,
    description: str | None = None,
) -> Any:
    async def resolve(root: Any, info: strawberry.Info) -> Any:
        value = getattr(root, key)
        if value is None:
            return None
        return await info.context.loader(batch).load(value)

    resolve.batch = batch  # type: ignore[attr-defined]
    resolve.key = key  # type: ignore[attr-defined]
    return _field(resolve, requires, description)


def _field(resolve: Any, requires: Role | None, description: str | None) -> Any:
    return strawberry.field(
        resolver=resolve,
        description=description,
        extensions=[requires_extension(requires)] if requires else [],
    )


def as_loaded(loaded: Any, root: Any, **arguments: Any) -> Any:
    """The `answer` of a `batched` field whose value is what the batch function returned."""
    return loaded


# The resolvers `batched` made: only these may be run as key, load, answer.
_BATCHED: set[Callable[..., Any]] = set()


def is_batched(resolver: Any) -> bool:
    """Whether a resolver was made by `batched` (and so is exactly key, load, answer)."""
    return resolver in _BATCHED


def batched(
    batch: Batch,
    *,
    key: Callable[..., Any],
    answer: Callable[..., Any],
    requires: Role | None = None,
    description: str | None = None,
) -> Any:
    """A field with arguments whose value comes from one key of a batch function.

    `key(root, **arguments)` names what the field needs (its parameters after `root` are
    the field's arguments, with their GraphQL types and defaults); `answer(loaded, root,
    **arguments)` makes the field's value from what the batch function returned for that
    key. Both are plain functions: no Info, no await."""

    async def resolve(root: Any, info: strawberry.Info, **arguments: Any) -> Any:
        loaded = await info.context.loader(batch).load(key(root, **arguments))
        return answer(loaded, root, **arguments)

    # strawberry reads the field's arguments from the resolver's signature: the key's,
    # with `info` added for the loader.
    parameters = list(inspect.signature(key).parameters.values())
    info = inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=strawberry.Info)
    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [parameters[0].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters[1:]]
        + [info]
    )
    resolve.__annotations__ = {
        **{k: v for k, v in key.__annotations__.items() if k != "return"},
        "info": strawberry.Info,
    }
    # ... resolved in the key's module (strawberry reads annotations there).
    resolve.__module__ = key.__module__
    _BATCHED.add(resolve)
    resolve.batch = batch  # type: ignore[attr-defined]
    resolve.key_of = key  # type: ignore[attr-defined]
    resolve.answer = answer  # type: ignore[attr-defined]
    return _field(resolve, requires, description)
