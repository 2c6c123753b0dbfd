"""Saved views, their counts, the dashboard, and live view counts."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.scalars import JSON

from guichet.models import views as models
from guichet.models.people import Role
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.people import people
from guichet.resolvers.tickets import ticket_search
from guichet.resolvers.views import dashboard, view_counts, views
from guichet.schema.fields import related
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import Group, User
from guichet.schema.relay import Connection, Node
from guichet.schema.requires import requires
from guichet.schema.resolutions import SatisfactionStats
from guichet.schema.ticket_enums import SortDirection, TicketSortField
from guichet.schema.ticket_list import TicketFilter, plain_filter, ticket_connection
from guichet.schema.tickets import Ticket
from guichet.subscriptions import view_counts as live

ViewScope = strawberry.enum(models.ViewScope, name="ViewScope")


@strawberry.type
class TicketSortValue:
    field: TicketSortField
    direction: SortDirection


@strawberry.type(
    description="A saved ticket list: a filter, an order and the columns a client shows."
)
class View(Node):
    name: str
    scope: ViewScope
    owner: User | None = related(people.users_by_id, key="owner_id")
    group: Group | None = related(people.groups_by_id, key="group_id")
    built_in: bool = strawberry.field(
        description="True for the views that exist from the start (they can be hidden, not deleted)."
    )
    filter: JSON = strawberry.field(
        description=(
            "The filter as a TicketFilter input object (search syntax in `query`; `assignee:me` "
            "is the viewer)."
        )
    )
    columns: list[str]
    position: int = strawberry.field(description="Where the viewer placed it (ascending).")
    hidden: bool = strawberry.field(description="Hidden by the viewer (see views(includeHidden:)).")

    @strawberry.field
    def sort(self, root: strawberry.Parent[views.ViewRow]) -> list[TicketSortValue]:
        return [
            TicketSortValue(field=TicketSortField(s.field), direction=SortDirection(s.direction))
            for s in root.sort
        ]

    @strawberry.field(
        description="Tickets matching, for the viewer: `tickets(filter:)`'s totalCount."
    )
    async def count(self, root: strawberry.Parent[views.ViewRow], info: strawberry.Info) -> int:
        found = await info.context.loader(view_counts.counts_by_filter).load(root.ticket_filter)
        if found is None:
            raise BadRequest(f"The filter of view {root.name!r} no longer reads: update it.")
        return found

    @strawberry.field(
        description="The tickets, paged and visible as in `tickets`, in the view's order."
    )
    async def tickets(
        self,
        root: strawberry.Parent[views.ViewRow],
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Ticket]:
        try:
            chosen = views.usable_filter(info.context.require_viewer(), root)
        except BadRequest:
            raise BadRequest(
                f"The filter of view {root.name!r} no longer reads: update it."
            ) from None
        return await ticket_connection(info, chosen, root.sort, first, after, last, before)

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, views.ViewRow)


@strawberry.type
class ViewCount:
    view: View
    count: int


@strawberry.type(
    description="What a staff member's home page shows. Days and weeks (from Monday) are the help desk's."
)
class Dashboard:
    my_open_tickets: int
    unassigned_tickets: int
    approvals_waiting_for_me: int
    activities_due_today: int
    activities_overdue: int
    solved_this_week: int
    satisfaction_this_month: SatisfactionStats
    views: list[ViewCount]


@strawberry.input
class TicketSortInput:
    field: TicketSortField
    direction: SortDirection


def _sort(sort: list[TicketSortInput] | None) -> list[ticket_search.TicketSort] | None:
    if sort is None or sort is strawberry.UNSET:
        return sort
    return [ticket_search.TicketSort(s.field.value, s.direction.value) for s in sort]


@strawberry.input
class CreateViewInput:
    name: str
    scope: ViewScope = strawberry.field(
        description="PERSONAL (agents), GROUP (a group one belongs to; admins any), SHARED (admins)."
    )
    group_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for GROUP scope."
    )
    filter: TicketFilter
    sort: list[TicketSortInput] | None = None
    columns: list[str] | None = None


@strawberry.input(
    description=(
        "name, filter, sort and columns: whoever may change the view (built-in views: nobody). "
        "position and hidden: the viewer's own arrangement, for anyone who sees the view."
    )
)
class UpdateViewInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    filter: TicketFilter | None = strawberry.UNSET
    sort: list[TicketSortInput] | None = strawberry.UNSET
    columns: list[str] | None = strawberry.UNSET
    position: int | None = strawberry.UNSET
    hidden: bool | None = strawberry.UNSET


@strawberry.input
class ViewIdInput:
    id: strawberry.ID


@payload
class ViewPayload:
    view: View | None = None


@strawberry.type
class ViewQuery:
    @strawberry.field(
        description=(
            "The viewer's views in their order: personal, their groups', shared and built-in; "
            "hidden ones only with includeHidden."
        ),
        extensions=[requires(Role.LIGHT_AGENT)],
    )
    async def views(
        self, info: strawberry.Info, include_hidden: bool | None = False
    ) -> list[View] | None:
        return await views.viewer_views(info.context, include_hidden=bool(include_hidden))

    @strawberry.field(
        description="A staff member's home page in one round trip.",
        extensions=[requires(Role.LIGHT_AGENT)],
    )
    async def dashboard(self, info: strawberry.Info) -> Dashboard | None:
        return await dashboard.dashboard(info.context)


@strawberry.type
class ViewMutation:
    @mutation(ViewPayload, extensions=[requires(Role.AGENT)])
    async def create_view(self, info: strawberry.Info, input: CreateViewInput) -> ViewPayload:
        new = plain(input, views.NewView, filter=plain_filter(input.filter), sort=_sort(input.sort))
        return ViewPayload(view=await views.create_view(info.context, new))

    @mutation(ViewPayload, extensions=[requires(Role.LIGHT_AGENT)])
    async def update_view(self, info: strawberry.Info, input: UpdateViewInput) -> ViewPayload:
        chosen = input.filter
        if chosen is not strawberry.UNSET and chosen is not None:
            chosen = plain_filter(chosen)
        changes = plain(input, views.ViewChanges, filter=chosen, sort=_sort(input.sort))
        return ViewPayload(view=await views.update_view(info.context, changes))

    @mutation(
        ViewPayload,
        extensions=[requires(Role.AGENT)],
        description="Not the built-in views: hide those.",
    )
    async def delete_view(self, info: strawberry.Info, input: ViewIdInput) -> ViewPayload:
        return ViewPayload(view=await views.delete_view(info.context, input.id))


@strawberry.type
class ViewSubscription:
    @strawberry.subscription(
        description=(
            "The viewer's view counts (staff), sent at once, then again when they change "
            "(at most once a second)."
        )
    )
    async def view_counts(self, info: strawberry.Info) -> AsyncGenerator[list[ViewCount], None]:
        return await live.view_counts(info.context)
