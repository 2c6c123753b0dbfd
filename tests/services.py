"""Real servers for tests: a throwaway redis-server, and the rule for a missing one.

A test that needs a server this machine lacks is skipped with its reason, so the README's
test command passes on a machine with only Python. `.ci/run` installs and starts every
server and sets GUICHET_TEST_REQUIRE_SERVICES (e.g. `redis,chromium` or
`redis,postgres,chromium`): a skip for a service named there is a failure instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn


def _required() -> set[str]:
    raw = os.environ.get("GUICHET_TEST_REQUIRE_SERVICES") or ""
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def missing(service: str, reason: str) -> None:
    """Skip the test for lack of `service`, or fail it where CI promised that service."""
    if service in _required():
        pytest.fail(f"{reason} (GUICHET_TEST_REQUIRE_SERVICES names {service})")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configured_redis_url() -> str | None:
    url = os.environ.get("GUICHET_TEST_BROADCAST_URL") or ""
    return url if url.startswith("redis://") else None


def postgres_url() -> str | None:
    url = os.environ.get("GUICHET_TEST_DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


def need_postgres() -> str:
    """The PostgreSQL test database's URL, or a skip (a failure where CI promised one)."""
    url = postgres_url()
    if url is None:
        missing("postgres", "needs PostgreSQL: set GUICHET_TEST_DATABASE_URL=postgres://…")
    return url  # type: ignore[return-value]


NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class RedisServer:
    """A redis-server of the test's own on a free loopback port, which the test may kill
    and start again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            missing("redis", "redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on port {self.port} within 10 s")

    def kill(self) -> None:
        """Gone at once, as a crash would leave it: no goodbye to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder) on a free
    loopback port, which the test may crash and start again."""

    def __init__(self) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            missing("postgres", "the PostgreSQL server binaries (initdb, pg_ctl) are missing")
        # Not under pytest's tmp_path: as root, postgres runs as `postgres`, which must be
        # able to reach the folder.
        self.folder = Path(tempfile.mkdtemp(prefix="guichet-test-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        # PostgreSQL refuses to run as root.
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def create(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        return self.start()

    def start(self) -> PostgresServer:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
            "-o", options, "start",
        )  # fmt: skip
        return self

    def crash(self) -> None:
        """Stop at once, as a crash would: connections are cut, nothing is said."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop it for good and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@asynccontextmanager
async def served(application) -> AsyncIterator[str]:
    """An app served by uvicorn on a free loopback port, its bus connected here (the
    database is the suite's, already open), for real HTTP and websocket clients."""
    await application.state.bus.connect()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
                await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await application.state.bus.disconnect()
