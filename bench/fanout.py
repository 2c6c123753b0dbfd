"""Fan-out: how fast one ticket's history event reaches N live `ticketHistory` subscribers.

    python bench/fanout.py --subscribers 1000 --per-socket 1 --events 20
    python bench/fanout.py --subscribers 10000 --per-socket 10 --events 20
    python bench/fanout.py --database-url postgres://…/empty_db --broadcast-url redis://…

Starts one `guichet serve` (SQLite in a temporary directory and the in-process bus by
default; any empty database and redis:// when given) pinned to one core (`--server-core`,
default 0), seeds a few agents and one end user, opens the ticket through the API, and
pins itself to another core (`--client-core`, default 1). It opens the sockets (each signs
in as one of the agents: --agents of them, round robin), subscribes `--per-socket`
subscriptions on each with `after:` the ticket's first event, and waits for every
subscription's replay (then it is live). Sockets open in waves of 100, each wave live before
the next (`--burst`: every subscription starts at once, as in a reconnect storm; the
start-ups' transient memory then stays in the allocator's arenas and adds ~10 KiB a
subscription to RSS). It measures the server's RSS before and after that. Then it fires `--events` comments, one at a time (the next once every subscriber
has the previous one, or after --timeout), and measures from the start of each mutation to
each delivery. It prints latency p50 / p99 / max, deliveries lost and duplicated, and the
server's RSS growth per subscription.

The client is websockets' Sans-I/O protocol under a plain asyncio Protocol: a frame costs
it a few microseconds, so the client is not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout_client import Bench, Socket  # noqa: E402
from bench.served import free_port, serving  # noqa: E402

PASSWORD = "bench-password"
HISTORY = (
    "subscription($id: ID!, $after: String) {"
    " ticketHistory(ticketId: $id, after: $after) { id kind public createdAt actor { name } } }"
)


# ---------------------------------------------------------------- the database


async def seed(url: str, agents: int) -> int:
    """The end user's id."""
    from guichet.models.db import close_database, open_database
    from guichet.models.migrate import apply_migrations
    from guichet.models.people import Organization, OrganizationMember, Role, User
    from guichet.resolvers.people.auth import hash_password

    await apply_migrations(url)
    await open_database(url)
    try:
        if await User.exists():
            sys.exit("the database is not empty")
        password_hash = await hash_password(PASSWORD)
        await User.create(
            name="Owner", email="owner@fan.test", role=Role.OWNER, password_hash=password_hash
        )
        for i in range(agents):
            await User.create(
                name=f"Agent {i}",
                email=f"agent{i}@fan.test",
                role=Role.AGENT,
                password_hash=password_hash,
            )
        customer = await User.create(
            name="Customer",
            email="customer@fan.test",
            role=Role.END_USER,
            password_hash=password_hash,
        )
        organization = await Organization.create(name="Fan Inc", shared_tickets=True)
        await OrganizationMember.create(organization=organization, user=customer)
        return customer.id
    finally:
        await close_database()


# ---------------------------------------------------------------- the run


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(launcher: int) -> int:
    """The process serving (the launcher may be taskset's exec or a shell)."""
    children = Path(f"/proc/{launcher}/task/{launcher}/children")
    kids = children.read_text().split() if children.exists() else []
    return int(kids[0]) if kids else launcher


