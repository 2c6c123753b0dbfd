"""How much the server's memory grows while a 50 MB attachment is uploaded (issue 13).

Starts one `guichet serve` on SQLite in a temporary directory, signs an end user in,
uploads a small file (warm-up: first-use imports and pools), then opens a ticket with a
50 MB file through the GraphQL multipart request spec, streamed by httpx from a file on
disk. The server's RSS is sampled every 5 ms from /proc during the upload, and its peak
(VmHWM, reset just before through /proc/<pid>/clear_refs) read after it: the growth is
the peak minus the RSS before. Then the file is downloaded (sha256 compared, peak again)
and a 51 MB file is sent, which must be refused (FILE_TOO_LARGE) with nothing stored.

    python bench/upload_memory.py [--size-mb 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import free_port, serving  # noqa: E402

PASSWORD = "bench-password"
CREATE = (
    "mutation($input: CreateTicketInput!) { createTicket(input: $input) {"
    " ticket { number attachments { size sha256 url } } errors { code message } } }"
)
LOGIN = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }"


async def seed(url: str) -> None:
    from guichet.models.db import close_database, open_database
    from guichet.models.migrate import apply_migrations
    from guichet.models.people import Role, User
    from guichet.resolvers.people.auth import hash_password

    await apply_migrations(url)
    await open_database(url)
    try:
        await User.create(
            name="Customer",
            email="customer@upload.test",
            role=Role.END_USER,
            password_hash=await hash_password(PASSWORD),
        )
    finally:
        await close_database()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Sampler:
    """The server's RSS every 5 ms, in a thread, while a transfer runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.before = status_kib(pid, "VmRSS")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            time.sleep(0.005)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        peak = max(self.peak, status_kib(self.pid, "VmHWM"))
        return {"before": self.before, "peak": peak, "growth": peak - self.before}


def write_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            handle.write(block)
            digest.update(block)
        rest = block[: size % len(block)]
        handle.write(rest)
        digest.update(rest)
    return digest.hexdigest()


async def send(http: httpx.AsyncClient, token: str, path: Path) -> httpx.Response:
    """createTicket with one file, the file streamed from disk (httpx reads it in chunks)."""
    variables = {"input": {"subject": "Upload", "description": path.name, "attachments": [None]}}
    with path.open("rb") as handle:
        return await http.post(
            "/graphql",
            headers={"authorization": f"Bearer {token}"},
            data={
                "operations": orjson.dumps({"query": CREATE, "variables": variables}).decode(),
                "map": orjson.dumps({"0": ["variables.input.attachments.0"]}).decode(),
            },
            files={"0": (path.name, handle, "application/octet-stream")},
        )


async def run(port: int, pid: int, work: Path, size_mb: int) -> None:
    mib = 1024 * 1024
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
        login = await http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"e": "customer@upload.test", "p": PASSWORD}},
        )
        token = login.json()["data"]["login"]["token"]
        small = work / "warm-up.bin"
        write_file(small, mib)
        warm = (await send(http, token, small)).json()["data"]["createTicket"]
        assert warm["errors"] == [], warm

        big = work / f"{size_mb}mb.bin"
        digest = write_file(big, size_mb * mib)
        sampler = Sampler(pid)
        started = time.perf_counter()
        answer = (await send(http, token, big)).json()["data"]["createTicket"]
        seconds = time.perf_counter() - started
        upload = sampler.stop()
        assert answer["errors"] == [], answer
        [file] = answer["ticket"]["attachments"]
        assert (file["size"], file["sha256"]) == (size_mb * mib, digest), file
        print(
            f"upload {size_mb} MB in {seconds:.2f} s: server RSS {upload['before'] / 1024:.1f} MiB"
            f" before, peak {upload['peak'] / 1024:.1f} MiB, growth"
            f" {upload['growth'] / 1024:.1f} MiB"
        )

        sampler = Sampler(pid)
        received = hashlib.sha256()
        headers = {"authorization": f"Bearer {token}"}
        async with http.stream("GET", file["url"], headers=headers) as r:
            async for chunk in r.aiter_bytes():
                received.update(chunk)
        download = sampler.stop()
        assert received.hexdigest() == digest
        print(f"download {size_mb} MB: server RSS growth {download['growth'] / 1024:.1f} MiB")

        over = work / f"{size_mb + 1}mb.bin"
        write_file(over, (size_mb + 1) * mib)
        stored_before = sorted(p.name for p in (work / "storage").rglob("*") if p.is_file())
        response = await send(http, token, over)
        refused = response.json()["data"]["createTicket"]
        stored_after = sorted(p.name for p in (work / "storage").rglob("*") if p.is_file())
        print(
            f"upload {size_mb + 1} MB: HTTP {response.status_code},"
            f" {[e['code'] for e in refused['errors']]}, ticket {refused['ticket']},"
            f" files stored before/after: {len(stored_before)}/{len(stored_after)}"
        )
        assert [e["code"] for e in refused["errors"]] == ["FILE_TOO_LARGE"]
        assert stored_before == stored_after


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=50, help="also GUICHET_MAX_UPLOAD_MB")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="upload."))
    url = f"sqlite://{work}/upload.sqlite3"
    port = free_port()
    env = os.environ | {
        "GUICHET_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GUICHET_DATABASE_URL": url,
        "GUICHET_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
        "GUICHET_STORAGE_DIR": str(work / "storage"),
        "GUICHET_MAX_UPLOAD_MB": str(args.size_mb),
        "GUICHET_COST_BUDGET": "0",
        "GUICHET_SIGN_IN_RATE_PER_MINUTE": "0",
    }
    os.environ.update(env)
    asyncio.run(seed(url))
    with serving(port, env, work) as server:
        asyncio.run(run(port, server.pid, work, args.size_mb))
    print(f"(server log {work / 'server.log'})")


if __name__ == "__main__":
    main()
