"""Changing a person: agents change customers' details, admins anyone below the owner,
roles and groups included. One transaction, audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.models.people import Role
from guichet.resolvers import access, ids
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import Forbidden, Refused, UserError, text_error
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.people import organization_subscriptions
from guichet.resolvers.people.auth import announce_ended_sessions
from guichet.resolvers.people.people import (
    USER,
    PeopleErrorCode,
    UserRow,
    email_error,
    normalize_email,
)
from guichet.resolvers.people.profile import phone_number

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


class AccountErrorCode(StrEnum):
    OWN_ROLE = "OWN_ROLE"
    LAST_ADMIN = "LAST_ADMIN"
    INACTIVE = "INACTIVE"
    OWN_ACCOUNT = "OWN_ACCOUNT"
    OWNER = "OWNER"


@dataclass(frozen=True, slots=True)
class UserChanges:
    """updateUser's input: only the fields not OMITTED change; null clears the phone (and
    leaves the others as they are)."""

    id: str
    name: str | OmittedType | None = OMITTED
    email: str | OmittedType | None = OMITTED
    phone: str | OmittedType | None = OMITTED
    role: Role | OmittedType | None = OMITTED
    organization_ids: Sequence[str] | OmittedType | None = OMITTED
    group_ids: Sequence[str] | OmittedType | None = OMITTED


def not_found(path: list[str], what: str = "user") -> Refused:
    return Refused(UserError(f"No such {what}.", PeopleErrorCode.NOT_FOUND, path))


async def target_user(global_id: str, path: list[str] | None = None) -> models.User:
    """The user an admin rule acts on, locked where the database can: staff see every user,
    so an unknown id is the only NOT_FOUND."""
    path = path or ["input", "id"]
    pk = ids.decode_as(global_id, "User")
    user = await models.User.filter(id=pk).select_for_update().first() if pk else None
    if user is None:
        raise not_found(path)
    return user


async def other_active_admins(user_pk: int) -> int:
    """Active admins (the owner counted) besides this user. Their rows are locked where the
    database can, so two admins removing each other at once cannot both succeed."""
    admin_roles = [r for r in Role if access.counts_as_admin(r)]
    found = (
        await models.User.filter(role__in=admin_roles, active=True)
        .select_for_update()
        .values_list("id", flat=True)
    )
    return len([pk for pk in found if pk != user_pk])


async def _member_pks(
    model: Any, global_ids: Sequence[str], type_name: str, path: list[str], *, current: set[int]
) -> set[int]:
    """The ids named, each existing; one not active may be kept, not newly added."""
    pks = []
    for i, gid in enumerate(global_ids):
        pk = ids.decode_as(gid, type_name)
        if pk is None:
            raise not_found([*path, str(i)], type_name.lower())
        pks.append(pk)
    found = dict(await model.filter(id__in=pks).values_list("id", "active")) if pks else {}
    for i, pk in enumerate(pks):
        if pk not in found:
            raise not_found([*path, str(i)], type_name.lower())
        if not found[pk] and pk not in current:
            raise Refused(
                UserError(
                    f"That {type_name.lower()} was deactivated: nobody joins it any more.",
                    AccountErrorCode.INACTIVE,
                    [*path, str(i)],
                )
            )
    return set(pks)


def _checked_details(changes: UserChanges) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    errors = []
    if given(changes.name):
        if error := text_error(changes.name, ["input", "name"], max_length=200):
            errors.append(error)
        else:
            updates["name"] = changes.name.strip()
    if given(changes.email):
        if error := email_error(changes.email or "", ["input", "email"]):
            errors.append(error)
        else:
            updates["email"] = normalize_email(changes.email)
    if errors:
        raise Refused(*errors)
    if given(changes.phone):
        updates["phone"] = phone_number(changes.phone, ["input", "phone"])
    return updates


async def update_user(context: Context, changes: UserChanges) -> UserRow:
    """Change a person's name, e-mail, phone and organizations (agents: customers only);
    admins also change role and groups of anyone below the owner, never their own role and
    never to owner (ownership is transferred)."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    staff_only = given(changes.role) or given(changes.group_ids)
    if staff_only and not access.may_change_roles_and_groups(viewer):
        raise Forbidden("Only admins change roles and groups.")
    updates = _checked_details(changes)
    audited: dict[str, list[Any]] = {}
    try:
        async with in_transaction():
            user = await target_user(changes.id)
            before_role = Role(user.role)
            if not access.may_change_user(viewer, before_role):
                raise Forbidden(f"Your role may not change {before_role.value} users.")
            role = before_role
            if given(changes.role) and changes.role is not None and changes.role is not role:
                role = await _new_role(viewer.id, user, changes.role)
                updates["role"] = role
            if updates.get("email") not in (None, user.email):
                if await models.User.filter(email=updates["email"]).exclude(id=user.id).exists():
                    raise _email_taken(updates["email"])
            for name, value in updates.items():
                if getattr(user, name) != value:
                    audited[name] = [getattr(user, name), value]
            if audited:
                await models.User.filter(id=user.id).update(
                    **{k: v for k, v in updates.items() if k in audited}
                )
            await _memberships(user, role, changes, audited)
            await organization_subscriptions.unfollow_what_is_no_longer_allowed(user_pk=user.id)
            if audited:
                await audit(
                    viewer, "user.updated", target_type="User", target_id=user.id, changes=audited
                )
            user = await models.User.get(id=user.id)
    except IntegrityError:
        # Two requests gave the same address at once: the unique index decides.
        raise _email_taken(updates.get("email", "")) from None
    if "role" in audited:
        # What their open websockets may see changed: they reconnect under the new role.
        await announce_ended_sessions(context.bus, user_ids=[user.id])
    context.next_event()  # the payload reads the person afresh
    return USER.row_of(user)


