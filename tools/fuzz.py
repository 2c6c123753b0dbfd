#!/usr/bin/env python3
"""Fuzz the GraphQL API with schemathesis, as every role, against a real server.

    python tools/fuzz.py [--max-time 25] [--examples 20] [--seed N] [--roles owner,agent]
                         [--database-url postgres://…/empty_db] [--exclude Mutation.x] [--keep]

Starts `guichet serve --demo` on a throw-away SQLite database (or the empty database given)
on loopback, signs in as the owner, an admin, an agent, a light agent and a customer of the
demo data, and runs `st run` (schemathesis, fuzzing phase) against /graphql once per role
and once without credentials, each for at most --max-time seconds (about 2,000 requests;
the whole run takes about 3 minutes on 2 cores). Values come from tools/fuzz_hooks.py (ids
of the demo objects, date-times at the ends of the calendar, JSON values). A finding is a
5xx, a response with "Unexpected error.", or a traceback (or any ERROR line) in the
server's log. Exits 0 when there is none, 1 otherwise; the log, the database and the
schemathesis reports stay in the printed directory when something was found. The seed is
random unless given, and printed: `--seed N` replays a run.

Needs the `fuzz` extra: pip install -e ".[fuzz]".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO_PASSWORD = "guichet-demo"
ROLES = {
    "owner": "owner@guichet.test",
    "admin": "admin@guichet.test",
    "agent": "agnes@guichet.test",
    "light-agent": "louise@guichet.test",
    "end-user": "alice@acme.test",
    "anonymous": None,
}
# Signed-in runs leave these out: they would end the session the run signs in with.
ENDS_SESSION = ["Mutation.logout", "Mutation.changePassword"]
# Everything the owner can list, for ids that exist (written for fuzz_hooks.py).
INVENTORY = """{
  me { id organizations { id } groups { id } }
  customFields { id }
  myApprovalRequests(first: 100) { edges { node { id } } }
  suggestArticles(query: "printer password invoice", first: 20) { id }
  tickets(first: 50) { edges { node {
    id requester { id } submitter { id } assignee { id } group { id agents { id } }
    organization { id members(first: 10) { edges { node { id } } } }
    ccs { id } followUpOf { id } approvalRequests { id } activities { id } timeEntries { id }
    comments(first: 3) { edges { node { id } } } history(first: 3) { edges { node { id } } }
  } } }
}"""
LOG_FINDINGS = re.compile(r"Traceback|^ERROR|ERROR:|CRITICAL|unexpected error", re.MULTILINE)


def executable(name: str) -> str:
    """A command of this Python's environment (a virtualenv's bin), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f'fuzz: no `{name}` command; pip install -e ".[fuzz]"')
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, query: str, token: str | None = None) -> dict:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps({"query": query}).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: the server exited with {server.returncode} at start-up")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"fuzz: the server did not answer /healthz within {timeout:.0f} s")


def sign_in(url: str, email: str) -> str:
    answer = post(
        url,
        f'mutation {{ login(input: {{email: "{email}", password: "{DEMO_PASSWORD}"}})'
        " { token errors { code } } }",
    )
    token = answer["data"]["login"]["token"]
    if not token:
        raise SystemExit(f"fuzz: cannot sign in as {email}: {answer}")
    return token


def ids_in(value) -> set[str]:
    if isinstance(value, dict):
        found = {value["id"]} if isinstance(value.get("id"), str) else set()
        for item in value.values():
            found |= ids_in(item)
        return found
    if isinstance(value, list):
        return set().union(*(ids_in(item) for item in value)) if value else set()
    return set()


def run_schemathesis(url: str, role: str, token: str | None, args, work: Path) -> int:
    command = [
        executable("st"),
        "run",
        url,
        "--phases",
        "fuzzing",
        "--max-examples",
        str(args.examples),
        "--max-time",
        str(args.max_time),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
        "--exclude-checks",
        "not_a_server_error,positive_data_acceptance",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
        "--report",
        "junit",
        "--report-dir",
        str(work / f"report-{role}"),
    ]
    excluded = [name for name in args.exclude.split(",") if name]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
        excluded += ENDS_SESSION
    for name in excluded:
        command += ["--exclude-name", name]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="fuzz_hooks",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        FUZZ_IDS_FILE=str(work / "ids.json"),
    )
    print(f"\n=== fuzz as {role}", flush=True)
    started = time.monotonic()
    status = subprocess.call(command, env=env, cwd=work)  # its caches stay out of the checkout
    print(f"=== {role}: exit {status} in {time.monotonic() - started:.0f} s", flush=True)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=20, help="examples per operation")
    parser.add_argument("--max-time", type=int, default=25, help="seconds per role at most")
    parser.add_argument("--seed", type=int, default=random.randrange(2**31))
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated roles")
    parser.add_argument("--keep", action="store_true", help="keep the database and the log")
    parser.add_argument(
        "--exclude", default="", help="comma-separated operations to leave out (Mutation.login)"
    )
    parser.add_argument(
        "--database-url", help="an empty database to use instead of a new SQLite file"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="guichet-fuzz."))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/graphql"
    env = dict(
        os.environ,
        GUICHET_DATABASE_URL=args.database_url or f"sqlite://{work / 'fuzz.sqlite3'}",
        GUICHET_SECRET_KEY="fuzz-" + "0123456789abcdef" * 3,
        GUICHET_STORAGE_DIR=str(work / "storage"),
        GUICHET_PUBLIC_URL=base,
        # Thousands of requests from one address: no rate limit, no cost budget.
        GUICHET_SIGN_IN_RATE_PER_MINUTE="0",
        GUICHET_COST_BUDGET="0",
    )
    env.pop("GUICHET_SMTP_URL", None)
    log_path = work / "server.log"
    print(f"fuzz: seed {args.seed}, server log {log_path}", flush=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [executable("guichet"), "serve", "--host", "127.0.0.1", "--port", str(port), "--demo"],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    statuses: dict[str, int] = {}
    try:
        wait_until_up(base, server)
        tokens = {role: sign_in(url, email) for role, email in ROLES.items() if email}
        inventory = post(url, INVENTORY, tokens["owner"])
        if inventory.get("errors"):
            raise SystemExit(f"fuzz: cannot list the demo data: {inventory['errors']}")
        known = ids_in(inventory)
        (work / "ids.json").write_text(json.dumps(sorted(known)))
        print(f"fuzz: {len(known)} ids of the demo data", flush=True)
        for role in args.roles.split(","):
            statuses[role] = run_schemathesis(url, role, tokens.get(role), args, work)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    findings = sorted(set(LOG_FINDINGS.findall(log_path.read_text(errors="replace"))))
    failed = [role for role, status in statuses.items() if status != 0]
    print("\n=== fuzz summary")
    for role, status in statuses.items():
        print(f"  {role}: {'ok' if status == 0 else f'FINDINGS (exit {status})'}")
    if findings:
        print(f"  server log: {', '.join(findings)} (see {log_path})")
    if failed or findings:
        print(f"fuzz: findings; reports and log kept in {work} (seed {args.seed})")
        return 1
    if args.keep:
        print(f"fuzz: no finding; database, reports and log kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
        print("fuzz: no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
