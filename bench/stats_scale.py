"""Analytics at scale: every stats query over 100,000 tickets, median and p99.

    python bench/stats_scale.py postgres://…/guichet_stats [--runs 50] [--only timeStats]
        [--tickets 100000] [--comments 1000000] [--time-entries 200000]

The database is migrated, then seeded on the first run (it must be empty then; a seeded
database is reused as it is). Seeding is SQL over `generate_series`, in the database: no
row crosses the network, so 1.3 million rows take about a minute. The proportions are a
busy help desk's: 20,000 customers (70 % in one of 500 organizations), 200 agents in 20
groups, tickets over two years (NEW 10 %, OPEN 35 %, PENDING 15 %, ON_HOLD 5 %, SOLVED
20 %, CLOSED 15 %; 90 % assigned, 85 % in a group), a first public reply on 95 % of the
tickets past NEW (exponential, mean 4 hours), solved tickets solved after it (mean 2
days), a rating on 40 % of those (80 % GOOD), 10 comments a ticket, 2 time entries a
ticket. `random()` is seeded: every run seeds the same data.

Each query then runs through the schema in process (`schema.execute` with the HTTP door's
sign-in, as `bench/split.py` does, signed in as agent0@bench.test), 3 times to warm up and
`--runs` times measured; the table gives the median and the 99th percentile (nearest rank:
with 50 runs, the slowest run) of the whole operation, sign-in included. Queries of
fields the schema does not have (yet) are reported as missing, not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guichet.models.db import close_database, db, open_database
from guichet.models.migrate import apply_migrations
from guichet.resolvers.people.auth import issue_token
from guichet.schema.root import build_schema
from guichet.server.auth import context_for
from guichet.server.heap import settle_heap
from guichet.server.settings import load_settings
from guichet.subscriptions.view_counts import Hub, Subscriber

CUSTOMERS, AGENTS, GROUPS, ORGANIZATIONS = 20_000, 200, 20, 500
WARM_UP = 3
BUCKETS = "keys labels count"
TIMES = "keys labels tickets firstReplyMedianMinutes firstReplyP90Minutes resolutionMedianMinutes resolutionP90Minutes"
# name -> (root field that must exist, the document)
QUERIES: dict[str, tuple[str, str]] = {
    **{
        f"ticketStats {d}": ("ticketStats", f"{{ ticketStats(groupBy: [{d}]) {{ {BUCKETS} }} }}")
        for d in (
            "STATUS",
            "PRIORITY",
            "TYPE",
            "CHANNEL",
            "ASSIGNEE",
            "GROUP",
            "ORGANIZATION",
            "CREATED_DAY",
            "CREATED_WEEK",
            "CREATED_MONTH",
        )
    },
    "ticketStats STATUS+ASSIGNEE, open filter": (
        "ticketStats",
        '{ ticketStats(groupBy: [STATUS, ASSIGNEE], filter: {query: "status:open status:pending"})'
        f" {{ {BUCKETS} }} }}",
    ),
    **{
        f"timeStats {d}": (
            "timeStats",
            f"{{ timeStats(groupBy: [{d}]) {{ keys minutes entries }} }}",
        )
        for d in ("AGENT", "ORGANIZATION", "DAY")
    },
    # By ticket over everything is 100,000 buckets (timeStats has no limit): an invoice
    # asks for one month.
    "timeStats TICKET, last 30 days": (
        "timeStats",
        "query($from: DateTime) { timeStats(groupBy: [TICKET], from: $from)"
        " { keys minutes entries } }",
    ),
    "satisfactionStats": ("satisfactionStats", "{ satisfactionStats { good bad score } }"),
    **{
        f"responseTimes {d}": (
            "responseTimes",
            f"{{ responseTimes(groupBy: [{d}]) {{ {TIMES} }} }}",
        )
        for d in ("PRIORITY", "GROUP", "ASSIGNEE", "CHANNEL", "CREATED_WEEK")
    },
    **{
        f"satisfactionBreakdown {d}": (
            "satisfactionBreakdown",
            f"{{ satisfactionBreakdown(groupBy: [{d}]) {{ keys labels good bad score }} }}",
        )
        for d in ("AGENT", "GROUP")
    },
    "dashboard": (
        "dashboard",
        "{ dashboard { myOpenTickets unassignedTickets approvalsWaitingForMe activitiesDueToday"
        " activitiesOverdue solvedThisWeek satisfactionThisMonth { good bad score }"
        " views { count view { name } } } }",
    ),
    "views with counts": ("views", "{ views { name count } }"),
}

SEED = [
    "SELECT setseed(0.2026)",
    # people: agents first (agent0 signs in), then customers
    """INSERT INTO "user" (name, email, role, created_at, active)
       SELECT 'Agent ' || g, 'agent' || g || '@bench.test', 'AGENT', now() - interval '3 years', TRUE
       FROM generate_series(0, {agents} - 1) g""",
    """INSERT INTO "user" (name, email, role, created_at, active)
       SELECT 'Customer ' || g, 'customer' || g || '@bench.test', 'END_USER',
              now() - interval '3 years', TRUE
       FROM generate_series(0, {customers} - 1) g""",
    """INSERT INTO organization (name, shared_tickets, created_at, active)
       SELECT 'Company ' || g, g % 3 = 0, now() - interval '3 years', TRUE
       FROM generate_series(0, {organizations} - 1) g""",
    """INSERT INTO "group" (name, created_at, active)
       SELECT 'Team ' || g, now() - interval '3 years', TRUE FROM generate_series(0, {groups} - 1) g""",
    # customer k belongs to organization k % 500 unless k % 10 < 3
    """INSERT INTO organization_member (created_at, organization_id, user_id)
       SELECT now(), {organization0} + (k % {organizations}), {customer0} + k
       FROM generate_series(0, {customers} - 1) k WHERE k % 10 >= 3""",
    """INSERT INTO group_member (created_at, group_id, user_id)
       SELECT now(), {group0} + (k % {groups}), {agent0} + k FROM generate_series(0, {agents} - 1) k""",
    """INSERT INTO ticket (number, subject, description, status, type, priority, via, created_at,
                          updated_at, solved_at, assignee_id, group_id, organization_id,
                          requester_id, submitter_id, first_reply_at)
       SELECT g, 'Bench ticket ' || g, 'Seeded for the stats benchmark.', status, type, priority,
              via, created, COALESCE(solved, replied, created), solved, assignee, team,
              CASE WHEN customer % 10 >= 3 THEN {organization0} + customer % {organizations} END,
              {customer0} + customer, {customer0} + customer, replied
       FROM (
         SELECT g, status, type, priority, via, created, assignee, team, customer, replied,
                CASE WHEN status IN ('SOLVED', 'CLOSED') THEN COALESCE(replied, created)
                     + interval '1 minute' * (-ln(1 - random()) * 2880) END AS solved
         FROM (
           SELECT g, status, type, priority, via, created, assignee, team, customer,
                  CASE WHEN status <> 'NEW' AND random() < 0.95 THEN created
                       + interval '1 minute' * (-ln(1 - random()) * 240) END AS replied
           FROM (
             SELECT g, now() - interval '730 days' * random() AS created,
                    (ARRAY['NEW','OPEN','OPEN','OPEN','PENDING','ON_HOLD','SOLVED','SOLVED',
                           'CLOSED','OPEN','OPEN','OPEN','OPEN','PENDING','PENDING','OPEN',
                           'OPEN','OPEN','SOLVED','SOLVED'])[1 + floor(random() * 20)::int]
                       AS status,
                    (ARRAY['QUESTION','INCIDENT','PROBLEM','TASK',NULL])[1 + floor(random() * 5)::int] AS type,
                    (ARRAY['LOW','NORMAL','NORMAL','HIGH','URGENT',NULL])[1 + floor(random() * 6)::int]
                       AS priority,
                    (ARRAY['WEB','WEB','EMAIL','EMAIL','PORTAL','API'])[1 + floor(random() * 6)::int] AS via,
                    CASE WHEN random() < 0.9 THEN {agent0} + (random() * ({agents} - 1))::int END AS assignee,
                    CASE WHEN random() < 0.85 THEN {group0} + (random() * ({groups} - 1))::int END AS team,
                    (random() * ({customers} - 1))::int AS customer
             FROM generate_series(1, {tickets}) g
           ) drawn
         ) replied
       ) solved""",
    """INSERT INTO ticket_counter (id, last_number) VALUES (1, {tickets})
       ON CONFLICT (id) DO UPDATE SET last_number = excluded.last_number""",
    # 10 comments a ticket, alternately its requester's and its agent's, 1 in 4 internal
    """INSERT INTO comment (body, public, via, created_at, author_id, ticket_id)
       SELECT 'Comment ' || g || ' on the case.', random() < 0.75, 'WEB',
              t.created_at + interval '1 hour' * (g / {tickets}),
              CASE WHEN g % 2 = 0 THEN t.requester_id ELSE COALESCE(t.assignee_id, {agent0}) END,
              t.id
       FROM generate_series(0, {comments} - 1) g JOIN ticket t ON t.number = 1 + g % {tickets}""",
    """INSERT INTO time_entry (minutes, bill_status, worked_on, rate_cents, created_at, updated_at,
                              agent_id, ticket_id)
       SELECT 5 + (g * 13) % 120, (ARRAY['NON_BILLABLE','BILLABLE','BILLED'])[1 + g % 3],
              (t.created_at + interval '1 day' * (g % 5))::date, 6000, t.created_at, t.created_at,
              COALESCE(t.assignee_id, {agent0} + g % {agents}), t.id
       FROM generate_series(0, {time_entries} - 1) g
       JOIN ticket t ON t.number = 1 + (g * 7) % {tickets}""",
    """INSERT INTO satisfaction_rating (score, created_at, updated_at, ticket_id)
       SELECT CASE WHEN random() < 0.8 THEN 'GOOD' ELSE 'BAD' END,
              solved_at + interval '1 day', solved_at + interval '1 day', id
       FROM ticket WHERE solved_at IS NOT NULL AND random() < 0.4""",
]


async def seed(sizes: dict[str, int]) -> None:
    connection = db()
    started = time.perf_counter()
    [seeded, *rest] = SEED
    # Each statement reseeds random(): the pool may hand each one another connection.
    for text in rest[:4]:
        await connection.execute_script(f"{seeded}; {text.format(**sizes)}")
    first = await connection.execute_query_dict(
        "SELECT (SELECT MIN(id) FROM \"user\" WHERE role = 'AGENT') AS agent0,"
        " (SELECT MIN(id) FROM \"user\" WHERE role = 'END_USER') AS customer0,"
        ' (SELECT MIN(id) FROM organization) AS organization0, (SELECT MIN(id) FROM "group") AS group0'
    )
    sizes = {**sizes, **first[0]}
    for text in rest[4:]:
        step = time.perf_counter()
        await connection.execute_script(f"{seeded}; {text.format(**sizes)}")
        print(f"  {text.split()[2]}: {time.perf_counter() - step:.1f} s", flush=True)
    # What autovacuum would have done by now: hint bits and the visibility map set.
    await connection.execute_script("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]  # nearest rank


async def measure(runs: int, only: str | None) -> list[tuple[str, str]]:
    settings = load_settings()
    schema = build_schema()
    settle_heap()  # as the served process does once started
    fields = set(schema._schema.query_type.fields)  # graphql-core's view: the served names
    rows = await db().execute_query_dict(
        "SELECT id FROM \"user\" WHERE email = 'agent0@bench.test'"
    )
    token, _ = await issue_token(settings.secret_key, rows[0]["id"], timedelta(days=1))
    state = SimpleNamespace(settings=settings, bus=None)
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    results = []
    for name, (field, document) in QUERIES.items():
        if only and only.lower() not in name.lower():
            continue
        if field not in fields:
            results.append((name, "missing: the schema has no `" + field + "` yet"))
            continue
        timings = []
        for i in range(WARM_UP + runs):
            start = time.perf_counter()
            context = await context_for(state, f"Bearer {token}")
            variables = {"from": month_ago} if "$from" in document else None
            result = await schema.execute(
                document, variable_values=variables, context_value=context
            )
            elapsed = time.perf_counter() - start
            if result.errors:
                results.append((name, f"error: {result.errors[0].message}"))
                break
            if i >= WARM_UP:
                timings.append(elapsed)
        else:
            median, slow = statistics.median(timings) * 1000, p99(timings) * 1000
            mark = "" if slow < 200 else "  (over 200 ms)"
            results.append((name, f"{median:7.1f} ms | {slow:7.1f} ms{mark}"))
        print(f"{name}: {results[-1][1]}", flush=True)
    name = f"viewCounts recount, {AGENTS} agents subscribed"
    if not only or only.lower() in name.lower():
        results.append((name, await measure_recount(state, settings, runs)))
        print(f"{name}: {results[-1][1]}", flush=True)
    return results


async def measure_recount(state: SimpleNamespace, settings: Any, runs: int) -> str:
    """What the viewCounts hub does on each change: list every subscriber's views, count
    each shared one once (200 agents: each one's 'My open tickets', the others shared),
    push each subscriber its list. Every agent is subscribed; pushes are forced each run."""
    rows = await db().execute_query_dict("SELECT id FROM \"user\" WHERE role = 'AGENT' ORDER BY id")
    subscribers = []
    for row in rows:
        token, _ = await issue_token(settings.secret_key, row["id"], timedelta(days=1))
        context = await context_for(state, f"Bearer {token}")
        subscribers.append(Subscriber(context.require_viewer()))
    hub = Hub(bus=None)  # recount needs no bus: only what a change would trigger
    hub.subscribers = dict.fromkeys(subscribers)
    timings = []
    for i in range(WARM_UP + runs):
        for subscriber in subscribers:
            subscriber.sent, subscriber.last_push = None, float("-inf")
        start = time.perf_counter()
        await hub.recount(subscribers)
        if i >= WARM_UP:
            timings.append(time.perf_counter() - start)
    if not all(s.latest.qsize() == 1 for s in subscribers):
        return "error: not every subscriber was pushed its counts"
    median, slow = statistics.median(timings) * 1000, p99(timings) * 1000
    mark = "" if slow < 200 else "  (over 200 ms)"
    return f"{median:7.1f} ms | {slow:7.1f} ms{mark}"


async def main(url: str, runs: int, only: str | None, sizes: dict[str, int]) -> None:
    os.environ["GUICHET_DATABASE_URL"] = url
    os.environ.setdefault("GUICHET_SECRET_KEY", "stats-bench-secret-key-not-for-production")
    await apply_migrations(url)
    await open_database(url)
    try:
        counted = await db().execute_query_dict("SELECT COUNT(*) AS n FROM ticket")
        if counted[0]["n"] == 0:
            await seed(sizes)
        else:
            print(f"reusing the seeded database ({counted[0]['n']} tickets)", flush=True)
        before = os.getloadavg()[0]
        results = await measure(runs, only)
        after = os.getloadavg()[0]
    finally:
        await close_database()
    # The machine may be shared: its load says how far the figures are from an idle one's.
    print(f"\n{runs} runs each, in process, PostgreSQL; load average {before:.1f} -> {after:.1f}\n")
    print("| query | median | p99 |\n| --- | --- | --- |")
    for name, figures in results:
        print(f"| {name} | {figures} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="postgres://… (an empty database, or one this script seeded)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--only", help="measure only the queries whose name contains this")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--time-entries", type=int, default=200_000)
    arguments = parser.parse_args()
    sizes = {
        "tickets": arguments.tickets,
        "comments": arguments.comments,
        "time_entries": arguments.time_entries,
        "customers": CUSTOMERS,
        "agents": AGENTS,
        "groups": GROUPS,
        "organizations": ORGANIZATIONS,
    }
    asyncio.run(main(arguments.url, arguments.runs, arguments.only, sizes))
