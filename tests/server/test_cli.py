"""The `guichet` command, run for real: a child process, its exit code, stdout and stderr."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from guichet.models.migrate import MIGRATIONS_DIR
from guichet.server.demo import DEMO_PASSWORD
from tests import services
from tests.conftest import free_port

GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))
KEY = "cli-test-secret-key-that-is-long-enough-0123"
TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    GUICHET is None, reason="the guichet console script is not installed"
)


def migration_files() -> list[str]:
    """In the order they apply: by number (10 after 9)."""
    names = [p.name for p in (MIGRATIONS_DIR / "models").glob("[0-9]*_*.py")]
    return sorted(names, key=lambda name: int(name.split("_", 1)[0]))


def base_env(**values: str) -> dict[str, str]:
    """This process' environment without any GUICHET_* setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(values)
    return env


Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'cli.sqlite3'}"


@pytest.fixture
def guichet(tmp_path: Path, database: str) -> Run:
    """Runs `guichet *args` in tmp_path on a scratch SQLite database; `env` adds/overrides."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [GUICHET, *args],
            cwd=tmp_path,
            env=base_env(**{"GUICHET_DATABASE_URL": database, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    return run


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single `guichet: ...` line a refused command prints on stderr."""
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("guichet: "), result.stderr
    return lines[0]


