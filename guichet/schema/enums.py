"""Enums the API shares across domains."""

from __future__ import annotations

from enum import Enum

import strawberry

from guichet.models.people import Role as RoleValue

Role = strawberry.enum(RoleValue, name="Role", description="Roles, from least to most.")


@strawberry.enum(
    description="Roles an API user may give a new user (the owner is made by the CLI)."
)
class UserRoleInput(Enum):
    END_USER = "END_USER"
    LIGHT_AGENT = "LIGHT_AGENT"
    AGENT = "AGENT"
    ADMIN = "ADMIN"

    @property
    def role(self) -> RoleValue:
        return RoleValue(self.value)
