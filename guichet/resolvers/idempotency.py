"""Safe retries: the same idempotency key from the same user within 24 hours answers the
first result instead of writing twice.

`claim` runs inside the writing transaction and inserts the key first: a concurrent
retry waits on the unique index and, once the first commits, finds its result.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models.tickets import IdempotencyKey
from guichet.resolvers.errors import Refused, UserError

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 200


async def previous_result(user_pk: int, operation: str, key: str | None) -> int | None:
    """The id the first call with this key produced, if any (within 24 hours)."""
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise Refused(
            UserError(
                f"An idempotency key has at most {MAX_KEY_LENGTH} characters.",
                "TOO_LONG",
                ["input", "idempotencyKey"],
            )
        )
    if "\x00" in key:
        raise Refused(
            UserError(
                "An idempotency key cannot hold a NUL character.",
                "INVALID",
                ["input", "idempotencyKey"],
            )
        )
    found = await IdempotencyKey.get_or_none(user_id=user_pk, operation=operation, key=key)
    if found is None:
        return None
    if found.created_at < datetime.now(UTC) - KEY_LIFETIME:
        await IdempotencyKey.filter(id=found.id).delete()
        return None
    return found.result_id


async def claim(user_pk: int, operation: str, key: str | None) -> IdempotencyKey | None:
    """Reserve the key inside the caller's transaction; None without a key.
    Raises `AlreadyDone` when another call took it meanwhile."""
    if not key:
        return None
    try:
        async with in_transaction():  # a savepoint: a conflict leaves the outer one usable
            return await IdempotencyKey.create(user_id=user_pk, operation=operation, key=key)
    except IntegrityError:
        raise AlreadyDone() from None


async def settle(claimed: IdempotencyKey | None, result_id: int) -> None:
    if claimed is not None:
        await IdempotencyKey.filter(id=claimed.id).update(result_id=result_id)


class AlreadyDone(Exception):
    """The same key was used by a concurrent call, which committed first."""


async def purge_expired() -> None:
    await IdempotencyKey.filter(created_at__lt=datetime.now(UTC) - KEY_LIFETIME).delete()
