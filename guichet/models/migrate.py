"""Schema migrations (aerich), applied in order, each once, in a transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aerich import Command
from tortoise.context import TortoiseContext

from guichet.models.db import tortoise_config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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


async def apply_migrations(database_url: str) -> list[str]:
    """Bring the database up to date; returns the migrations applied (none when current)."""
    _check_sqlite_file(database_url)
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
