"""Schema migrations (aerich), applied in order, each once, in a transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aerich import Command
from tortoise.context import TortoiseContext

from guichet.models.db import tortoise_config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The advisory lock every Guichet process takes to migrate a PostgreSQL database.
MIGRATION_LOCK = 0x6775_6963_6865_74  # "guichet"


class DatabaseUnavailable(Exception):
    """The database cannot be opened or reached; the message is one line."""


def _check_sqlite_file(database_url: str) -> None:
    """Open a SQLite file with the standard library first: aiosqlite's worker thread
    outlives a failed open and writes a traceback when the process ends."""
    config_path = tortoise_config(database_url)["connections"]["default"]
    if not isinstance(config_path, dict) or "file_path" not in config_path.get("credentials", {}):
        return
    path = config_path["credentials"]["file_path"]
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as error:
        raise DatabaseUnavailable(f"cannot open the database: {error}") from error


@contextlib.asynccontextmanager
async def _alone(database_url: str) -> AsyncIterator[None]:
    """On PostgreSQL, one process migrates at a time: a server and `guichet smtpd` started
    together on a new database would otherwise both create the same tables. The lock is
    the session's: closing its connection releases it, even when the process dies."""
    if database_url.startswith("sqlite://"):
        yield  # SQLite has one writer at a time already
        return
    try:
        holder = await asyncpg.connect(database_url, timeout=30)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise DatabaseUnavailable(f"cannot open the database: {detail}") from error
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        yield
    finally:
        await holder.close()


async def apply_migrations(database_url: str) -> list[str]:
    """Bring the database up to date; returns the migrations applied (none when current)."""
    _check_sqlite_file(database_url)
    async with _alone(database_url):
        return await _upgrade(database_url)


async def _upgrade(database_url: str) -> list[str]:
    config = tortoise_config(database_url)
    # A Tortoise context of its own: this migrates the database named here even in a
    # process that has another one open (a test run, a server), and leaves that one alone.
    async with TortoiseContext() as context:
        await context.init(config=config)
        try:
            # First, before aerich: it reads a failed query on its version table as "nothing
            # applied yet", and Tortoise's SQLite client then waits forever on its lock for
            # a file it could not open.
            await context.db().execute_query("SELECT 1")
        except Exception as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise DatabaseUnavailable(f"cannot open the database: {detail}") from error
        command = Command(config, app="models", location=str(MIGRATIONS_DIR))
        await command.init()
        return await command.upgrade(run_in_transaction=True)