def _email_taken(address: str) -> Refused:
    return Refused(
        UserError(
            f"{address} already has an account.", PeopleErrorCode.EMAIL_TAKEN, ["input", "email"]
        )
    )


async def _new_role(viewer_pk: int, user: models.User, role: Role) -> Role:
    path = ["input", "role"]
    if user.id == viewer_pk:
        raise Refused(UserError("Nobody changes their own role.", AccountErrorCode.OWN_ROLE, path))
    if role is Role.OWNER:
        raise Refused(
            UserError("Ownership is transferred (transferOwnership).", AccountErrorCode.OWNER, path)
        )
    was_admin = access.counts_as_admin(Role(user.role))
    if was_admin and not access.counts_as_admin(role) and user.active:
        if not await other_active_admins(user.id):
            raise Refused(
                UserError(
                    "The last active admin stays an admin.", AccountErrorCode.LAST_ADMIN, path
                )
            )
    return role


async def _memberships(
    user: models.User, role: Role, changes: UserChanges, audited: dict[str, list[Any]]
) -> None:
    """Replace the organizations and groups named; one who stops being staff leaves every
    group (only agents belong to groups)."""
    if given(changes.organization_ids):
        current = set(
            await models.OrganizationMember.filter(user_id=user.id).values_list(
                "organization_id", flat=True
            )
        )
        wanted = await _member_pks(
            models.Organization,
            changes.organization_ids or (),
            "Organization",
            ["input", "organizationIds"],
            current=current,
        )
        if wanted != current:
            await models.OrganizationMember.filter(
                user_id=user.id, organization_id__in=current - wanted
            ).delete()
            for pk in sorted(wanted - current):
                await models.OrganizationMember.create(organization_id=pk, user_id=user.id)
            if user.default_organization_id in current - wanted:
                await models.User.filter(id=user.id).update(default_organization_id=None)
            audited["organizations"] = [sorted(current), sorted(wanted)]
    current_groups = set(
        await models.GroupMember.filter(user_id=user.id).values_list("group_id", flat=True)
    )
    wanted_groups = current_groups
    if given(changes.group_ids):
        wanted_groups = await _member_pks(
            models.Group,
            changes.group_ids or (),
            "Group",
            ["input", "groupIds"],
            current=current_groups,
        )
        if wanted_groups and not role.at_least(Role.LIGHT_AGENT):
            raise Refused(
                UserError(
                    "Only agents belong to groups.",
                    PeopleErrorCode.NOT_AN_AGENT,
                    ["input", "groupIds"],
                )
            )
    if not role.at_least(Role.LIGHT_AGENT):
        wanted_groups = set()
    if wanted_groups != current_groups:
        await models.GroupMember.filter(
            user_id=user.id, group_id__in=current_groups - wanted_groups
        ).delete()
        for pk in sorted(wanted_groups - current_groups):
            await models.GroupMember.create(group_id=pk, user_id=user.id)
        audited["groups"] = [sorted(current_groups), sorted(wanted_groups)]
