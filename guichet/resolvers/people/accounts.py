"""Accounts: adding people, organizations and groups, and their memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.models.people import Role
from guichet.resolvers import access, ids
from guichet.resolvers.errors import Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.people import organization_domains, organization_subscriptions
from guichet.resolvers.people.people import (
    GROUP,
    ORGANIZATION,
    USER,
    GroupRow,
    OrganizationRow,
    PeopleErrorCode,
    UserRow,
    email_error,
    group_for_viewer,
    normalize_email,
    organization_for_viewer,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


def _decode_all(global_ids: Sequence[str] | None, type_name: str, path: list[str]) -> list[int]:
    pks = []
    for i, gid in enumerate(global_ids or ()):
        pk = ids.decode_as(gid, type_name)
        if pk is None:
            raise Refused(
                UserError(
                    f"No {type_name.lower()} has the id {gid!r}.",
                    PeopleErrorCode.NOT_FOUND,
                    [*path, str(i)],
                )
            )
        pks.append(pk)
    return list(dict.fromkeys(pks))


async def _require_existing(model, pks: list[int], type_name: str, path: list[str]) -> None:
    found = set(await model.filter(id__in=pks).values_list("id", flat=True)) if pks else set()
    for i, pk in enumerate(pks):
        if pk not in found:
            raise Refused(
                UserError(
                    f"No {type_name.lower()} has the id {ids.encode(type_name, pk)!r}.",
                    PeopleErrorCode.NOT_FOUND,
                    [*path, str(i)],
                )
            )


async def _require_agents(pks: list[int], path: list[str], *, indexed: bool = True) -> None:
    roles = dict(await models.User.filter(id__in=pks).values_list("id", "role")) if pks else {}
    for i, pk in enumerate(pks):
        where = [*path, str(i)] if indexed else path
        if pk not in roles:
            raise Refused(
                UserError(
                    f"No user has the id {ids.encode('User', pk)!r}.",
                    PeopleErrorCode.NOT_FOUND,
                    where,
                )
            )
        if not Role(roles[pk]).at_least(Role.LIGHT_AGENT):
            raise Refused(
                UserError("Only agents belong to groups.", PeopleErrorCode.NOT_AN_AGENT, where)
            )


async def create_user(
    viewer: Viewer | None,
    *,
    name: str,
    email: str,
    role: Role,
    password_hash: str | None,
    organization_ids: Sequence[str] | None = None,
    group_ids: Sequence[str] | None = None,
) -> UserRow:
    """Add a person. `viewer` is None only for the command line, which may add the owner.
    The password arrives hashed (see auth.hash_password); its rules are checked by the caller."""
    if viewer is not None and role not in access.roles_creatable_by(viewer):
        raise Forbidden(f"Your role may not create {role.value} users.")
    problems = [
        text_error(name, ["input", "name"], max_length=200),
        email_error(email, ["input", "email"]),
    ]
    if errors := [p for p in problems if p]:
        raise Refused(*errors)
    org_pks = _decode_all(organization_ids, "Organization", ["input", "organizationIds"])
    group_pks = _decode_all(group_ids, "Group", ["input", "groupIds"])
    if group_pks and not role.at_least(Role.LIGHT_AGENT):
        raise Refused(
            UserError(
                "Only agents belong to groups.", PeopleErrorCode.NOT_AN_AGENT, ["input", "groupIds"]
            )
        )
    address = normalize_email(email)
    try:
        async with in_transaction():
            await _require_existing(
                models.Organization, org_pks, "Organization", ["input", "organizationIds"]
            )
            await _require_existing(models.Group, group_pks, "Group", ["input", "groupIds"])
            user = await models.User.create(
                name=name.strip(), email=address, role=role, password_hash=password_hash
            )
            for pk in org_pks:
                await models.OrganizationMember.create(organization_id=pk, user_id=user.id)
            if role is Role.END_USER:
                await organization_domains.join_by_domain(user.id, address)
            for pk in group_pks:
                await models.GroupMember.create(group_id=pk, user_id=user.id)
    except IntegrityError:
        # The unique indexes decide, so two concurrent requests cannot both win.
        if role is Role.OWNER and await models.User.filter(role=Role.OWNER).exists():
            raise Refused(
                UserError(
                    "There is already an owner; ownership is transferred, not shared.",
                    PeopleErrorCode.OWNER_EXISTS,
                    ["input", "role"],
                )
            ) from None
        raise Refused(
            UserError(
                f"{address} already has an account.",
                PeopleErrorCode.EMAIL_TAKEN,
                ["input", "email"],
            )
        ) from None
    return USER.row_of(user)


async def create_organization(
    viewer: Viewer, *, name: str, shared_tickets: bool
) -> OrganizationRow:
    access.require_role(viewer, Role.ADMIN)
    if error := text_error(name, ["input", "name"], max_length=200):
        raise Refused(error)
    try:
        org = await models.Organization.create(name=name.strip(), shared_tickets=shared_tickets)
    except IntegrityError:
        raise Refused(
            UserError(
                f"An organization is already named {name.strip()!r}.",
                PeopleErrorCode.NAME_TAKEN,
                ["input", "name"],
            )
        ) from None
    return ORGANIZATION.row_of(org)


async def create_group(viewer: Viewer, *, name: str, agent_ids: Sequence[str] | None) -> GroupRow:
    access.require_role(viewer, Role.ADMIN)
    if error := text_error(name, ["input", "name"], max_length=200):
        raise Refused(error)
    agent_pks = _decode_all(agent_ids, "User", ["input", "agentIds"])
    try:
        async with in_transaction():
            await _require_agents(agent_pks, ["input", "agentIds"])
            group = await models.Group.create(name=name.strip())
            for pk in agent_pks:
                await models.GroupMember.create(group_id=group.id, user_id=pk)
    except IntegrityError:
        raise Refused(
            UserError(
                f"A group is already named {name.strip()!r}.",
                PeopleErrorCode.NAME_TAKEN,
                ["input", "name"],
            )
        ) from None
    return GROUP.row_of(group)


async def set_organization_membership(
    context: Context, *, organization_id: str, user_id: str, member: bool
) -> OrganizationRow:
    """Agents put customers in (or take them out of) organizations."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    org_pk = ids.decode_as(organization_id, "Organization")
    user_pk = ids.decode_as(user_id, "User")
    try:
        org = await organization_for_viewer(context, org_pk or 0)
    except NotFound:
        raise Refused(
            UserError(
                "No such organization.", PeopleErrorCode.NOT_FOUND, ["input", "organizationId"]
            )
        ) from None
    if user_pk is None or not await models.User.filter(id=user_pk).exists():
        raise Refused(UserError("No such user.", PeopleErrorCode.NOT_FOUND, ["input", "userId"]))
    if member:
        await models.OrganizationMember.get_or_create(organization_id=org_pk, user_id=user_pk)
    else:
        async with in_transaction():
            await models.OrganizationMember.filter(organization_id=org_pk, user_id=user_pk).delete()
            await organization_subscriptions.unfollow_what_is_no_longer_allowed(
                user_pk=user_pk, organization_pk=org_pk
            )
    return org


async def set_group_membership(
    context: Context, *, group_id: str, user_id: str, member: bool
) -> GroupRow:
    """Admins put agents in (or take them out of) groups."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.ADMIN)
    group_pk = ids.decode_as(group_id, "Group")
    try:
        group = await group_for_viewer(context, group_pk or 0)
    except NotFound:
        raise Refused(
            UserError("No such group.", PeopleErrorCode.NOT_FOUND, ["input", "groupId"])
        ) from None
    user_pk = ids.decode_as(user_id, "User")
    if user_pk is None:
        raise Refused(UserError("No such user.", PeopleErrorCode.NOT_FOUND, ["input", "userId"]))
    if member:
        await _require_agents([user_pk], ["input", "userId"], indexed=False)
        await models.GroupMember.get_or_create(group_id=group_pk, user_id=user_pk)
    else:
        await models.GroupMember.filter(group_id=group_pk, user_id=user_pk).delete()
    return group
