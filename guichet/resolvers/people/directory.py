"""The directory: finding users and organizations, listing groups.

Pages are counted by position (the cursor is the row's place in the order), each read in
one statement that also counts the whole list (`COUNT(*) OVER ()`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guichet.models.people import Role
from guichet.resolvers import access, sql
from guichet.resolvers.errors import Forbidden
from guichet.resolvers.people.people import (
    GROUP,
    ORGANIZATION,
    USER,
    GroupRow,
    OrganizationRow,
    UserRow,
)
from guichet.resolvers.sql import like_pattern

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer

_USERS_PAGE = (
    sql.select(USER, "COUNT(*) OVER () AS total").where(sql.GIVEN).order("LOWER(u.name), u.id")
).page()
_USERS_COUNT = sql.count(USER).where(sql.GIVEN)
_ORGANIZATIONS_PAGE = (
    sql.select(ORGANIZATION, "COUNT(*) OVER () AS total")
    .where(sql.GIVEN)
    .order("LOWER(o.name), o.id")
).page()
_ORGANIZATIONS_COUNT = sql.count(ORGANIZATION).where(sql.GIVEN)
_GROUPS = sql.select(GROUP).order("LOWER(g.name), g.id")


@dataclass(frozen=True, slots=True)
class UserSearch:
    """`users(filter:)` as the rule takes it; None: no condition."""

    query: str | None = None
    roles: tuple[Role, ...] | None = None
    organization_pk: int | None = None
    group_pk: int | None = None
    active: bool | None = None


def _user_conditions(search: UserSearch) -> sql.Where:
    where = sql.Where()
    if search.query and search.query.strip():
        text = where.param(like_pattern(search.query.strip().lower()))
        # A phone is stored as E.164 (+41791234567): typed with spaces, it still matches.
        phone = where.param(like_pattern("".join(search.query.split())))
        where.conditions.append(
            f"(LOWER(u.name) LIKE {text} ESCAPE '\\' OR LOWER(u.email) LIKE {text} ESCAPE '\\'"
            f" OR u.phone LIKE {phone} ESCAPE '\\')"
        )
    if search.roles is not None:
        marks = ", ".join(where.param(r.value) for r in search.roles)
        where.conditions.append(f"u.role IN ({marks or 'NULL'})")
    if search.organization_pk is not None:
        where.add(
            "u.id IN (SELECT user_id FROM organization_member WHERE organization_id = ?)",
            search.organization_pk,
        )
    if search.group_pk is not None:
        where.add("u.id IN (SELECT user_id FROM group_member WHERE group_id = ?)", search.group_pk)
    if search.active is not None:
        where.add("u.active = ?", search.active)
    return where


async def _page(
    page: sql.Statement, count: sql.Statement, where: sql.Where, build: Any, offset: int, limit: int
) -> tuple[list[Any], int]:
    rows = await page.fetch(where.part, limit, offset)
    if rows:
        return [build(r) for r in rows], rows[0]["total"]
    # Past the end (or nothing matches): the count alone.
    return [], (await count.fetch(where.part))[0]["total"]


async def users_page(
    viewer: Viewer, search: UserSearch, offset: int, limit: int
) -> tuple[list[UserRow], int]:
    """One page of the users matching, by name, and how many match in all."""
    if not access.may_list_people(viewer):
        raise Forbidden()
    return await _page(_USERS_PAGE, _USERS_COUNT, _user_conditions(search), USER.row, offset, limit)


async def organizations_page(
    viewer: Viewer, query: str | None, offset: int, limit: int
) -> tuple[list[OrganizationRow], int]:
    """One page of the organizations whose name (or one of whose domains) matches."""
    if not access.may_list_people(viewer):
        raise Forbidden()
    where = sql.Where()
    if query and query.strip():
        pattern = where.param(like_pattern(query.strip().lower()))
        where.conditions.append(
            f"(LOWER(o.name) LIKE {pattern} ESCAPE '\\' OR o.id IN (SELECT organization_id"
            f" FROM organization_domain WHERE domain LIKE {pattern} ESCAPE '\\'))"
        )
    return await _page(
        _ORGANIZATIONS_PAGE, _ORGANIZATIONS_COUNT, where, ORGANIZATION.row, offset, limit
    )


async def all_groups(viewer: Viewer) -> list[GroupRow]:
    """Every group, deactivated ones too (they stay on old tickets), by name."""
    if not access.can_see_groups(viewer):
        raise Forbidden()
    return [GROUP.row(r) for r in await _GROUPS.fetch()]