def last_error(result: subprocess.CompletedProcess) -> str:
    """The `guichet: ...` line of a command that may have logged before failing."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("guichet: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ---------------------------------------------------------------- migrate


def test_migrate_applies_every_migration_then_nothing(guichet: Run, tmp_path: Path) -> None:
    first = guichet("migrate")
    assert first.returncode == 0, first.stderr
    files = migration_files()
    assert first.stdout == f"applied {len(files)} migration(s): {', '.join(files)}\n"
    assert (tmp_path / "cli.sqlite3").is_file()
    # No key given: one was generated next to the database, with a warning.
    assert (tmp_path / "cli.sqlite3.secret").is_file()
    assert "GUICHET_SECRET_KEY is not set" in first.stderr

    again = guichet("migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "applied 0 migration(s)\n"
    assert "GUICHET_SECRET_KEY is not set" not in again.stderr  # the kept key is reused


def test_an_unopenable_sqlite_database_fails_at_once(guichet: Run, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = guichet(
        "migrate",
        env={
            "GUICHET_DATABASE_URL": f"sqlite://{tmp_path / 'a-file' / 'db.sqlite3'}",
            "GUICHET_SECRET_KEY": KEY,
        },
    )
    assert result.returncode == 1
    line = one_line_error(result)
    assert "cannot open the database" in line
    assert "GUICHET_DATABASE_URL" in line


def test_an_unreachable_postgres_fails_in_one_line(guichet: Run) -> None:
    url = f"postgres://guichet:hunter2@127.0.0.1:{free_port()}/guichet"
    result = guichet("migrate", env={"GUICHET_DATABASE_URL": url, "GUICHET_SECRET_KEY": KEY})
    assert result.returncode == 1
    line = one_line_error(result)
    assert "cannot open the database" in line
    assert "hunter2" not in line


# ---------------------------------------------------------------- create-user


def test_create_user_and_only_one_owner(guichet: Run) -> None:
    created = guichet(
        "create-user",
        "--name",
        "Olivia Martin",
        "--email",
        "Olivia@Example.test",
        "--password",
        "a long enough password",
        "--role",
        "OWNER",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created OWNER Olivia Martin <olivia@example.test> (id ")

    second = guichet(
        "create-user",
        "--name",
        "Oscar Other",
        "--email",
        "oscar@example.test",
        "--password",
        "a long enough password",
        "--role",
        "OWNER",
    )
    assert second.returncode != 0
    assert second.stdout == ""
    assert "owner" in last_error(second).lower()

    # The role is read whatever its case.
    agent = guichet(
        "create-user",
        "--name",
        "Agnès Petit",
        "--email",
        "agnes@example.test",
        "--password",
        "a long enough password",
        "--role",
        "agent",
    )
    assert agent.returncode == 0, agent.stderr
    assert agent.stdout.startswith("created AGENT Agnès Petit <agnes@example.test>")

    taken = guichet(
        "create-user",
        "--name",
        "Agnès Again",
        "--email",
        "AGNES@example.test",
        "--password",
        "a long enough password",
        "--role",
        "END_USER",
    )
    assert taken.returncode != 0
    assert "agnes@example.test" in last_error(taken).lower()


@pytest.mark.parametrize("role", ["KING", "superuser", ""])
def test_create_user_validates_the_role(guichet: Run, tmp_path: Path, role: str) -> None:
    result = guichet(
        "create-user",
        "--name",
        "Nobody",
        "--email",
        "nobody@example.test",
        "--password",
        "a long enough password",
        "--role",
        role,
    )
    assert result.returncode == 2
    assert "--role" in result.stderr
    assert "Traceback" not in result.stderr
    # Refused before anything was opened.
    assert not (tmp_path / "cli.sqlite3").exists()


@pytest.mark.parametrize(
    ("email", "password", "expected"),
    [
        ("weak@example.test", "short", "at least 10 characters"),
        ("not-an-address", "a long enough password", "'not-an-address' is not an e-mail address"),
    ],
)
def test_create_user_refuses_a_weak_password_or_a_bad_email(
    guichet: Run, email: str, password: str, expected: str
) -> None:
    result = guichet(
        "create-user",
        "--name",
        "Someone",
        "--email",
        email,
        "--password",
        password,
        "--role",
        "AGENT",
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert expected in last_error(result)


def test_create_user_needs_every_option(guichet: Run) -> None:
    result = guichet("create-user", "--name", "Someone")
    assert result.returncode == 2
    assert "Missing option" in result.stderr


# ---------------------------------------------------------------- export-schema


@pytest.mark.parametrize(
    "database_env", [{}, {"GUICHET_DATABASE_URL": "mysql://broken"}, {"GUICHET_DEBUG": "maybe"}]
)
def test_export_schema_needs_no_database_nor_settings(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [GUICHET, "export-schema"],
        cwd=tmp_path,
        env=base_env(**database_env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "directive @requires(role: Role!) on FIELD_DEFINITION" in result.stdout
    assert "type Query" in result.stdout
    assert "type Mutation" in result.stdout
    assert "Traceback" not in result.stderr
    # Nothing written: no database, no generated key.
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- demo


def test_demo_loads_people_once(guichet: Run) -> None:
    loaded = guichet("demo")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("demo: 8 users, 2 organizations, 2 groups")
    assert DEMO_PASSWORD in loaded.stdout

    again = guichet("demo")
    assert again.returncode != 0
    assert "not empty" in last_error(again)

    # The demo has its owner: there cannot be another.
    owner = guichet(
        "create-user",
        "--name",
        "Oscar Other",
        "--email",
        "oscar@example.test",
        "--password",
        "a long enough password",
        "--role",
        "OWNER",
    )
    assert owner.returncode != 0
    assert "owner" in last_error(owner).lower()


# ---------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GUICHET_DATABASE_URL": "mysql://x"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_DATABASE_URL": "postgres://127.0.0.1:5432"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_BROADCAST_URL": "kafka://x"}, "GUICHET_BROADCAST_URL"),
        ({"GUICHET_TOKEN_TTL_DAYS": "0"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_DEBUG": "maybe"}, "GUICHET_DEBUG"),
        ({"GUICHET_SECRET_KEY": "short"}, "GUICHET_SECRET_KEY"),
    ],
)
def test_a_bad_setting_stops_migrate_in_one_line(
    guichet: Run, tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = guichet("migrate", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert variable in one_line_error(result)
    # Nothing written: no database, no generated key.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["demo"],
        ["worker"],
        ["serve"],
        ["smtpd"],
        [
            "create-user",
            "--name",
            "N",
            "--email",
            "n@example.test",
            "--password",
            "x" * 12,
            "--role",
            "AGENT",
        ],
    ],
)
def test_every_command_that_needs_settings_checks_them(guichet: Run, args: list[str]) -> None:
    result = guichet(*args, env={"GUICHET_DATABASE_URL": "mysql://x"})
    assert result.returncode == 2
    assert "GUICHET_DATABASE_URL" in one_line_error(result)


def test_serve_refuses_several_workers_on_sqlite(guichet: Run, tmp_path: Path) -> None:
    result = guichet("serve", "--workers", "2", env={"GUICHET_SECRET_KEY": KEY})
    assert result.returncode == 2
    assert "PostgreSQL" in one_line_error(result)
    assert not (tmp_path / "cli.sqlite3").exists()


@pytest.mark.parametrize("command", ["serve", "migrate", "worker", "smtpd"])
def test_postgres_without_a_secret_key_is_refused(guichet: Run, command: str) -> None:
    # Nothing listens there: the check happens before any connection.
    url = f"postgres://guichet@127.0.0.1:{free_port()}/guichet"
    result = guichet(command, env={"GUICHET_DATABASE_URL": url})
    assert result.returncode == 2
    line = one_line_error(result)
    assert "GUICHET_SECRET_KEY" in line
    assert "PostgreSQL" in line


def test_help_lists_the_commands(guichet: Run) -> None:
    result = guichet("--help")
    assert result.returncode == 0
    for command in ("migrate", "serve", "worker", "smtpd", "create-user", "export-schema", "demo"):
        assert command in result.stdout


# ---------------------------------------------------------------- serve, for real

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code message } }
}
"""