async def gql(http: httpx.AsyncClient, query: str, variables: dict, token: str | None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def run(args: argparse.Namespace, port: int, pid: int) -> dict:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        login = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }"
        tokens = [
            (await gql(http, login, {"e": f"agent{i}@fan.test", "p": PASSWORD}, None))["login"][
                "token"
            ]
            for i in range(args.agents)
        ]
        from guichet.resolvers import ids

        customer = ids.encode("User", args.customer)
        created = await gql(
            http,
            "mutation($i: CreateTicketInput!) { createTicket(input: $i) { ticket { id number } } }",
            {"i": {"subject": "Fan-out", "description": "Many watchers.", "requesterId": customer}},
            tokens[0],
        )
        ticket = created["createTicket"]["ticket"]
        add_comment = "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } errors { code } } }"
        await gql(http, add_comment, {"i": {"ticketId": ticket["id"], "body": "Hello."}}, tokens[0])
        history = await gql(
            http,
            "query($n: Int!) { ticket(number: $n) { history(first: 50) { edges { node { id } } } } }",
            {"n": ticket["number"]},
            tokens[0],
        )
        events = [e["node"]["id"] for e in history["ticket"]["history"]["edges"]]
        bench = Bench(len(events) - 1)
        sockets_n = args.subscribers // args.per_socket
        bench.subscriptions = sockets_n * args.per_socket
        rss_before = rss_kib(pid)
        started = time.perf_counter()
        sockets: list[Socket] = []

        async def open_socket(n: int) -> None:
            uri = f"ws://127.0.0.1:{port}/graphql"
            _, socket = await loop.create_connection(lambda: Socket(uri, bench), "127.0.0.1", port)
            await socket.opened
            socket.send(
                {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {tokens[n % len(tokens)]}"},
                }
            )
            await socket.acked
            for k in range(args.per_socket):
                socket.send({
                    "id": str(k), "type": "subscribe",
                    "payload": {"query": HISTORY, "variables": {"id": ticket["id"], "after": events[0]}},
                })  # fmt: skip
            sockets.append(socket)

        for first in range(0, sockets_n, 100):
            await asyncio.gather(
                *(open_socket(n) for n in range(first, min(first + 100, sockets_n)))
            )
            if not args.burst:  # this wave goes live before the next opens
                while bench.replay_done < min(first + 100, sockets_n) * args.per_socket:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        await asyncio.wait_for(bench.live.wait(), args.timeout * 10)
        await asyncio.sleep(1)
        rss_after = rss_kib(pid)
        setup = time.perf_counter() - started

        latencies: list[float] = []
        mutation_ms: list[float] = []
        lost = 0
        print(f"server pid {pid}: firing {args.events} events", file=sys.stderr, flush=True)
        t0s: dict[int, float] = {}
        cpu_before = cpu_seconds(pid)
        for n in range(args.events):
            t0 = t0s[n] = time.perf_counter()
            if args.verbose:
                print(f"event #{n} at {time.time():.3f}", file=sys.stderr)
            body = await gql(
                http,
                add_comment,
                {"i": {"ticketId": ticket["id"], "body": f"Comment {n}."}},
                tokens[0],
            )
            mutation_ms.append((time.perf_counter() - t0) * 1000)
            assert body["addComment"]["errors"] == [], body
            deadline = t0 + args.timeout
            while bench.complete < n + 1 and time.perf_counter() < deadline:
                bench.progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(bench.progress.wait(), deadline - time.perf_counter())
            await asyncio.sleep(args.pause)
        cpu = cpu_seconds(pid) - cpu_before  # the mutations' own included
        await asyncio.sleep(1)  # stragglers: late deliveries and duplicates
        # Each comment records one event; they arrive in order, the n-th new event is the n-th
        # comment's.
        per_event = []
        for n, arrivals in enumerate(list(bench.deliveries.values())[: args.events]):
            these = sorted((t - t0s[n]) * 1000 for t in arrivals.values())
            latencies += these
            per_event.append((these[-1], these[0], these[len(these) // 2], n, mutation_ms[n]))
        if args.verbose:
            for last, first, median, n, mutation in sorted(per_event)[-5:]:
                print(
                    f"slow event #{n}: first {first:.1f} median {median:.1f} last {last:.1f} ms"
                    f" (mutation {mutation:.1f} ms)"
                )
        lost = args.events * bench.subscriptions - sum(len(a) for a in bench.deliveries.values())
        for socket in sockets:
            if socket.transport is not None:
                socket.transport.close()
    latencies.sort()
    return {
        "subscribers": bench.subscriptions,
        "sockets": sockets_n,
        "events": args.events,
        "deliveries": len(latencies),
        "lost": lost,
        "duplicates": bench.duplicates,
        "errors": len(bench.errors),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "mutation_p50": statistics.median(mutation_ms),
        "cpu_us_per_delivery": cpu * 1e6 / max(1, len(latencies)),
        "rss_per_sub": (rss_after - rss_before) / bench.subscriptions,
        "setup_s": setup,
        "first_errors": bench.errors[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--per-socket", type=int, default=1)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between events")
    parser.add_argument("--verbose", action="store_true", help="print the slowest events")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="subscribe every socket at once (default: waves of 100, each live before the next)",
    )
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite)")
    parser.add_argument("--broadcast-url", default="memory://")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fanout."))
    url = args.database_url or f"sqlite://{work}/fanout.sqlite3"
    env = os.environ | {
        "GUICHET_DATABASE_URL": url,
        "GUICHET_BROADCAST_URL": args.broadcast_url,
        "GUICHET_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
        "GUICHET_COST_BUDGET": "0",
        "GUICHET_SIGN_IN_RATE_PER_MINUTE": "0",
        "GUICHET_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(max(20, args.per_socket)),
    }
    os.environ.update(env)
    args.customer = asyncio.run(seed(url, args.agents))
    port = free_port()
    with serving(port, env, work, ["taskset", "-c", str(args.server_core)]) as server:
        os.sched_setaffinity(0, {args.client_core})
        result = asyncio.run(run(args, port, server_pid(server.pid)))
    store = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    bus = "Redis" if args.broadcast_url.startswith("redis") else "memory"
    print(f"{store} + {bus}, server on core {args.server_core}, client on core {args.client_core}")
    print(
        "| subscribers | sockets | events | deliveries | lost | dup | p50 ms | p99 ms | max ms"
        " | mutation p50 ms | server CPU µs/delivery | RSS KiB/sub |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    r = result
    print(
        f"| {r['subscribers']:,} | {r['sockets']:,} | {r['events']} | {r['deliveries']:,} | {r['lost']} "
        f"| {r['duplicates']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['mutation_p50']:.1f} "
        f"| {r['cpu_us_per_delivery']:.0f} | {r['rss_per_sub']:.1f} |"
    )
    if r["errors"]:
        print("errors:", r["errors"], r["first_errors"])
    print(f"(setup {r['setup_s']:.1f} s; server log {work / 'server.log'})")


if __name__ == "__main__":
    main()
