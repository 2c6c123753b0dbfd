"""Satisfaction: the requester rates a solved ticket GOOD or BAD, with a comment, and may
change the rating during a window after solving (`Settings.csat_window_days`, counted from
`ticket.solved_at`). The rating is for the requester and staff to see; other customers
who see the ticket (a shared organization's members, CCs) do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.people import Role
from guichet.models.resolutions import SatisfactionRating, SatisfactionScore
from guichet.models.tickets import TicketEventKind
from guichet.resolvers import access, sql
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.sql import as_datetime
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.tickets import channel_of, forget
from guichet.resolvers.work.resolutions import claim_one, not_solved
from guichet.resolvers.work.survey_tokens import requester_context

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

MAX_COMMENT = 10_000
DEFAULT_WINDOW_DAYS = 28


class SatisfactionErrorCode(StrEnum):
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    NOT_REQUESTER = "NOT_REQUESTER"
    NOT_SOLVED = "NOT_SOLVED"
    RATING_WINDOW_CLOSED = "RATING_WINDOW_CLOSED"
    # Admins turned satisfaction surveys off (csatEnabled).
    SATISFACTION_DISABLED = "SATISFACTION_DISABLED"


@dataclass(slots=True)
class RatingRow:
    pk: int
    ticket_id: int
    score: SatisfactionScore
    comment: str | None
    updated_at: datetime


@dataclass(slots=True)
class SatisfactionStats:
    good: int
    bad: int

    @property
    def score(self) -> float | None:
        """good / (good + bad); None when nothing was rated."""
        rated = self.good + self.bad
        return self.good / rated if rated else None


RATING = sql.Table(
    "satisfaction_rating", "s", RatingRow,
    "id", "ticket_id", ("score", SatisfactionScore), "comment", ("updated_at", as_datetime),
)  # fmt: skip
_ON_TICKETS = f"{RATING} JOIN ticket t ON t.id = s.ticket_id"
_BY_TICKET = sql.select(RATING, from_=_ON_TICKETS).where(sql.among("s.ticket_id"), sql.GIVEN)
_STATS = sql.select(
    "COALESCE(SUM(CASE WHEN s.score = 'GOOD' THEN 1 ELSE 0 END), 0) AS good",
    "COALESCE(SUM(CASE WHEN s.score = 'BAD' THEN 1 ELSE 0 END), 0) AS bad",
    from_=_ON_TICKETS,
).where(sql.GIVEN)


# ---------------------------------------------------------------- reads


async def ratings_by_ticket(context: Context, keys: Sequence[int]) -> list[RatingRow | None]:
    """Each ticket's rating, for its requester and staff; None (silently) for anyone else."""
    viewer = context.require_viewer()
    rows = await _BY_TICKET.fetch(keys, access.visible_satisfaction_condition(viewer, "t", 1))
    return sql.in_key_order(keys, rows, RATING.row, "ticket_id")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def satisfaction_stats(
    context: Context, since: datetime | None, until: datetime | None
) -> SatisfactionStats:
    """GOOD and BAD ratings last changed in [since, until), over the tickets the viewer
    sees: one statement."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    return await rating_counts(viewer, since, until)


async def rating_counts(
    viewer: Viewer, since: datetime | None, until: datetime | None
) -> SatisfactionStats:
    """`satisfaction_stats` without its role check, for callers that made their own (the
    dashboard shows staff the month's counts)."""
    where = sql.Where()
    for operator, moment in ((">=", since), ("<", until)):
        if moment is not None:
            where.add(f"s.updated_at {operator} ?", _utc(moment))
    where.given(access.visible_tickets_condition(viewer, "t", 1))
    rows = await _STATS.fetch(where.part)
    return SatisfactionStats(int(rows[0]["good"]), int(rows[0]["bad"]))


# ---------------------------------------------------------------- rating


def _comment(comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    if error := text_error(comment, ["input", "comment"], max_length=MAX_COMMENT):
        raise Refused(error)
    return comment


def _window_closed(context: Context, solved_at: datetime | None) -> Refused | None:
    days = context.settings.csat_window_days if context.settings else DEFAULT_WINDOW_DAYS
    if solved_at is not None and datetime.now(UTC) <= solved_at + timedelta(days=days):
        return None
    return Refused(
        UserError(
            f"Ratings are taken during {days} days after a ticket is solved; this one was "
            "solved earlier.",
            SatisfactionErrorCode.RATING_WINDOW_CLOSED,
            ["input", "ticketId"],
        )
    )


async def rate(
    context: Context,
    *,
    ticket_id: str,
    score: SatisfactionScore,
    comment: str | None,
    survey_token: str | None = None,
) -> RatingRow:
    """The requester rates their SOLVED or CLOSED ticket, or changes the rating, during
    the window after solving. A new rating replaces the previous one, comment included.
    With the token of a survey link, anyone (signed in or not) rates as the requester it
    names, that ticket only (survey_tokens.py)."""
    if survey_token is not None:
        context = await requester_context(context, survey_token, ticket_id)
    viewer = context.require_viewer()
    if not getattr(context.settings, "csat_enabled", True):
        raise Refused(
            UserError(
                "Satisfaction ratings are turned off.",
                SatisfactionErrorCode.SATISFACTION_DISABLED,
                ["input", "ticketId"],
            )
        )
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, ticket_id, TicketAction.RATE)
        if ticket.requester_id != viewer.id:
            raise Refused(
                UserError(
                    "Only the requester rates a ticket.",
                    SatisfactionErrorCode.NOT_REQUESTER,
                    ["input", "ticketId"],
                )
            )
        comment = _comment(comment)
        if refused := not_solved(ticket.status, SatisfactionErrorCode.NOT_SOLVED):
            raise refused
        if refused := _window_closed(context, ticket.solved_at):
            raise refused
        rating, created = await claim_one(
            SatisfactionRating, ticket.id, score=score, comment=comment
        )
        previous = None if created else SatisfactionScore(rating.score).value
        if not created:
            rating.score, rating.comment = score, comment
            await rating.save()
        await changes.record(
            ticket.id, TicketEventKind.SATISFACTION_RATED, actor_pk=viewer.id,
            via=channel_of(viewer), public=False, previous=previous, new=score.value,
            data={"comment": comment},
        )  # fmt: skip
        await ticket.save(update_fields=["updated_at"])  # auto_now stamps it
    forget(context)
    await changes.publish(context)
    return RATING.row_of(rating)
