"""Migrations: they match the models, they are idempotent, and the schema keeps one owner."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tortoise.exceptions import IntegrityError

from guichet.models.migrate import MIGRATIONS_DIR, apply_migrations
from guichet.models.people import Role, User
from guichet.server.settings import Settings
from tests.services import need_postgres

ROOT = Path(__file__).resolve().parents[2]

# aerich keeps its state on classes and Tortoise its context per process: the diff runs
# in a child process, on a scratch copy of the migrations, without touching a database.
DIFF = """
import asyncio
import sys

from aerich import Command
from tortoise import Tortoise

from guichet.models.db import tortoise_config


async def main(url, location, extra):
    config = tortoise_config(url)
    config["apps"]["models"]["models"].extend(extra)
    command = Command(config, app="models", location=location)
    await command.init(offline=True)
    try:
        print(repr(await command.migrate("check", no_input=True, offline=True)))
    finally:
        await Tortoise.close_connections()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"""

OFFLINE_URLS = {
    "sqlite": "sqlite://:memory:",
    # Never connected to: offline, aerich only builds this dialect's DDL.
    "postgres": "postgres://guichet@127.0.0.1:1/guichet",
}


def migration_files(location: Path) -> set[str]:
    return {p.name for p in (location / "models").glob("[0-9]*_*.py")}


def in_order(names: set[str]) -> list[str]:
    """As they apply: by number (10 after 9)."""
    return sorted(names, key=lambda name: int(name.split("_", 1)[0]))


def diff(tmp_path: Path, dialect: str, *extra_modules: str) -> tuple[str, set[str]]:
    """Runs aerich's diff on a copy of the migrations; returns its answer and the new files."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = migration_files(copy)
    result = subprocess.run(
        [sys.executable, "-c", DIFF, OFFLINE_URLS[dialect], str(copy), *extra_modules],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), migration_files(copy) - before


@pytest.mark.parametrize("dialect", sorted(OFFLINE_URLS))
def test_the_migrations_match_the_models(tmp_path: Path, dialect: str) -> None:
    answer, new_files = diff(tmp_path, dialect)
    assert new_files == set(), (
        "the models changed without a migration: run `python tools/makemigrations.py NAME`"
    )
    assert answer == "''"


def test_the_check_notices_a_model_without_a_migration(tmp_path: Path) -> None:
    """The test above could pass for a wrong reason; a model added in the child is noticed."""
    (tmp_path / "unmigrated_models.py").write_text(
        "from tortoise import fields\n"
        "from tortoise.models import Model\n\n\n"
        "class Unmigrated(Model):\n"
        "    id = fields.IntField(primary_key=True)\n\n"
        "    class Meta:\n"
        '        table = "unmigrated"\n'
    )
    answer, new_files = diff(tmp_path, "sqlite", "unmigrated_models")
    assert len(new_files) == 1
    assert answer == repr(new_files.pop())


def test_every_migration_answers_both_dialects() -> None:
    import importlib.util

    for path in sorted((MIGRATIONS_DIR / "models").glob("[0-9]*_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert set(module.UPGRADE) == {"sqlite", "postgres"}, path.name
        assert set(module.DOWNGRADE) == {"sqlite", "postgres"}, path.name
        assert module.MODELS_STATE, path.name


# ---------------------------------------------------------------- one owner, by the database


async def test_the_database_refuses_a_second_owner(app) -> None:
    await User.create(name="Olivia", email="olivia@guichet.test", role=Role.OWNER)
    with pytest.raises(IntegrityError):
        await User.create(name="Oscar", email="oscar@guichet.test", role=Role.OWNER)
    assert await User.filter(role=Role.OWNER).count() == 1


async def test_promoting_a_second_owner_is_refused_too(app) -> None:
    await User.create(name="Olivia", email="olivia@guichet.test", role=Role.OWNER)
    admin = await User.create(name="Adam", email="adam@guichet.test", role=Role.ADMIN)
    with pytest.raises(IntegrityError):
        await User.filter(pk=admin.pk).update(role=Role.OWNER)
    assert (await User.get(pk=admin.pk)).role == Role.ADMIN


async def test_only_the_owner_role_is_unique(app) -> None:
    for role in (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT, Role.END_USER):
        await User.create(name=f"{role} 1", email=f"{role.lower()}1@guichet.test", role=role)
        await User.create(name=f"{role} 2", email=f"{role.lower()}2@guichet.test", role=role)
    assert await User.all().count() == 8


async def test_ownership_can_move_once_the_owner_steps_down(app) -> None:
    olivia = await User.create(name="Olivia", email="olivia@guichet.test", role=Role.OWNER)
    await User.filter(pk=olivia.pk).update(role=Role.ADMIN)
    await User.create(name="Oscar", email="oscar@guichet.test", role=Role.OWNER)
    assert await User.filter(role=Role.OWNER).values_list("name", flat=True) == ["Oscar"]


# ---------------------------------------------------------------- apply_migrations


async def test_apply_migrations_on_a_migrated_database_applies_nothing(
    app, settings: Settings
) -> None:
    assert await apply_migrations(settings.database_url) == []
    # The process' own connections are left open and working.
    await User.create(name="Still", email="still@guichet.test", role=Role.AGENT)
    assert await User.all().count() == 1


def _migrate_in_child(url: str) -> subprocess.CompletedProcess:
    """apply_migrations in a child process: Tortoise builds its model classes' queries for
    one SQL dialect per process, so a second dialect in this one would break the suite's
    PostgreSQL run."""
    code = (
        "import asyncio, sys\n"
        "from guichet.models.migrate import DatabaseUnavailable, apply_migrations\n"
        "try:\n"
        "    print(asyncio.run(apply_migrations(sys.argv[1])))\n"
        "    print(asyncio.run(apply_migrations(sys.argv[1])))\n"
        "except DatabaseUnavailable as error:\n"
        "    print('unavailable:', error)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60, check=True
    )


async def test_apply_migrations_migrates_the_database_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'other.sqlite3'}"
    files = in_order(await asyncio.to_thread(migration_files, MIGRATIONS_DIR))
    done = await asyncio.to_thread(_migrate_in_child, url)
    assert done.stdout.splitlines() == [repr(files), "[]"]


@pytest.fixture
def unopenable_sqlite(tmp_path: Path) -> str:
    """A database under a regular file: SQLite cannot create it."""
    (tmp_path / "a-file").write_text("")
    return f"sqlite://{tmp_path / 'a-file' / 'db.sqlite3'}"


async def test_an_unopenable_database_fails_at_once(unopenable_sqlite: str) -> None:
    done = await asyncio.to_thread(_migrate_in_child, unopenable_sqlite)
    assert done.stdout.startswith("unavailable: cannot open the database")


@pytest.fixture
async def fresh_postgres_database() -> AsyncIterator[str]:
    """An empty database beside the test one, dropped afterwards."""
    url = need_postgres()
    name = f"guichet_fresh_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.rsplit("/", 1)[0] + f"/{name}"
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_two_processes_starting_together_migrate_a_new_postgres_database_once(
    fresh_postgres_database: str,
) -> None:
    files = in_order(await asyncio.to_thread(migration_files, MIGRATIONS_DIR))
    first, second = await asyncio.gather(
        asyncio.to_thread(_migrate_in_child, fresh_postgres_database),
        asyncio.to_thread(_migrate_in_child, fresh_postgres_database),
    )
    applied = sorted([first.stdout.splitlines()[0], second.stdout.splitlines()[0]])
    # One of them applied everything; the other waited for it and found nothing to do.
    assert applied == sorted([repr(files), "[]"])
