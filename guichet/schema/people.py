"""People: User, Organization, Group, and the queries and mutations about them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.models.people import Role as RoleValue
from guichet.resolvers import sql
from guichet.resolvers.errors import Refused
from guichet.resolvers.people import (
    accounts,
    auth,
    impersonation,
    organization_domains,
    organization_subscriptions,
    people,
    profile,
)
from guichet.schema.enums import Role, UserRoleInput
from guichet.schema.fields import as_loaded, batched, related
from guichet.schema.payloads import mutation, payload
from guichet.schema.relay import (
    Connection,
    Node,
    after_position,
    connection,
    page_size,
)
from guichet.schema.requires import requires


def _address(root: people.UserRow) -> tuple[int, str]:
    return (root.pk, root.email_address)


@strawberry.type(description="A person: a customer (end user) or a member of staff.")
class User(Node):
    name: str
    role: Role
    created_at: datetime
    active: bool = strawberry.field(
        description="False once deactivated: cannot sign in, every session ended, kept in history."
    )
    last_sign_in_at: datetime | None = strawberry.field(
        extensions=[requires(RoleValue.AGENT)], description="When they last signed in."
    )
    organizations: list[Organization] = related(
        people.organizations_by_user_id,
        key="pk",
        description="Organizations the user belongs to (a customer sees only their own).",
    )
    groups: list[Group] | None = related(
        people.groups_by_user_id, key="pk", requires=RoleValue.LIGHT_AGENT
    )

    email: str | None = batched(
        people.emails_for_viewer,
        key=_address,
        answer=as_loaded,
        description="Visible to the user themself and to agents.",
    )
    phone: str | None = related(
        profile.phones_by_user_id,
        key="pk",
        description="E.164, e.g. +41791234567; visible to the user themself and to agents.",
    )
    default_organization: Organization | None = related(
        profile.default_organizations_by_user_id,
        key="pk",
        description=(
            "The organization a new request of theirs goes to when they name none; visible "
            "to the user themself and to agents."
        ),
    )

    impersonations: list[Impersonation] | None = related(
        impersonation.impersonations_by_user_id,
        key="pk",
        description=(
            "Times an admin signed in as this user, newest first: for the user themself "
            "and for admins (null for anyone else)."
        ),
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, people.UserRow)


@strawberry.type(description="An admin signed in as a user for a while (see impersonate).")
class Impersonation:
    impersonator: User | None = related(people.users_by_id, key="impersonator_id")
    started_at: datetime
    expires_at: datetime | None
    reason: str | None = strawberry.field(description="Why; shown to admins only.")


@strawberry.type(description="A customer's company. Members may share their requests.")
class Organization(Node):
    name: str
    shared_tickets: bool = strawberry.field(description="Members may see each other's requests.")
    created_at: datetime
    active: bool = strawberry.field(
        description="False once deactivated: kept on old tickets, gone from forms."
    )
    domains: list[str] | None = related(
        organization_domains.domains_by_organization_id,
        key="pk",
        requires=RoleValue.AGENT,
        description="E-mail domains whose senders join this organization automatically.",
    )
    viewer_is_subscribed: bool = related(
        organization_subscriptions.subscribed_by_organization,
        key="pk",
        description="Whether the viewer follows every request of this organization (mail + notifications).",
    )

    @strawberry.field(extensions=[requires(RoleValue.AGENT)])
    async def members(
        self, root: people.OrganizationRow, first: int | None = None, after: str | None = None
    ) -> Connection[User] | None:
        limit = page_size(first)
        after_pk = after_position(after)
        rows, total = await people.organization_members(root.pk, after_pk, limit + 1)
        return connection(
            rows[:limit],
            total,
            key=lambda r: r.pk,
            has_next=len(rows) > limit,
            has_previous=after_pk > 0,
        )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, people.OrganizationRow)


@strawberry.type(description="A team of agents tickets can be assigned to.")
class Group(Node):
    name: str
    created_at: datetime
    active: bool = strawberry.field(
        description="False once deactivated: kept on old tickets, gone from forms."
    )
    agents: list[User] | None = related(
        people.agents_by_group_id, key="pk", requires=RoleValue.LIGHT_AGENT
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, people.GroupRow)


# ---------------------------------------------------------------- inputs and payloads


@strawberry.input
class CreateUserInput:
    name: str
    email: str
    password: str | None = None
    role: UserRoleInput
    organization_ids: list[strawberry.ID] | None = None
    group_ids: list[strawberry.ID] | None = None


@payload
class UserPayload:
    user: User | None = None


@strawberry.input
class CreateOrganizationInput:
    name: str
    shared_tickets: bool | None = None


@payload
class OrganizationPayload:
    organization: Organization | None = None


@strawberry.input
class CreateGroupInput:
    name: str
    agent_ids: list[strawberry.ID] | None = None


@payload
class GroupPayload:
    group: Group | None = None


@strawberry.input
class OrganizationMembershipInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class GroupMembershipInput:
    group_id: strawberry.ID
    user_id: strawberry.ID


# ---------------------------------------------------------------- root fields


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="The signed-in user.")
    @sql.answers_in_sql(sql.Found(people.USER, people.me_in_sql))
    async def me(self, info: strawberry.Info) -> User | None:
        viewer = info.context.require_viewer()
        return await info.context.loader(people.users_by_id).load(viewer.id)


@strawberry.type
class PeopleMutation:
    @mutation(
        UserPayload,
        extensions=[requires(RoleValue.AGENT)],
        description="Add a person. Agents may add end users only; admins any role but owner.",
    )
    async def create_user(
        self, info: strawberry.Info, input: CreateUserInput
    ) -> UserPayload | None:
        viewer = info.context.require_viewer()
        password_hash = None
        if input.password is not None:
            if problem := people.password_error(input.password, ["input", "password"]):
                raise Refused(problem)
            password_hash = await auth.hash_password(input.password)
        user = await accounts.create_user(
            viewer,
            name=input.name,
            email=input.email,
            role=input.role.role,
            password_hash=password_hash,
            organization_ids=input.organization_ids,
            group_ids=input.group_ids,
        )
        return UserPayload(user=user)

    @mutation(OrganizationPayload, extensions=[requires(RoleValue.ADMIN)])
    async def create_organization(
        self, info: strawberry.Info, input: CreateOrganizationInput
    ) -> OrganizationPayload | None:
        org = await accounts.create_organization(
            info.context.require_viewer(),
            name=input.name,
            shared_tickets=bool(input.shared_tickets),
        )
        return OrganizationPayload(organization=org)

    @mutation(GroupPayload, extensions=[requires(RoleValue.ADMIN)])
    async def create_group(
        self, info: strawberry.Info, input: CreateGroupInput
    ) -> GroupPayload | None:
        group = await accounts.create_group(
            info.context.require_viewer(), name=input.name, agent_ids=input.agent_ids
        )
        return GroupPayload(group=group)

    @mutation(
        OrganizationPayload,
        extensions=[requires(RoleValue.AGENT)],
        description="Put a user in an organization (nothing changes if already a member).",
    )
    async def add_organization_member(
        self, info: strawberry.Info, input: OrganizationMembershipInput
    ) -> OrganizationPayload | None:
        return await _organization_membership(info, input, member=True)

    @mutation(OrganizationPayload, extensions=[requires(RoleValue.AGENT)])
    async def remove_organization_member(
        self, info: strawberry.Info, input: OrganizationMembershipInput
    ) -> OrganizationPayload | None:
        return await _organization_membership(info, input, member=False)

    @mutation(
        GroupPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description="Put an agent in a group (nothing changes if already a member).",
    )
    async def add_group_member(
        self, info: strawberry.Info, input: GroupMembershipInput
    ) -> GroupPayload | None:
        return await _group_membership(info, input, member=True)

    @mutation(GroupPayload, extensions=[requires(RoleValue.ADMIN)])
    async def remove_group_member(
        self, info: strawberry.Info, input: GroupMembershipInput
    ) -> GroupPayload | None:
        return await _group_membership(info, input, member=False)


async def _organization_membership(
    info: strawberry.Info, input: OrganizationMembershipInput, *, member: bool
) -> OrganizationPayload:
    org = await accounts.set_organization_membership(
        info.context,
        organization_id=input.organization_id,
        user_id=input.user_id,
        member=member,
    )
    return OrganizationPayload(organization=org)


async def _group_membership(
    info: strawberry.Info, input: GroupMembershipInput, *, member: bool
) -> GroupPayload:
    group = await accounts.set_group_membership(
        info.context, group_id=input.group_id, user_id=input.user_id, member=member
    )
    return GroupPayload(group=group)
