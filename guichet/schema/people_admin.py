"""Changing and deactivating people, organizations, groups and custom fields."""

from __future__ import annotations

import strawberry

from guichet.models.people import Role as RoleValue
from guichet.resolvers.admin import setup_changes
from guichet.resolvers.people import deactivation, user_changes
from guichet.schema.custom_fields import CustomFieldPayload
from guichet.schema.enums import UserRoleInput
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation
from guichet.schema.people import GroupPayload, OrganizationPayload, UserPayload
from guichet.schema.requires import requires
from guichet.schema.ticket_enums import FieldVisibility


@strawberry.input(description="Only the fields given change; null clears the phone.")
class UpdateUserInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    role: UserRoleInput | None = strawberry.field(
        default=strawberry.UNSET, description="Admins only; never OWNER (see transferOwnership)."
    )
    organization_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The whole list of their organizations."
    )
    group_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Admins only: the whole list of their groups."
    )


@strawberry.input
class UserIdInput:
    id: strawberry.ID


@strawberry.input(description="Only the fields given change.")
class UpdateOrganizationInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    shared_tickets: bool | None = strawberry.UNSET
    domains: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The whole list of e-mail domains (e.g. example.com), lower-cased as stored.",
    )


@strawberry.input
class OrganizationIdInput:
    id: strawberry.ID


@strawberry.input
class UpdateGroupInput:
    id: strawberry.ID
    name: str | None = None


@strawberry.input
class GroupIdInput:
    id: strawberry.ID


@strawberry.input(description="Only the fields given change; the type never does.")
class UpdateCustomFieldInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    visibility: FieldVisibility | None = strawberry.UNSET
    options: list[str] | None = strawberry.UNSET
    required_for_end_users: bool | None = strawberry.UNSET
    position: int | None = strawberry.UNSET


@strawberry.input
class CustomFieldIdInput:
    id: strawberry.ID


@strawberry.type
class PeopleAdminMutation:
    @mutation(
        UserPayload,
        extensions=[requires(RoleValue.AGENT)],
        description=(
            "Change a person. Agents: customers' name, e-mail, phone and organizations; admins: "
            "anyone below the owner, role and groups included. Codes: NOT_FOUND, REQUIRED, "
            "TOO_LONG, INVALID_EMAIL, EMAIL_TAKEN, INVALID_PHONE, OWN_ROLE (nobody changes "
            "their own role), OWNER, LAST_ADMIN, INACTIVE (a deactivated organization or group "
            "is not joined anew), NOT_AN_AGENT (groups are for staff)."
        ),
    )
    async def update_user(self, info: strawberry.Info, input: UpdateUserInput) -> UserPayload:
        role = input.role.role if isinstance(input.role, UserRoleInput) else input.role
        changes = plain(input, user_changes.UserChanges, role=role)
        return UserPayload(user=await user_changes.update_user(info.context, changes))

    @mutation(
        UserPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description=(
            "They cannot sign in any more (the answer is that of a wrong password); every "
            "session of theirs ends and their websockets close within seconds; their history "
            "stays. Codes: NOT_FOUND, OWN_ACCOUNT, OWNER (the owner cannot be deactivated), "
            "LAST_ADMIN (admins and the owner count)."
        ),
    )
    async def deactivate_user(self, info: strawberry.Info, input: UserIdInput) -> UserPayload:
        return UserPayload(user=await deactivation.deactivate_user(info.context, input.id))

    @mutation(UserPayload, extensions=[requires(RoleValue.ADMIN)])
    async def reactivate_user(self, info: strawberry.Info, input: UserIdInput) -> UserPayload:
        return UserPayload(user=await deactivation.reactivate_user(info.context, input.id))

    @mutation(
        OrganizationPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description=(
            "A new end user whose address is in one of the domains joins the organization. "
            "Codes: NOT_FOUND, REQUIRED, TOO_LONG, NAME_TAKEN, INVALID_DOMAIN, DOMAIN_TAKEN "
            "(a domain belongs to one organization), TOO_MANY."
        ),
    )
    async def update_organization(
        self, info: strawberry.Info, input: UpdateOrganizationInput
    ) -> OrganizationPayload:
        changes = plain(input, setup_changes.OrganizationChanges)
        organization = await setup_changes.update_organization(
            info.context.require_viewer(), changes
        )
        return OrganizationPayload(organization=organization)

    @mutation(
        OrganizationPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description="Kept on old tickets; new tickets and members cannot use it (INACTIVE).",
    )
    async def deactivate_organization(
        self, info: strawberry.Info, input: OrganizationIdInput
    ) -> OrganizationPayload:
        organization = await setup_changes.deactivate_organization(
            info.context.require_viewer(), input.id
        )
        return OrganizationPayload(organization=organization)

    @mutation(GroupPayload, extensions=[requires(RoleValue.ADMIN)])
    async def update_group(self, info: strawberry.Info, input: UpdateGroupInput) -> GroupPayload:
        group = await setup_changes.update_group(
            info.context.require_viewer(), input.id, input.name
        )
        return GroupPayload(group=group)

    @mutation(
        GroupPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description="Kept on old tickets; new tickets cannot use it (INACTIVE).",
    )
    async def deactivate_group(self, info: strawberry.Info, input: GroupIdInput) -> GroupPayload:
        group = await setup_changes.deactivate_group(info.context.require_viewer(), input.id)
        return GroupPayload(group=group)

    @mutation(
        CustomFieldPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description="Codes: NOT_FOUND, REQUIRED, TOO_LONG, INVALID_OPTIONS, INVALID.",
    )
    async def update_custom_field(
        self, info: strawberry.Info, input: UpdateCustomFieldInput
    ) -> CustomFieldPayload:
        changes = plain(input, setup_changes.CustomFieldChanges)
        field = await setup_changes.update_custom_field(info.context.require_viewer(), changes)
        return CustomFieldPayload(custom_field=field)

    @mutation(
        CustomFieldPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description=(
            "Its values stay on old tickets; forms no longer offer it and a value for it is "
            "FIELD_INACTIVE."
        ),
    )
    async def deactivate_custom_field(
        self, info: strawberry.Info, input: CustomFieldIdInput
    ) -> CustomFieldPayload:
        field = await setup_changes.deactivate_custom_field(info.context.require_viewer(), input.id)
        return CustomFieldPayload(custom_field=field)
