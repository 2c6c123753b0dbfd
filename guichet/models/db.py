"""Database setup: the Tortoise configuration for a settings' URL, start and stop."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url

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


def db():
    """The connection every query of this process runs on."""
    return connections.get("default")


def dialect() -> str:
    return db().capabilities.dialect


async def ping() -> None:
    await db().execute_query("SELECT 1")
