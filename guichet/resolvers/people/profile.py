"""The viewer's own profile: name, phone number (for SMS reminders) and default organization.

A phone number and a default organization are read like an e-mail address: by the user
themself and by staff (`access.can_read_profile`); anyone else reads null.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import NotFound, Refused, UserError, text_error
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.people.people import (
    ORGANIZATION,
    USER,
    OrganizationRow,
    PeopleErrorCode,
    UserRow,
    organization_visible_to,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# E.164: a plus, then 8 to 15 digits, the first not 0. Spaces, dots, hyphens and
# parentheses people type between groups of digits are dropped first.
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_SEPARATORS = re.compile(r"[\s.\-()]")

_PHONES = sql.select("u.id", "u.phone", from_=USER).where(sql.among("u.id"))
_DEFAULT_ORGANIZATIONS = sql.select(
    "u.id AS user_id",
    ORGANIZATION,
    from_=f"{USER} JOIN {ORGANIZATION} ON o.id = u.default_organization_id",
).where(sql.among("u.id"))


def phone_number(phone: str | None, path: list[str]) -> str | None:
    """The number as stored (E.164), None to clear it; refuses anything else with
    INVALID_PHONE."""
    if phone is None or not phone.strip():
        return None
    number = _SEPARATORS.sub("", phone)
    if not E164.match(number):
        raise Refused(
            UserError(
                f"{phone!r} is not a phone number in international form, e.g. +41791234567.",
                PeopleErrorCode.INVALID_PHONE,
                path,
            )
        )
    return number


# ---------------------------------------------------------------- batch functions


async def phones_by_user_id(context: Context, keys: Sequence[int]) -> list[str | None]:
    """Each user's phone number, when the viewer may read it (else None)."""
    viewer = context.require_viewer()
    readable = [k for k in keys if access.can_read_profile(viewer, k)]
    rows = await _PHONES.fetch(readable) if readable else []
    found = {r["id"]: r["phone"] for r in rows}
    return [found.get(k) for k in keys]


async def default_organizations_by_user_id(
    context: Context, keys: Sequence[int]
) -> list[OrganizationRow | None]:
    """Each user's default organization, when the viewer may read it (else None)."""
    viewer = context.require_viewer()
    readable = [k for k in keys if access.can_read_profile(viewer, k)]
    rows = await _DEFAULT_ORGANIZATIONS.fetch(readable) if readable else []
    return sql.in_key_order(keys, rows, ORGANIZATION.row, "user_id")


# ---------------------------------------------------------------- the rule


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """updateProfile's input: only the fields not OMITTED change; null clears the phone
    and the default organization (a name cannot be cleared)."""

    name: str | OmittedType | None = OMITTED
    phone: str | OmittedType | None = OMITTED
    default_organization_id: str | OmittedType | None = OMITTED


async def update_profile(context: Context, changes: ProfileChanges) -> UserRow:
    """Change the viewer's own name, phone number and default organization.

    The name follows the same rules as when a person is added (required, at most 200
    characters). The phone is E.164 (INVALID_PHONE otherwise); null or empty clears it.
    The default organization must be one the viewer belongs to, whatever their role: an
    organization a customer may not see is NOT_FOUND, as if it did not exist; one staff
    see but do not belong to is NOT_A_MEMBER."""
    viewer = context.require_viewer()
    updates: dict[str, object] = {}
    if given(changes.name):
        if error := text_error(changes.name, ["input", "name"], max_length=200):
            raise Refused(error)
        updates["name"] = changes.name.strip()
    if given(changes.phone):
        updates["phone"] = phone_number(changes.phone, ["input", "phone"])
    async with in_transaction():
        if given(changes.default_organization_id):
            updates["default_organization_id"] = await _default_organization(
                context, changes.default_organization_id
            )
        user = await models.User.get_or_none(id=viewer.id)
        if user is None:
            raise NotFound()
        if updates:
            await models.User.filter(id=viewer.id).update(**updates)
            user.update_from_dict(updates)
    context.next_event()  # the payload reads the profile afresh
    return USER.row_of(user)


async def _default_organization(context: Context, global_id: str | None) -> int | None:
    path = ["input", "defaultOrganizationId"]
    if global_id is None:
        return None
    viewer = context.require_viewer()
    pk = ids.decode_as(global_id, "Organization")
    if pk is None or await organization_visible_to(viewer, pk) is None:
        raise Refused(UserError("No such organization.", PeopleErrorCode.NOT_FOUND, path))
    if not await models.OrganizationMember.filter(organization_id=pk, user_id=viewer.id).exists():
        raise Refused(
            UserError(
                "A default organization is one you belong to.", PeopleErrorCode.NOT_A_MEMBER, path
            )
        )
    return pk
