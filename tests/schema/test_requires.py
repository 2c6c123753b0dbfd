"""@requires(role:): printed once per field, enforced by one mechanism."""

from __future__ import annotations

import pytest
import strawberry

from guichet.models.people import Role
from guichet.schema.requires import check_requires_nullable, requires
from guichet.schema.root import build_schema
from tests.conftest import error_codes


def test_the_schema_prints_the_directive_and_each_rule():
    sdl = build_schema().as_str()
    assert "directive @requires(role: Role!) on FIELD_DEFINITION" in sdl
    assert "groups: [Group!] @requires(role: LIGHT_AGENT)" in sdl
    assert (
        "members(first: Int = null, after: String = null): UserConnection @requires(role: AGENT)"
        in sdl
    )
    assert (
        "createOrganization(input: CreateOrganizationInput!): OrganizationPayload! @requires(role: ADMIN)"
        in sdl
    )


@strawberry.type
class Secret:
    value: str = strawberry.field(extensions=[requires(Role.AGENT)])


@strawberry.type
class SecretQuery:
    secret: Secret


def test_a_guarded_field_that_cannot_be_null_fails_the_schema_build():
    with pytest.raises(TypeError, match=r"Secret.value carries @requires but is non-null"):
        check_requires_nullable(strawberry.Schema(query=SecretQuery)._schema)


GROUPS = "{ me { name groups { name } } }"


async def test_a_reader_below_the_role_gets_null_and_forbidden_and_the_rest(gql, end_user):
    result = await gql(GROUPS, as_=end_user)
    assert result["data"]["me"] == {"name": end_user.row.name, "groups": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["me", "groups"]


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_readers_at_or_above_the_role_get_the_field(gql, everyone, role):
    result = await gql(GROUPS, as_=everyone[role])
    assert "errors" not in result
    assert isinstance(result["data"]["me"]["groups"], list)
