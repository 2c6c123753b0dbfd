"""Bulk seeding for tests and benchmarks: rows straight through the models, no rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from guichet.models.people import Role, User
from guichet.models.tickets import Channel, Comment, Ticket, TicketPriority, TicketStatus


async def seed_tickets(
    *,
    requesters: list[User],
    agents: list[User],
    tickets: int,
    comments_per_ticket: int,
    authors: list[User] | None = None,
    seed: int = 7,
) -> list[Ticket]:
    """`tickets` OPEN tickets with comments (some internal), numbered after existing ones."""
    rng = random.Random(seed)
    start = await Ticket.all().count()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    created = await Ticket.bulk_create(
        [
            Ticket(
                number=start + i + 1,
                subject=f"Printer jam number {start + i + 1}",
                description="The printer on the second floor eats paper.",
                status=TicketStatus.OPEN,
                priority=rng.choice(list(TicketPriority)),
                via=Channel.WEB,
                requester_id=rng.choice(requesters).id,
                submitter_id=rng.choice(requesters).id,
                assignee_id=rng.choice(agents).id,
                created_at=base + timedelta(minutes=i),
            )
            for i in range(tickets)
        ]
    )
    created = await Ticket.filter(number__gt=start).order_by("number")
    await Comment.bulk_create(
        [
            Comment(
                ticket_id=t.id,
                author_id=rng.choice(authors or agents + requesters).id,
                body=f"Comment {j} on ticket {t.number}",
                public=rng.random() > 0.3,
                via=Channel.WEB,
                created_at=base + timedelta(hours=j, minutes=k),
            )
            for k, t in enumerate(created)
            for j in range(comments_per_ticket)
        ]
    )
    from guichet.models.db import db

    await db().execute_script(f"UPDATE ticket_counter SET last_number = {start + tickets}")
    return created


async def seed_people(customers: int, agents: int) -> tuple[list[User], list[User]]:
    await User.bulk_create(
        [
            User(name=f"Customer {i}", email=f"customer{i}@example.test", role=Role.END_USER)
            for i in range(customers)
        ]
        + [
            User(name=f"Agent {i}", email=f"agent{i}@guichet.test", role=Role.AGENT)
            for i in range(agents)
        ]
    )
    return (
        await User.filter(role=Role.END_USER, email__startswith="customer").order_by("id"),
        await User.filter(role=Role.AGENT, email__startswith="agent").order_by("id"),
    )