def test_serve_with_the_demo_answers_over_http(tmp_path: Path, database: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "stdout").open("w") as out, (tmp_path / "stderr").open("w") as err:
        server = subprocess.Popen(
            [GUICHET, "serve", "--port", str(port), "--demo"],
            cwd=tmp_path,
            env=base_env(GUICHET_DATABASE_URL=database),
            stdout=out,
            stderr=err,
        )
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, (tmp_path / "stderr").read_text()
                try:
                    health = client.get("/healthz")
                except httpx.TransportError:
                    health = None
                if health is not None and health.status_code == 200:
                    break
                assert time.monotonic() < deadline, "the server did not answer within 30 s"
                time.sleep(0.1)
            assert health.json() == {"status": "ok", "database": "ok", "pubsub": "ok"}

            signed_in = client.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"email": "owner@guichet.test", "password": DEMO_PASSWORD},
                },
            )
            assert signed_in.status_code == 200, signed_in.text
            login = signed_in.json()["data"]["login"]
            assert login["errors"] == []
            me = client.post(
                "/graphql",
                json={"query": "{ me { name email role } }"},
                headers={"authorization": f"Bearer {login['token']}"},
            )
            assert me.status_code == 200, me.text
            assert me.json()["data"] == {
                "me": {"name": "Olivia Martin", "email": "owner@guichet.test", "role": "OWNER"}
            }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
    assert code == 0, (tmp_path / "stderr").read_text()
    assert (tmp_path / "stdout").read_text().startswith("demo: 8 users")
    stderr = (tmp_path / "stderr").read_text()
    assert "Traceback" not in stderr
    assert "Application shutdown complete" in stderr


# ---------------------------------------------------------------- PostgreSQL


def _server_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def test_migrate_twice_on_a_fresh_postgres_database(tmp_path: Path) -> None:
    test_url = services.need_postgres()
    import asyncpg

    name = f"guichet_cli_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(test_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env = base_env(GUICHET_DATABASE_URL=_server_url(test_url, name), GUICHET_SECRET_KEY=KEY)

            def migrate() -> subprocess.CompletedProcess:
                return subprocess.run(
                    [GUICHET, "migrate"],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                    check=False,
                )

            first = await asyncio.to_thread(migrate)
            assert first.returncode == 0, first.stderr
            files = migration_files()
            assert first.stdout == f"applied {len(files)} migration(s): {', '.join(files)}\n"
            again = await asyncio.to_thread(migrate)
            assert again.returncode == 0, again.stderr
            assert again.stdout == "applied 0 migration(s)\n"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await admin.close()
