"""People: users, organizations and groups as rows, their batch functions and checks."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from guichet.models.people import Role
from guichet.resolvers import access, ids
from guichet.resolvers.errors import NotFound, UserError
from guichet.resolvers.sql import as_datetime, fetch, placeholders

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


# ---------------------------------------------------------------- rows


@dataclass(slots=True)
class UserRow:
    pk: int
    name: str
    email_address: str
    role: Role
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("User", self.pk)


@dataclass(slots=True)
class OrganizationRow:
    pk: int
    name: str
    shared_tickets: bool
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("Organization", self.pk)


@dataclass(slots=True)
class GroupRow:
    pk: int
    name: str
    created_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("Group", self.pk)


USER_COLUMNS = "u.id, u.name, u.email, u.role, u.created_at"
ORGANIZATION_COLUMNS = "o.id, o.name, o.shared_tickets, o.created_at"
GROUP_COLUMNS = "g.id, g.name, g.created_at"


def user_row(r: dict[str, Any]) -> UserRow:
    return UserRow(r["id"], r["name"], r["email"], Role(r["role"]), as_datetime(r["created_at"]))


def organization_row(r: dict[str, Any]) -> OrganizationRow:
    return OrganizationRow(
        r["id"], r["name"], bool(r["shared_tickets"]), as_datetime(r["created_at"])
    )


def group_row(r: dict[str, Any]) -> GroupRow:
    return GroupRow(r["id"], r["name"], as_datetime(r["created_at"]))


# ---------------------------------------------------------------- batch functions


async def users_by_id(context: Context, keys: Sequence[int]) -> list[UserRow | None]:
    rows = await fetch(
        f'SELECT {USER_COLUMNS} FROM "user" u WHERE u.id IN ({placeholders(len(keys))})', *keys
    )
    found = {r["id"]: user_row(r) for r in rows}
    return [found.get(k) for k in keys]


async def groups_by_id(context: Context, keys: Sequence[int]) -> list[GroupRow | None]:
    rows = await fetch(
        f'SELECT {GROUP_COLUMNS} FROM "group" g WHERE g.id IN ({placeholders(len(keys))})', *keys
    )
    found = {r["id"]: group_row(r) for r in rows}
    return [found.get(k) for k in keys]


async def organizations_by_id(
    context: Context, keys: Sequence[int]
) -> list[OrganizationRow | None]:
    rows = await fetch(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organization o WHERE o.id IN ({placeholders(len(keys))})",
        *keys,
    )
    found = {r["id"]: organization_row(r) for r in rows}
    return [found.get(k) for k in keys]


async def organizations_by_user_id(
    context: Context, keys: Sequence[int]
) -> list[list[OrganizationRow]]:
    """A user's organizations, limited to those the viewer may see."""
    viewer = context.require_viewer()
    condition, params = access.visible_organizations_condition(viewer, "o.id", len(keys) + 1)
    rows = await fetch(
        f"SELECT m.user_id AS member_id, {ORGANIZATION_COLUMNS} FROM organization_member m"
        " JOIN organization o ON o.id = m.organization_id"
        f" WHERE m.user_id IN ({placeholders(len(keys))}) AND {condition} ORDER BY o.name, o.id",
        *keys,
        *params,
    )
    by_user: dict[int, list[OrganizationRow]] = defaultdict(list)
    for r in rows:
        by_user[r["member_id"]].append(organization_row(r))
    return [by_user.get(k, []) for k in keys]


async def groups_by_user_id(context: Context, keys: Sequence[int]) -> list[list[GroupRow]]:
    rows = await fetch(
        f"SELECT m.user_id AS member_id, {GROUP_COLUMNS} FROM group_member m"
        ' JOIN "group" g ON g.id = m.group_id'
        f" WHERE m.user_id IN ({placeholders(len(keys))}) ORDER BY g.name, g.id",
        *keys,
    )
    by_user: dict[int, list[GroupRow]] = defaultdict(list)
    for r in rows:
        by_user[r["member_id"]].append(group_row(r))
    return [by_user.get(k, []) for k in keys]


async def agents_by_group_id(context: Context, keys: Sequence[int]) -> list[list[UserRow]]:
    rows = await fetch(
        f"SELECT m.group_id AS group_id, {USER_COLUMNS} FROM group_member m"
        ' JOIN "user" u ON u.id = m.user_id'
        f" WHERE m.group_id IN ({placeholders(len(keys))}) ORDER BY u.name, u.id",
        *keys,
    )
    by_group: dict[int, list[UserRow]] = defaultdict(list)
    for r in rows:
        by_group[r["group_id"]].append(user_row(r))
    return [by_group.get(k, []) for k in keys]


async def organization_members(
    organization_pk: int, after_pk: int, limit: int
) -> tuple[list[UserRow], int]:
    """One page of an organization's members by id, and how many there are in all."""
    rows = await fetch(
        f"SELECT {USER_COLUMNS}, (SELECT COUNT(*) FROM organization_member c"
        " WHERE c.organization_id = $1) AS total"
        ' FROM organization_member m JOIN "user" u ON u.id = m.user_id'
        " WHERE m.organization_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
        organization_pk,
        after_pk,
        limit,
    )
    if rows:
        return [user_row(r) for r in rows], rows[0]["total"]
    total = await fetch(
        "SELECT COUNT(*) AS total FROM organization_member WHERE organization_id = $1",
        organization_pk,
    )
    return [], total[0]["total"]


async def user_visible_to(viewer: Viewer, pk: int) -> UserRow | None:
    condition, params = access.visible_users_condition(viewer, "u.id", 2)
    rows = await fetch(
        f'SELECT {USER_COLUMNS} FROM "user" u WHERE u.id = $1 AND {condition}', pk, *params
    )
    return user_row(rows[0]) if rows else None


async def organization_visible_to(viewer: Viewer, pk: int) -> OrganizationRow | None:
    condition, params = access.visible_organizations_condition(viewer, "o.id", 2)
    rows = await fetch(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organization o WHERE o.id = $1 AND {condition}",
        pk,
        *params,
    )
    return organization_row(rows[0]) if rows else None


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
