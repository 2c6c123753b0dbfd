"""A `guichet serve` process for the benches that measure a real server: started on a free
port, ready once /healthz answers, stopped (SIGINT, as Ctrl-C) when the bench is done."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    port: int, env: dict[str, str], work: Path, launcher: Sequence[str] = ()
) -> Iterator[subprocess.Popen]:
    """The server, its output in `work/server.log`; `launcher` goes before the command
    (e.g. `taskset -c 0`)."""
    with open(work / "server.log", "w") as log:
        server = subprocess.Popen(
            [*launcher, "guichet", "serve", "--port", str(port), "--no-worker"],
            env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield server
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
