"""People: users, organizations and groups as rows, their batch functions and checks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import NotFound, UserError
from guichet.resolvers.sql import as_bool, as_datetime

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

EMAIL = re.compile(
    r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class PeopleErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_EMAIL = "INVALID_EMAIL"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    NAME_TAKEN = "NAME_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    NOT_FOUND = "NOT_FOUND"
    NOT_AN_AGENT = "NOT_AN_AGENT"
    OWNER_EXISTS = "OWNER_EXISTS"
    INVALID_PHONE = "INVALID_PHONE"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    NOT_SHARED = "NOT_SHARED"


# ---------------------------------------------------------------- rows


@dataclass(slots=True)
class UserRow:
    pk: int
    name: str
    email_address: str
    role: Role
    created_at: datetime
    active: bool = True
    last_sign_in_at: datetime | None = None

    @property
    def id(self) -> str:
        return ids.encode("User", self.pk)


@dataclass(slots=True)
class OrganizationRow:
    pk: int
    name: str
    shared_tickets: bool
    created_at: datetime
    active: bool = True

    @property
    def id(self) -> str:
        return ids.encode("Organization", self.pk)


@dataclass(slots=True)
class GroupRow:
    pk: int
    name: str
    created_at: datetime
    active: bool = True

    @property
    def id(self) -> str:
        return ids.encode("Group", self.pk)


USER = sql.Table(
    "user", "u", UserRow, "id", "name", "email", ("role", Role), ("created_at", as_datetime),
    ("active", as_bool), ("last_sign_in_at", as_datetime),
)  # fmt: skip
ORGANIZATION = sql.Table(
    "organization", "o", OrganizationRow,
    "id", "name", ("shared_tickets", as_bool), ("created_at", as_datetime), ("active", as_bool),
)  # fmt: skip
GROUP = sql.Table(
    "group", "g", GroupRow, "id", "name", ("created_at", as_datetime), ("active", as_bool)
)

_USERS_BY_ID = sql.select(USER).where(sql.among("u.id"))
_GROUPS_BY_ID = sql.select(GROUP).where(sql.among("g.id"))
_ORGANIZATIONS_BY_ID = sql.select(ORGANIZATION).where(sql.among("o.id"))
_ORGANIZATIONS_OF_USERS = (
    sql.select(
        "m.user_id AS member_id",
        ORGANIZATION,
        from_=f"organization_member m JOIN {ORGANIZATION} ON o.id = m.organization_id",
    )
    .where(sql.among("m.user_id"), sql.GIVEN)
    .order("o.name, o.id")
)
_GROUPS_OF_USERS = (
    sql.select(
        "m.user_id AS member_id", GROUP, from_=f"group_member m JOIN {GROUP} ON g.id = m.group_id"
    )
    .where(sql.among("m.user_id"))
    .order("g.name, g.id")
)
_AGENTS_OF_GROUPS = (
    sql.select(
        "m.group_id AS group_id", USER, from_=f"group_member m JOIN {USER} ON u.id = m.user_id"
    )
    .where(sql.among("m.group_id"))
    .order("u.name, u.id")
)
_MEMBERS_PAGE = (
    sql.select(
        USER,
        "(SELECT COUNT(*) FROM organization_member c WHERE c.organization_id = ?) AS total",
        from_=f"organization_member m JOIN {USER} ON u.id = m.user_id",
    )
    .where("m.organization_id = ?", "u.id > ?")
    .order("u.id")
    .limit()
)
_MEMBERS_COUNT = sql.count("organization_member").where("organization_id = ?")
_USER_VISIBLE = sql.select(USER).where("u.id = ?", sql.GIVEN)
_ORGANIZATION_VISIBLE = sql.select(ORGANIZATION).where("o.id = ?", sql.GIVEN)


# ---------------------------------------------------------------- batch functions


def _readable_email(viewer: Viewer, key: tuple) -> tuple[str, list]:
    user, email = key
    condition, params = access.readable_email_condition(viewer, str(user), 1)
    return f"CASE WHEN {condition} THEN {email} END", params


@sql.answers_in_sql(sql.Computed(_readable_email))
async def emails_for_viewer(context: Context, keys: Sequence[tuple[int, str]]) -> list[str | None]:
    """For each (user, address): the address when the viewer may read it, else None. No
    SQL: the user's row already holds the address; this decides for a whole list at once."""
    viewer = context.require_viewer()
    return [email if access.can_read_email(viewer, pk) else None for pk, email in keys]


