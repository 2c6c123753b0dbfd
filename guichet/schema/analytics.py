"""Aggregates for analytics clients."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from guichet.models.people import Role
from guichet.resolvers.admin import analytics, response_times, satisfaction_breakdown
from guichet.schema.requires import requires
from guichet.schema.ticket_list import TicketFilter, plain_filter


@strawberry.enum
class TicketDimension(Enum):
    STATUS = "STATUS"
    PRIORITY = "PRIORITY"
    TYPE = "TYPE"
    CHANNEL = "CHANNEL"
    ASSIGNEE = "ASSIGNEE"
    GROUP = "GROUP"
    ORGANIZATION = "ORGANIZATION"
    CREATED_DAY = "CREATED_DAY"
    CREATED_WEEK = "CREATED_WEEK"
    CREATED_MONTH = "CREATED_MONTH"


@strawberry.type(description="One group of an aggregate.")
class Bucket:
    keys: list[str | None] = strawberry.field(
        description="The dimension values of this bucket, in the order asked (null for 'none')."
    )
    count: int
    labels: list[str | None] = strawberry.field(
        description=(
            "Display names of the keys, in the same order (a person's or group's name, the "
            "enum value, the date)."
        )
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, analytics.Bucket)


@strawberry.enum
class ResponseDimension(Enum):
    PRIORITY = "PRIORITY"
    GROUP = "GROUP"
    ASSIGNEE = "ASSIGNEE"
    CHANNEL = "CHANNEL"
    CREATED_WEEK = "CREATED_WEEK"


@strawberry.type(description="Reply and resolution times, in business-agnostic wall-clock minutes.")
class ResponseTimeBucket:
    keys: list[str | None]
    labels: list[str | None]
    tickets: int
    first_reply_median_minutes: float | None
    first_reply_p90_minutes: float | None
    resolution_median_minutes: float | None
    resolution_p90_minutes: float | None

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, response_times.ResponseTimeBucket)


@strawberry.enum
class SatisfactionDimension(Enum):
    AGENT = "AGENT"
    GROUP = "GROUP"


@strawberry.type(description="Satisfaction ratings of one agent's or group's tickets.")
class SatisfactionBucket:
    keys: list[str | None]
    labels: list[str | None]
    good: int
    bad: int
    score: float | None = strawberry.field(
        description="good / (good + bad), null when nothing was rated."
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, satisfaction_breakdown.SatisfactionBucket)


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description=(
            "How many tickets, grouped by the dimensions asked, among the tickets matching the "
            "filter (the same filter and search syntax as `tickets`). Largest groups first; "
            "ASSIGNEE, GROUP and ORGANIZATION keys are global ids; CREATED_DAY, CREATED_WEEK "
            "(its Monday) and CREATED_MONTH (its first day) are YYYY-MM-DD in the help "
            "center's time zone (settings' timeZone). `labels` name each key."
        ),
    )
    async def ticket_stats(
        self,
        info: strawberry.Info,
        group_by: list[TicketDimension],
        filter: TicketFilter | None = None,
    ) -> list[Bucket] | None:
        dimensions = [d.value for d in group_by]
        return await analytics.ticket_stats(info.context, dimensions, plain_filter(filter))

    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description=(
            "Minutes from a ticket's creation to its first public staff reply and to its "
            "solution: median and 90th percentile (linear interpolation, as PostgreSQL's "
            "percentile_cont) per bucket, among the tickets matching the filter (as `tickets`). "
            "Tickets not yet replied to or solved count in `tickets` only; most tickets first. "
            "Keys as ticketStats' (CREATED_WEEK: its Monday, in the help center's time zone)."
        ),
    )
    async def response_times(
        self,
        info: strawberry.Info,
        group_by: list[ResponseDimension],
        filter: TicketFilter | None = None,
    ) -> list[ResponseTimeBucket] | None:
        dimensions = [d.value for d in group_by]
        return await response_times.response_times(info.context, dimensions, plain_filter(filter))

    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description=(
            "Satisfaction ratings last changed in [from, to), per agent (the ticket's assignee) "
            "or group; keys are global ids (null: none). Most ratings first."
        ),
    )
    async def satisfaction_breakdown(
        self,
        info: strawberry.Info,
        group_by: list[SatisfactionDimension],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[SatisfactionBucket] | None:
        dimensions = [d.value for d in group_by]
        return await satisfaction_breakdown.satisfaction_breakdown(
            info.context, dimensions, from_, to
        )
