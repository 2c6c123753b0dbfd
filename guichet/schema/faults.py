"""When the database fails under a request: answers a client can act on.

- A mutation whose transaction lost against a concurrent one (a deadlock, a serialization
  failure, SQLite's writer busy past its timeout) wrote nothing: it runs again, at most
  CONFLICT_RETRIES times with a short random pause, and then answers CONFLICT.
- A database that cannot be reached answers SERVICE_UNAVAILABLE (HTTP 503 with
  Retry-After when nothing could be served), logged as one warning line, no traceback.
Both replace "Unexpected error.": they are faults of the moment, not bugs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from typing import Any

from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension

from guichet.models.db import is_conflict, is_unreachable

log = logging.getLogger("guichet.faults")

CONFLICT_RETRIES = 3
RETRY_AFTER_SECONDS = 5
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
CONFLICT = "CONFLICT"


def fault_error(error: GraphQLError) -> GraphQLError | None:
    """The client-facing error for a database fault, or None when it is something else."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return None
    if is_conflict(original):
        message = (
            "This change collided with another one made at the same moment and was not "
            "made. Send it again."
        )
        code = CONFLICT
    elif is_unreachable(original):
        message = "The database cannot be reached right now. Try again in a few seconds."
        code = SERVICE_UNAVAILABLE
    else:
        return None
    log.warning("%s at %s: %s", code, error.path, type(original).__name__)
    return GraphQLError(
        message,
        error.nodes,
        path=error.path,
        extensions={"code": code, "retryable": True},
    )


def _retrying(resolve: Any) -> Any:
    async def resolve_with_retries(source: Any, info: Any, **arguments: Any) -> Any:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                result = resolve(source, info, **arguments)
                return await result if inspect.isawaitable(result) else result
            except Exception as error:
                if attempt == CONFLICT_RETRIES or not is_conflict(error):
                    raise
                log.info("%s collided (attempt %d); running it again", info.field_name, attempt)
                # What the failed attempt loaded may be stale now.
                info.context.next_event()
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    return resolve_with_retries


def retry_conflicting_mutations(schema: GraphQLSchema) -> None:
    """Wrap every mutation so a transaction that lost a race runs again. A rule function
    writes in one transaction and publishes after its commit, so an attempt that failed
    left nothing behind to repeat."""
    mutation = schema.mutation_type
    if mutation is None:
        return
    for field in mutation.fields.values():
        if field.resolve is not None:
            field.resolve = _retrying(field.resolve)


class TranslateFaults(SchemaExtension):
    """Replaces the errors of database faults before the unexpected ones are masked: list
    it after MaskUnexpectedErrors (extensions leave in reverse order)."""

    def on_operation(self):
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = translate_faults(errors)


def translate_faults(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors with database faults replaced (for a path that runs without the extension)."""
    return [fault_error(error) or error for error in errors]
