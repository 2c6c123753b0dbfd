"""The embedded database is set up for a server: WAL and a busy timeout on SQLite."""

from __future__ import annotations

import pytest

from guichet.models import db


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    if db.dialect() != "sqlite":
        pytest.skip("SQLite settings; this run uses PostgreSQL")
    journal = await db.db().execute_query_dict("PRAGMA journal_mode")
    timeout = await db.db().execute_query_dict("PRAGMA busy_timeout")
    foreign_keys = await db.db().execute_query_dict("PRAGMA foreign_keys")
    assert next(iter(journal[0].values())).lower() == "wal"
    assert next(iter(timeout[0].values())) == db.SQLITE_BUSY_TIMEOUT_MS
    assert next(iter(foreign_keys[0].values())) == 1
