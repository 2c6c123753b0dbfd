"""The ticket list (filters, sort, pages) and one ticket by number: the ticket root fields."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.resolvers import sql
from guichet.resolvers.context import Viewer
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.tickets import ticket_search, tickets
from guichet.schema.inputs import plain
from guichet.schema.relay import Connection, after_position, connection, page_size, positions
from guichet.schema.ticket_enums import (
    SortDirection,
    TicketPriority,
    TicketSortField,
    TicketStatus,
    TicketType,
)
from guichet.schema.tickets import Ticket


@strawberry.input
class TicketSort:
    field: TicketSortField
    direction: SortDirection


@strawberry.input
class TicketFilter:
    status: list[TicketStatus] | None = None
    priority: list[TicketPriority] | None = None
    type: list[TicketType] | None = None
    assignee_id: strawberry.ID | None = None
    requester_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    organization_id: strawberry.ID | None = None
    tags: list[str] | None = None
    query: str | None = strawberry.field(
        default=None,
        description=(
            "Search syntax, e.g. 'status:open priority>normal assignee:me tags:billing printer jam'. "
            "Keywords: status, priority, type, via, assignee, requester, submitter, group, organization, "
            "tags, created, updated, solved (dates, or ages like updated<7d), approval (pending, "
            'approved, denied, withdrawn), activity (open, overdue); "quoted phrases"; '
            "-term excludes."
        ),
    )
    created_after: datetime | None = None
    created_before: datetime | None = None


def plain_filter(filter: TicketFilter | None) -> ticket_search.TicketFilter | None:
    return None if filter is None else plain(filter, ticket_search.TicketFilter)


def _plain_sort(sort: list[TicketSort] | None) -> list[ticket_search.TicketSort]:
    return [ticket_search.TicketSort(s.field.value, s.direction.value) for s in sort or ()]


def _ticket_list_page(viewer: Viewer, arguments: dict, alias: str) -> sql.Page | None:
    """The page `tickets` answers, for an answer built in SQL (resolvers/sql/sources.py);
    None when counted from the end (`last`, `before`): answered in Python."""
    if arguments.get("last") is not None or arguments.get("before") is not None:
        return None
    limit, offset = page_size(arguments.get("first")), after_position(arguments.get("after"))
    where = ticket_search.build_where(viewer, plain_filter(arguments.get("filter")))
    order = ticket_search.order_by(_plain_sort(arguments.get("sort")))
    return sql.Page(where.part, order, offset, limit)


async def ticket_connection(
    info: strawberry.Info,
    chosen: ticket_search.TicketFilter | None,
    order: list[ticket_search.TicketSort],
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Ticket]:
    """A page of the ticket list, for `tickets` and for a saved view's `tickets`."""
    limit = page_size(first, last)
    if last is not None and first is not None:
        raise BadRequest("Ask for first or last, not both.")
    if last is not None:
        end = after_position(before) - 1 if before else None
        if end is None:
            total = (
                await ticket_search.ticket_page(info.context, chosen, order, offset=0, limit=0)
            ).total
            end = total
        offset = max(0, end - limit)
        limit = end - offset
    else:
        offset = after_position(after)
    page = await ticket_search.ticket_page(info.context, chosen, order, offset=offset, limit=limit)
    return connection(
        page.rows,
        page.total,
        key=positions(offset),
        has_next=page.has_next,
        has_previous=page.has_previous,
    )


# (Named here: inside TicketQuery, `tickets` is the field.)
_ONE_TICKET = sql.Found(tickets.TICKET, tickets.by_number_in_sql)


@strawberry.type
class TicketQuery:
    @strawberry.field(
        description=(
            "Tickets the viewer may see: all for staff, own, CC'd and shared organizations' for end users. "
            "Newest first unless sorted."
        )
    )
    @sql.answers_in_sql(sql.Pages(tickets.TICKET, _ticket_list_page, alias="t"))
    async def tickets(
        self,
        info: strawberry.Info,
        filter: TicketFilter | None = None,
        sort: list[TicketSort] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Ticket]:
        chosen, order = plain_filter(filter), _plain_sort(sort)
        return await ticket_connection(info, chosen, order, first, after, last, before)

    @strawberry.field(
        description="One ticket by its number; null when it does not exist or is not visible."
    )
    @sql.answers_in_sql(_ONE_TICKET)
    async def ticket(self, info: strawberry.Info, number: int) -> Ticket | None:
        return await tickets.ticket_by_number(info.context, number)
