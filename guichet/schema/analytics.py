"""Aggregates for analytics clients."""

from __future__ import annotations

from enum import Enum

import strawberry

from guichet.models.people import Role
from guichet.resolvers.admin import analytics
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


@strawberry.type(description="One group of an aggregate.")
class Bucket:
    keys: list[str | None] = strawberry.field(
        description="The dimension values of this bucket, in the order asked (null for 'none')."
    )
    count: int

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, analytics.Bucket)


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description=(
            "How many tickets, grouped by the dimensions asked, among the tickets matching the "
            "filter (the same filter and search syntax as `tickets`). Largest groups first; "
            "ASSIGNEE, GROUP and ORGANIZATION keys are global ids, CREATED_DAY is YYYY-MM-DD (UTC)."
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
