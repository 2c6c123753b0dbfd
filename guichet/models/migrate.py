"""Schema migrations (aerich), applied in order, each once, in a transaction."""

from __future__ import annotations

from pathlib import Path

from aerich import Command

from guichet.models.db import tortoise_config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


async def apply_migrations(database_url: str) -> list[str]:
    """Bring the database up to date; returns the migrations applied (none when current)."""
    async with Command(
        tortoise_config(database_url), app="models", location=str(MIGRATIONS_DIR)
    ) as command:
        await command.init()
        return await command.upgrade(run_in_transaction=True)
