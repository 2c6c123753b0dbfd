"""Helpers of bench/compare.sh: check the three answers, measure one server under wrk,
print the table. Standard library only (Python 3.11 or later).

    python3 bench/compare.py check DIR NAME…      # DIR/guichet.json, DIR/NAME.json…
    python3 bench/compare.py postmaster URL       # pid of the PostgreSQL server, if local
    python3 bench/compare.py measure --name NAME --server-pid PID [--pg-pid PID] --out FILE -- wrk …
    python3 bench/compare.py table FILE
"""

from __future__ import annotations

import argparse
import base64
import binascii
import difflib
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- the answers


def _guichet_id(value: str) -> tuple[str, int] | None:
    """Guichet's global id: base64url("Type:pk"), unpadded (guichet/resolvers/ids.py)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _postgraphile_id(value: str) -> tuple[str, int] | None:
    """PostGraphile 5's node id: base64 of the JSON ["Type", pk]."""
    try:
        type_name, pk = json.loads(base64.b64decode(value))
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        return None


def _moment(value: str) -> str:
    """A timestamp as UTC isoformat, whatever offset notation the server wrote."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


def _data(name: str, answer: dict) -> dict:
    if answer.get("errors") or not answer.get("data"):
        sys.exit(f"compare: {name} answered with errors: {json.dumps(answer)[:2000]}")
    return answer["data"]


def _common(tickets: dict, decode) -> dict:
    """The answer in one shape: what both schemas say, under Guichet's names, ids decoded
    to (type, pk) by `decode` (None when the server's ids cannot be read)."""

    def person(user: dict | None, *fields: str) -> dict | None:
        if user is None:
            return None
        return {"id": decode(user["id"]), **{f: user[f] for f in fields}}

    rows = []
    for edge in tickets["edges"]:
        node = edge["node"]
        comments = node["comments"]
        rows.append(
            {
                "id": decode(node["id"]),
                "number": node["number"],
                "subject": node["subject"],
                "status": node["status"],
                "priority": node["priority"],
                "updatedAt": _moment(node["updatedAt"]),
                "requester": person(node["requester"], "name", "email"),
                "assignee": person(node["assignee"], "name"),
                "comments": {
                    "totalCount": comments["totalCount"],
                    "nodes": [
                        {
                            "id": decode(c["node"]["id"]),
                            "body": c["node"]["body"],
                            "public": c["node"]["public"],
                            "createdAt": _moment(c["node"]["createdAt"]),
                            "author": person(c["node"]["author"], "name"),
                        }
                        for c in comments["edges"]
                    ],
                },
            }
        )
    return {"totalCount": tickets["totalCount"], "tickets": rows}


def _diff(left_name: str, left: Any, right_name: str, right: Any, limit: int = 80) -> str:
    lines = difflib.unified_diff(
        json.dumps(left, indent=1, sort_keys=True, default=str).splitlines(),
        json.dumps(right, indent=1, sort_keys=True, default=str).splitlines(),
        left_name,
        right_name,
        lineterm="",
    )
    out = list(lines)
    more = f"\n… {len(out) - limit} more diff lines" if len(out) > limit else ""
    return "\n".join(out[:limit]) + more


def check(directory: Path, names: list[str]) -> None:
    """Guichet's answer is the reference. Guichet with other settings and the floor must
    answer the same JSON; PostGraphile the same data once mapped to one shape (its query,
    bench/postgraphile/dashboard.graphql, aliases its fields to Guichet's names)."""
    raw = {name: (directory / f"{name}.json").read_bytes() for name in ("guichet", *names)}
    answers = {name: json.loads(body) for name, body in raw.items()}
    guichet = _data("guichet", answers["guichet"])
    edges = guichet["tickets"]["edges"]
    if not edges:
        sys.exit("compare: Guichet's list is empty: nothing to compare (is the database seeded?)")
    said = []
    for name in dict.fromkeys(names):
        if name == "guichet":
            continue
        data = _data(name, answers[name])
        if name != "postgraphile":
            if answers[name] != answers["guichet"]:
                sys.exit(
                    f"compare: {name}'s answer differs from Guichet's:\n"
                    + _diff("guichet", answers["guichet"], name, answers[name])
                )
            same = "byte for byte" if raw[name] == raw["guichet"] else "as JSON; bytes differ"
            said.append(f"{name} = guichet ({same})")
            continue
        tickets = data["allTickets"]
        readable = all(_postgraphile_id(e["node"]["id"]) is not None for e in tickets["edges"])
        left = _common(guichet["tickets"], _guichet_id if readable else lambda _: None)
        right = _common(tickets, _postgraphile_id if readable else lambda _: None)
        if left != right:
            sys.exit(
                "compare: PostGraphile's answer differs from Guichet's (mapped to one shape):\n"
                + _diff("guichet", left, "postgraphile", right)
            )
        ids = "ids compared as (type, primary key)" if readable else "ids not readable: left out"
        said.append(f"postgraphile = guichet once mapped ({ids})")
    comments = sum(len(e["node"]["comments"]["edges"]) for e in edges)
    print(
        f"answers agree: {len(edges)} tickets of {guichet['tickets']['totalCount']},"
        f" {comments} comments; " + "; ".join(said)
    )


# ---------------------------------------------------------------- CPU from /proc


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks: utime + stime + cutime + cstime) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    # fields[0] is state (field 3): ppid is field 4, utime..cstime fields 14 to 17.
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def tree_ticks(root: int | None) -> int | None:
    """CPU ticks of a process and all its live descendants (children that ended and were
    waited for are in their parent's cutime/cstime already)."""
    if root is None or _stat(root) is None:
        return None
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)], ticks[int(entry)] = found
    total, todo = 0, [root]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def machine_busy_ticks() -> int:
    """Ticks all CPUs spent not idle, from the `cpu` line of /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def postmaster(url: str) -> None:
    """Print the pid of the PostgreSQL postmaster behind `url` when it runs on this
    machine (the parent of our own backend), else nothing. The backend is looked up while
    psql is still connected: once it disconnects, the backend is gone."""
    try:
        psql = subprocess.Popen(
            ["psql", "-X", "-w", "-At", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    except OSError:
        return
    try:
        psql.stdin.write("SELECT pg_backend_pid();\n")
        psql.stdin.flush()
        backend = psql.stdout.readline().strip()
        found = _stat(int(backend)) if backend.isdigit() else None
    finally:
        psql.stdin.close()
        psql.wait(timeout=10)
    if found is not None:
        print(found[0])


# ---------------------------------------------------------------- one measurement


def measure(name: str, server_pid: int, pg_pid: int | None, out: Path, wrk: list[str]) -> None:
    """Run wrk (the command given) and record, for the same window, the server's and
    PostgreSQL's CPU, wrk's own, and what the rest of the machine used."""
    before = (tree_ticks(server_pid), tree_ticks(pg_pid), machine_busy_ticks(), time.monotonic())
    process = subprocess.Popen(wrk, stdout=subprocess.PIPE, text=True)
    output = process.communicate()[0]
    # communicate() has waited for wrk, our only child: its CPU is our children's time.
    usage = os.times()
    wrk_seconds = usage.children_user + usage.children_system
    after = (tree_ticks(server_pid), tree_ticks(pg_pid), machine_busy_ticks(), time.monotonic())
    if process.returncode != 0:
        sys.exit(f"compare: wrk failed for {name}:\n{output}")
    values = dict(re.findall(r"^(requests/s|p50|p99): ([\d.]+)", output, re.M))
    counts = re.search(r"^requests: (\d+), errors: (\d+)", output, re.M)
    if not values or not counts:
        sys.exit(f"compare: cannot read wrk's output for {name}:\n{output}")
    requests, errors = int(counts[1]), int(counts[2])
    if requests == 0:
        sys.exit(f"compare: no request completed for {name}:\n{output}")
    wall = after[3] - before[3]

    def seconds(i: int) -> float | None:
        if before[i] is None or after[i] is None:
            return None
        return (after[i] - before[i]) / CLOCK_TICKS

    server, database, machine = seconds(0), seconds(1), seconds(2)
    other = None
    if machine is not None and server is not None:
        other = max(0.0, machine - server - (database or 0.0) - wrk_seconds)
    record = {
        "name": name,
        "requests_per_second": float(values["requests/s"]),
        "p50_ms": float(values["p50"]),
        "p99_ms": float(values["p99"]),
        "requests": requests,
        "errors": errors,
        "wall_seconds": wall,
        "server_cpu_seconds": server,
        "postgres_cpu_seconds": database,
        "wrk_cpu_seconds": wrk_seconds,
        "other_cpu_seconds": other,
        "wrk_output": output,
    }
    with out.open("a") as results:
        results.write(json.dumps(record) + "\n")
    print(
        f"{name}: {record['requests_per_second']:.1f} requests/s, p50 {values['p50']} ms,"
        f" p99 {values['p99']} ms, {requests} requests, {errors} errors"
    )
    if errors:
        sys.exit(f"compare: {name} had {errors} failed requests under load:\n{output}")


# ---------------------------------------------------------------- the table


def table(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def per_request(seconds: float | None, r: dict) -> str:
        return "n/a" if seconds is None else f"{seconds / r['requests'] * 1000:.2f} ms"

    def cores(seconds: float | None, r: dict) -> str:
        return "n/a" if seconds is None else f"{seconds / r['wall_seconds']:.2f}"

    header = (
        "| server | req/s | p50 | p99 | server CPU/req | server cores | PostgreSQL CPU/req"
        " | wrk cores | other load (cores) |"
    )
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for r in records:
        print(
            f"| {r['name']} | {r['requests_per_second']:.1f} | {r['p50_ms']:.1f} ms"
            f" | {r['p99_ms']:.1f} ms | {per_request(r['server_cpu_seconds'], r)}"
            f" | {cores(r['server_cpu_seconds'], r)}"
            f" | {per_request(r['postgres_cpu_seconds'], r)}"
            f" | {cores(r['wrk_cpu_seconds'], r)}"
            f" | {cores(r['other_cpu_seconds'], r)} |"
        )
    noisy = [r["name"] for r in records if (r["other_cpu_seconds"] or 0) / r["wall_seconds"] > 0.1]
    if noisy:
        print(
            f"warning: something else used more than 0.1 core during the run of"
            f" {', '.join(noisy)}: those numbers are disturbed"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check")
    checking.add_argument("directory", type=Path)
    checking.add_argument("names", nargs="+")
    commands.add_parser("postmaster").add_argument("url")
    run = commands.add_parser("measure")
    run.add_argument("--name", required=True)
    run.add_argument("--server-pid", type=int, required=True)
    run.add_argument("--pg-pid", type=int)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("wrk", nargs=argparse.REMAINDER)
    commands.add_parser("table").add_argument("path", type=Path)
    arguments = parser.parse_args()
    if arguments.command == "check":
        check(arguments.directory, arguments.names)
    elif arguments.command == "postmaster":
        postmaster(arguments.url)
    elif arguments.command == "measure":
        wrk = arguments.wrk[1:] if arguments.wrk[:1] == ["--"] else arguments.wrk
        measure(arguments.name, arguments.server_pid, arguments.pg_pid, arguments.out, wrk)
    else:
        table(arguments.path)


if __name__ == "__main__":
    main()