def me_in_sql(viewer: Viewer, arguments: dict, alias: str) -> tuple[str, list]:
    """The viewer's own row, for an answer built in SQL (resolvers/sql/sources.py)."""
    return f"{alias}.id = $1", [viewer.id]


@sql.answers_in_sql(sql.One(USER))
async def users_by_id(context: Context, keys: Sequence[int]) -> list[UserRow | None]:
    return sql.in_key_order(keys, await _USERS_BY_ID.fetch(keys), USER.row)


async def groups_by_id(context: Context, keys: Sequence[int]) -> list[GroupRow | None]:
    return sql.in_key_order(keys, await _GROUPS_BY_ID.fetch(keys), GROUP.row)


@sql.answers_in_sql(sql.One(ORGANIZATION))
async def organizations_by_id(
    context: Context, keys: Sequence[int]
) -> list[OrganizationRow | None]:
    return sql.in_key_order(keys, await _ORGANIZATIONS_BY_ID.fetch(keys), ORGANIZATION.row)


async def organizations_by_user_id(
    context: Context, keys: Sequence[int]
) -> list[list[OrganizationRow]]:
    """A user's organizations, limited to those the viewer may see."""
    viewer = context.require_viewer()
    visible = access.visible_organizations_condition(viewer, "o.id", 1)
    rows = await _ORGANIZATIONS_OF_USERS.fetch(keys, visible)
    return sql.grouped_by(keys, rows, ORGANIZATION.row, "member_id")


async def groups_by_user_id(context: Context, keys: Sequence[int]) -> list[list[GroupRow]]:
    return sql.grouped_by(keys, await _GROUPS_OF_USERS.fetch(keys), GROUP.row, "member_id")


async def agents_by_group_id(context: Context, keys: Sequence[int]) -> list[list[UserRow]]:
    return sql.grouped_by(keys, await _AGENTS_OF_GROUPS.fetch(keys), USER.row, "group_id")


async def organization_members(
    organization_pk: int, after_pk: int, limit: int
) -> tuple[list[UserRow], int]:
    """One page of an organization's members by id, and how many there are in all."""
    rows = await _MEMBERS_PAGE.fetch(organization_pk, organization_pk, after_pk, limit)
    if rows:
        return [USER.row(r) for r in rows], rows[0]["total"]
    total = await _MEMBERS_COUNT.fetch(organization_pk)
    return [], total[0]["total"]


async def user_visible_to(viewer: Viewer, pk: int) -> UserRow | None:
    visible = access.visible_users_condition(viewer, "u.id", 1)
    rows = await _USER_VISIBLE.fetch(pk, visible)
    return USER.row(rows[0]) if rows else None


async def organization_visible_to(viewer: Viewer, pk: int) -> OrganizationRow | None:
    visible = access.visible_organizations_condition(viewer, "o.id", 1)
    rows = await _ORGANIZATION_VISIBLE.fetch(pk, visible)
    return ORGANIZATION.row(rows[0]) if rows else None


# Loads by id for `node(id:)` and rules: NotFound alike for what is missing and what is hidden.


async def user_for_viewer(context: Context, pk: int) -> UserRow:
    found = await user_visible_to(context.require_viewer(), pk)
    if found is None:
        raise NotFound()
    return found


async def organization_for_viewer(context: Context, pk: int) -> OrganizationRow:
    found = await organization_visible_to(context.require_viewer(), pk)
    if found is None:
        raise NotFound()
    return found


async def group_for_viewer(context: Context, pk: int) -> GroupRow:
    if not access.can_see_groups(context.require_viewer()):
        raise NotFound()
    return await context.visible_one(groups_by_id, pk)


# ---------------------------------------------------------------- rules


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_error(email: str, path: list[str]) -> UserError | None:
    if not email or not email.strip():
        return UserError("An e-mail address is required.", PeopleErrorCode.REQUIRED, path)
    if len(email) > 254 or "\x00" in email or not EMAIL.match(email.strip()):
        return UserError(
            f"{email!r} is not an e-mail address.", PeopleErrorCode.INVALID_EMAIL, path
        )
    return None


def password_error(password: str, path: list[str]) -> UserError | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return UserError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
            PeopleErrorCode.WEAK_PASSWORD,
            path,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return UserError(
            f"A password has at most {MAX_PASSWORD_LENGTH} characters.",
            PeopleErrorCode.TOO_LONG,
            path,
        )
    return None
