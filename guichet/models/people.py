"""People: users with a role, the organizations customers belong to, the groups agents work in."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    """Roles from least to most; compare with `rank`."""

    END_USER = "END_USER"
    LIGHT_AGENT = "LIGHT_AGENT"
    AGENT = "AGENT"
    ADMIN = "ADMIN"
    OWNER = "OWNER"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return _RANKS[self] >= _RANKS[other]


_RANKS = {role: rank for rank, role in enumerate(Role)}
AGENT_ROLES = frozenset(r for r in Role if r.at_least(Role.LIGHT_AGENT))


class User(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    # Stored lower-cased: one address, one person.
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=200, null=True)
    # E.164 (+33612345678), for SMS reminders.
    phone = fields.CharField(max_length=16, null=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.END_USER, db_index=True)
    # Where a request of theirs goes when they name no organization.
    default_organization = fields.ForeignKeyField(
        "models.Organization", related_name="default_for", null=True, on_delete=fields.SET_NULL
    )
    # Tokens issued before this instant no longer sign anyone in.
    password_changed_at = fields.DatetimeField(null=True)
    # False once deactivated: no sign-in, every session ended; their history stays.
    active = fields.BooleanField(default=True, db_index=True)
    last_sign_in_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class Organization(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    shared_tickets = fields.BooleanField(default=False)
    # Deactivated: kept on old tickets, gone from forms.
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"


class OrganizationDomain(Model):
    """An e-mail domain whose new end users join the organization."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="domains", on_delete=fields.CASCADE
    )
    # Lower-cased, without '@'; one organization per domain.
    domain = fields.CharField(max_length=253, unique=True)

    class Meta:
        table = "organization_domain"


class Group(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "group"


class OrganizationMember(Model):
    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="memberships", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="organization_memberships", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization_member"
        unique_together = (("organization", "user"),)


class GroupMember(Model):
    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "models.Group", related_name="memberships", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="group_memberships", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "group_member"
        unique_together = (("group", "user"),)


class OrganizationSubscription(Model):
    """A user following every request of an organization (mail and notifications)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="subscriptions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="organization_subscriptions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization_subscription"
        unique_together = (("organization", "user"),)
