"""A small deterministic help desk for the analytics tests: seven tickets whose reply and
resolution times, groups, assignees, channels, weeks and ratings are counted by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from guichet.models.db import db
from guichet.models.resolutions import SatisfactionRating, SatisfactionScore
from guichet.models.tickets import Channel, Ticket, TicketPriority, TicketStatus

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Planned:
    priority: TicketPriority | None
    in_group: bool
    assignee: str | None  # "agent", "bruno" or None
    via: Channel
    day: int  # days after MONDAY
    first_reply: int | None  # minutes after creation
    resolution: int | None  # minutes after creation (solved)
    rating: SatisfactionScore | None = None


H, L = TicketPriority.HIGH, TicketPriority.LOW
GOOD, BAD = SatisfactionScore.GOOD, SatisfactionScore.BAD
PLAN = [
    Planned(H, True, "agent", Channel.WEB, 0, 10, 100, GOOD),
    Planned(H, True, "agent", Channel.EMAIL, 1, 20, 200, BAD),
    Planned(H, False, "bruno", Channel.WEB, 8, 30, None, GOOD),
    Planned(H, False, None, Channel.WEB, 30, 40, None, BAD),
    Planned(L, True, "bruno", Channel.EMAIL, 2, None, None),
    Planned(L, False, None, Channel.WEB, 9, 5, 60, GOOD),
    Planned(None, True, "agent", Channel.WEB, 31, None, None),
]
# Ratings last changed on MONDAY + 40 days, except the fourth ticket's (on MONDAY).
RATED_AT = MONDAY + timedelta(days=40)


async def seed_help_desk(*, requester, people: dict, group, copies: int = 1) -> list[Ticket]:
    """PLAN's tickets (`copies` times over), requested by `requester`; `people` maps the
    plan's assignee names to users."""
    start = await Ticket.all().count()
    plan = PLAN * copies
    await Ticket.bulk_create(
        [
            Ticket(
                number=start + i + 1,
                subject=f"Case {i}",
                description="Seeded.",
                status=TicketStatus.SOLVED if p.resolution is not None else TicketStatus.OPEN,
                priority=p.priority,
                via=p.via,
                requester_id=requester.pk,
                submitter_id=requester.pk,
                assignee_id=people[p.assignee].pk if p.assignee else None,
                group_id=group.pk if p.in_group else None,
            )
            for i, p in enumerate(plan)
        ]
    )
    await db().execute_script(f"UPDATE ticket_counter SET last_number = {start + len(plan)}")
    tickets = await Ticket.filter(number__gt=start).order_by("number")
    for ticket, p in zip(tickets, plan, strict=True):
        created = MONDAY + timedelta(days=p.day)
        await Ticket.filter(id=ticket.id).update(
            created_at=created,
            first_reply_at=None
            if p.first_reply is None
            else created + timedelta(minutes=p.first_reply),
            solved_at=None if p.resolution is None else created + timedelta(minutes=p.resolution),
        )
    for i, (ticket, p) in enumerate(zip(tickets, plan, strict=True)):
        if p.rating is not None:
            rating = await SatisfactionRating.create(ticket_id=ticket.id, score=p.rating)
            when = MONDAY if i % len(PLAN) == 3 else RATED_AT
            await SatisfactionRating.filter(id=rating.id).update(updated_at=when)
    return await Ticket.filter(number__gt=start).order_by("number")
