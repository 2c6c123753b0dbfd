"""Mutation payloads: one shape and one error path for all of them.

A payload is `@payload` over its own fields; the decorator appends `errors: [UserError!]!`.
It is appended, not inherited from a base type, because a dataclass puts inherited fields
first and the printed schema lists `errors` last in every payload.

A mutation is `@mutation(XPayload, ...)` over a resolver that returns `XPayload(...)`: a
`Refused` raised by the rule it calls becomes `XPayload(errors=...)` here, once, instead of
a `try/except` in every resolver. A payload whose other fields cannot be empty on refusal
(markNotificationsRead always answers `unreadCount`) builds itself with an async
`refused(info, errors)` classmethod.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry

from guichet.resolvers.errors import Refused
from guichet.resolvers.people.auth import RetryLater
from guichet.schema.errors import UserError

T = TypeVar("T")


def payload(cls: type[T]) -> type[T]:
    """The strawberry type of a mutation payload: the class's fields, then `errors`."""
    annotations = inspect.get_annotations(cls)
    annotations["errors"] = list[UserError]
    cls.__annotations__ = annotations
    cls.errors = strawberry.field(default_factory=list)  # type: ignore[attr-defined]
    return strawberry.type(cls)


def mutation(
    payload_type: type,
    *,
    description: str | None = None,
    extensions: Sequence[Any] = (),
) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """`strawberry.mutation` whose resolver's `Refused` answers `payload_type` with errors."""

    def decorate(resolver: Callable[..., Awaitable[Any]]) -> Any:
        signature = inspect.signature(resolver)

        # functools.wraps keeps the name, module and signature strawberry reads arguments from.
        @functools.wraps(resolver)
        async def resolve(*args: Any, **kwargs: Any) -> Any:
            try:
                return await resolver(*args, **kwargs)
            except Refused as refused:
                info = signature.bind(*args, **kwargs).arguments["info"]
                return await _refusal(payload_type, info, refused)

        return strawberry.mutation(description=description, extensions=list(extensions))(resolve)

    return decorate


async def _refusal(payload_type: Any, info: strawberry.Info, refused: Refused) -> Any:
    if isinstance(refused, RetryLater):
        # Sign-in is locked for a while: HTTP clients and proxies read when to retry here.
        info.context.response_headers["Retry-After"] = str(refused.retry_after_seconds)
    build = getattr(payload_type, "refused", None)
    if build is not None:
        return await build(info, refused.errors)
    return payload_type(errors=refused.errors)
