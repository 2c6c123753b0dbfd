"""The directory: users, organizations and groups, for staff."""

from __future__ import annotations

import strawberry

from guichet.models.people import Role as RoleValue
from guichet.resolvers import ids
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.people import directory
from guichet.schema.enums import Role
from guichet.schema.people import Group, Organization, User
from guichet.schema.relay import Connection, after_position, offset_connection, page_size
from guichet.schema.requires import requires


@strawberry.input(description="Conditions on users; all given ones hold (AND).")
class UserFilter:
    query: str | None = strawberry.field(
        default=None,
        description="Matches name, e-mail and phone (case-insensitive, anywhere in them).",
    )
    role: list[Role] | None = None
    organization_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    active: bool | None = None


def _pk(global_id: strawberry.ID | None, type_name: str, term: str) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise BadRequest(f"{global_id!r} is not a {type_name} id.", term=term)
    return pk


def _search(filter: UserFilter | None) -> directory.UserSearch:
    if filter is None:
        return directory.UserSearch()
    if filter.query and "\x00" in filter.query:
        raise BadRequest("A query cannot contain a NUL character.", term="query")
    return directory.UserSearch(
        query=filter.query,
        roles=None if filter.role is None else tuple(RoleValue(r) for r in filter.role),
        organization_pk=_pk(filter.organization_id, "Organization", "organizationId"),
        group_pk=_pk(filter.group_id, "Group", "groupId"),
        active=filter.active,
    )


@strawberry.type
class DirectoryQuery:
    @strawberry.field(
        extensions=[requires(RoleValue.AGENT)],
        description="People, by name; deactivated ones too unless `filter.active` says.",
    )
    async def users(
        self,
        info: strawberry.Info,
        filter: UserFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User] | None:
        limit, offset = page_size(first), after_position(after)
        rows, total = await directory.users_page(
            info.context.require_viewer(), _search(filter), offset, limit
        )
        return offset_connection(rows, total, offset)

    @strawberry.field(
        extensions=[requires(RoleValue.AGENT)],
        description="Organizations, by name; `query` matches the name and the e-mail domains.",
    )
    async def organizations(
        self,
        info: strawberry.Info,
        query: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Organization] | None:
        if query and "\x00" in query:
            raise BadRequest("A query cannot contain a NUL character.", term="query")
        limit, offset = page_size(first), after_position(after)
        rows, total = await directory.organizations_page(
            info.context.require_viewer(), query, offset, limit
        )
        return offset_connection(rows, total, offset)

    @strawberry.field(
        extensions=[requires(RoleValue.LIGHT_AGENT)],
        description="Every group, by name (deactivated ones too: they stay on old tickets).",
    )
    async def groups(self, info: strawberry.Info) -> list[Group] | None:
        return await directory.all_groups(info.context.require_viewer())
