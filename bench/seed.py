"""Seed a database for the benchmarks: customers, agents, tickets and comments.

    python bench/seed.py postgres://…/guichet_bench [--tickets 20000 --customers 5000 --agents 200 --comments 100000]

The database is migrated first and must be empty. Rows go in through the models in bulk
(no rules, no history): this is load, not behaviour. Every account's password is
`bench-password`; `agent0@bench.test` is the agent the benchmarks sign in as.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guichet.models.db import close_database, db, open_database
from guichet.models.migrate import apply_migrations
from guichet.models.people import Organization, OrganizationMember, Role, User
from guichet.models.tickets import Channel, Comment, Ticket, TicketPriority, TicketStatus
from guichet.resolvers.people.auth import hash_password

PASSWORD = "bench-password"
STATUS_WEIGHTS = {
    TicketStatus.NEW: 10, TicketStatus.OPEN: 35, TicketStatus.PENDING: 15,
    TicketStatus.ON_HOLD: 5, TicketStatus.SOLVED: 20, TicketStatus.CLOSED: 15,
}  # fmt: skip
CHUNK = 5000


async def seed(url: str, tickets: int, customers: int, agents: int, comments: int) -> None:
    await apply_migrations(url)
    await open_database(url)
    try:
        if await User.exists():
            sys.exit("the database is not empty")
        rng = random.Random(2026)
        started = time.perf_counter()
        password_hash = await hash_password(PASSWORD)
        organizations = await Organization.bulk_create(
            [
                Organization(name=f"Customer company {i}", shared_tickets=i % 3 == 0)
                for i in range(50)
            ]
        )
        organizations = await Organization.all().order_by("id")
        users = [
            User(
                name=f"Agent {i}",
                email=f"agent{i}@bench.test",
                role=Role.AGENT,
                password_hash=password_hash,
            )
            for i in range(agents)
        ]
        users += [
            User(
                name=f"Customer {i}",
                email=f"customer{i}@bench.test",
                role=Role.END_USER,
                password_hash=password_hash,
            )
            for i in range(customers)
        ]
        for i in range(0, len(users), CHUNK):
            await User.bulk_create(users[i : i + CHUNK])
        agent_ids = await User.filter(role=Role.AGENT).order_by("id").values_list("id", flat=True)
        customer_ids = (
            await User.filter(role=Role.END_USER).order_by("id").values_list("id", flat=True)
        )
        await OrganizationMember.bulk_create(
            [
                OrganizationMember(
                    organization_id=organizations[i % len(organizations)].id, user_id=c
                )
                for i, c in enumerate(customer_ids)
            ]
        )
        base = datetime.now(UTC) - timedelta(days=365)
        statuses = list(STATUS_WEIGHTS)
        weights = list(STATUS_WEIGHTS.values())
        rows = []
        for n in range(1, tickets + 1):
            status = rng.choices(statuses, weights)[0]
            created = base + timedelta(minutes=n * 20)
            rows.append(
                Ticket(
                    number=n,
                    subject=f"Request {n}: printer jam on floor {n % 7}",
                    description="The printer eats paper and shows error E-42. " * 3,
                    status=status,
                    priority=rng.choice(list(TicketPriority)),
                    via=Channel.PORTAL,
                    requester_id=(requester := rng.choice(customer_ids)),
                    submitter_id=requester,
                    assignee_id=rng.choice(agent_ids) if status is not TicketStatus.NEW else None,
                    created_at=created,
                    updated_at=created + timedelta(hours=rng.randint(0, 200)),
                )
            )
        for i in range(0, len(rows), CHUNK):
            await Ticket.bulk_create(rows[i : i + CHUNK])
        await db().execute_script(f"UPDATE ticket_counter SET last_number = {tickets}")
        ticket_ids = (
            await Ticket.all().order_by("id").values_list("id", "requester_id", "created_at")
        )
        batch = []
        for k in range(comments):
            ticket_id, requester, created = ticket_ids[k % len(ticket_ids)]
            from_agent = rng.random() < 0.6
            batch.append(
                Comment(
                    ticket_id=ticket_id,
                    author_id=rng.choice(agent_ids) if from_agent else requester,
                    body=f"Reply {k}: have you tried turning it off and on again?",
                    public=not from_agent or rng.random() < 0.7,
                    via=Channel.WEB,
                    created_at=created + timedelta(minutes=5 * (k // len(ticket_ids) + 1)),
                )
            )
            if len(batch) == CHUNK:
                await Comment.bulk_create(batch)
                batch = []
        if batch:
            await Comment.bulk_create(batch)
        if db().capabilities.dialect == "postgres":
            await db().execute_script("ANALYZE")
        print(
            f"seeded {tickets} tickets, {customers} customers, {agents} agents, {comments} comments"
            f" in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--comments", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(seed(args.database_url, args.tickets, args.customers, args.agents, args.comments))


if __name__ == "__main__":
    main()
