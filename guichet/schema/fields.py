"""The one way to declare a relation field: name its batch function.

    organizations: list[Organization] = related(people.organizations_by_user_id, key="pk")

Today the field resolves through a per-request DataLoader for that batch function; a
compiled executor can later call the same batch function once per level instead.
"""

from __future__ import annotations

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
    return strawberry.field(
        resolver=resolve,
        description=description,
        extensions=[requires_extension(requires)] if requires else [],
    )
