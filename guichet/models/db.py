"""Database setup: the Tortoise configuration for a settings' URL, start and stop."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from asyncpg import exceptions as asyncpg_errors
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError

from guichet.models import MODEL_MODULES

# A second writer waits up to this long for SQLite's single write lock instead of failing.
SQLITE_BUSY_TIMEOUT_MS = 5000


def tortoise_config(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0] or ":memory:"
        connection: dict[str, Any] = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": path,
                "journal_mode": "WAL",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "foreign_keys": "ON",
                "synchronous": "NORMAL",
            },
        }
    else:
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = _reset_returning_connection
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [*MODEL_MODULES, "aerich.models"],
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(database_url: str) -> None:
    """Connect the process to its database. The context is process-wide so every task
    (uvicorn's requests, the worker, websocket handlers) sees the same connections."""
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


async def _reset_returning_connection(connection: Any) -> None:
    """What a PostgreSQL connection goes through on its way back to the pool.

    asyncpg's default resets every connection with a round trip (`pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`), once per statement here since each statement borrows
    a connection. Guichet leaves no session state behind (no SET, LISTEN, advisory lock or
    cursor outside a transaction), so only a transaction cut short needs undoing."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class _OneConnection:
    """Tortoise's client, narrowed to one pooled connection for a run of reads. A
    connection runs one statement at a time: reads asked for together (the loaders of
    one level) take turns."""

    __slots__ = ("capabilities", "client", "raw", "turn")

    def __init__(self, client: Any, raw: Any) -> None:
        self.client = client
        self.raw = raw
        self.capabilities = client.capabilities
        self.turn = asyncio.Lock()

    async def execute_query_dict(self, query: str, values: list | None = None) -> list[dict]:
        self.client.log.debug("%s: %s", query, values)  # as Tortoise logs each statement
        async with self.turn:
            records = await self.raw.fetch(query, *(values or ()))
        return [dict(r) for r in records]

    async def execute_query(self, query: str, values: list | None = None) -> tuple[int, list]:
        return await self.client.execute_query(query, values)  # writes keep the pool's path


_pinned: ContextVar[_OneConnection | None] = ContextVar("guichet_one_connection", default=None)


def db():
    """The connection every query of this process runs on: within `one_connection()`, the
    one it holds (unless a transaction has begun since, which has its own)."""
    current = connections.get("default")
    pinned = _pinned.get()
    if pinned is not None and current is pinned.client:
        return pinned
    return current


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """Run the reads of the block on ONE pooled connection, borrowed once, instead of one
    borrow per statement (PostgreSQL; SQLite has a single connection anyway)."""
    client = connections.get("default")
    if _pinned.get() is not None or client.capabilities.dialect != "postgres":
        yield
        return
    async with client.acquire_connection() as raw:
        token = _pinned.set(_OneConnection(client, raw))
        try:
            yield
        finally:
            _pinned.reset(token)


def dialect() -> str:
    return db().capabilities.dialect


async def ping() -> None:
    await db().execute_query("SELECT 1")


# ---------------------------------------------------------------- faults of the database

_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
_UNREACHABLE = (
    ConnectionError,
    DBConnectionError,
    asyncpg_errors.PostgresConnectionError,  # lost, refused, shutting down, starting up
    asyncpg_errors.InterfaceError,  # "connection is closed", "pool is closing"
    asyncpg_errors.CannotConnectNowError,
    asyncpg_errors.AdminShutdownError,
    asyncpg_errors.CrashShutdownError,
    asyncpg_errors.TooManyConnectionsError,
)


def _causes(error: BaseException | None):
    """The error and what it wraps (Tortoise wraps the driver's errors)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_unreachable(error: BaseException) -> bool:
    """The database could not be reached or went away: retrying later may work."""
    for cause in _causes(error):
        if isinstance(cause, _UNREACHABLE):
            return True
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNOS:
            return True
        if isinstance(cause, TimeoutError):
            return True
    return False


def is_conflict(error: BaseException) -> bool:
    """The transaction lost against a concurrent one (deadlock, serialization failure, or
    SQLite's single writer still busy): nothing was written, and running it again may work."""
    for cause in _causes(error):
        if isinstance(cause, asyncpg_errors.TransactionRollbackError):
            return True
        if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause):
            return True
    return False
