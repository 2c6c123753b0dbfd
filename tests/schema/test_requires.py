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
    assert "tags: [String!] @requires(role: LIGHT_AGENT)" in sdl
    assert (
        "members(first: Int = null, after: String = null): UserConnection @requires(role: AGENT)"
        in sdl
    )
    assert (
        "createOrganization(input: CreateOrganizationInput!): OrganizationPayload @requires(role: ADMIN)"
        in sdl
    )


@strawberry.type
class Secret:
    value: str = strawberry.field(extensions=[requires(Role.AGENT)])


@strawberry.type
class SecretQuery:
    secret: Secret


@strawberry.type
class GuardedRootQuery:
    secret: str = strawberry.field(extensions=[requires(Role.AGENT)])


def test_a_guarded_field_that_cannot_be_null_fails_the_schema_build():
    with pytest.raises(TypeError, match=r"Secret.value carries @requires but is non-null"):
        check_requires_nullable(strawberry.Schema(query=SecretQuery)._schema)


def test_a_guarded_root_field_that_cannot_be_null_fails_the_schema_build_too():
    # A non-null root field that fails nulls the whole response, siblings included.
    with pytest.raises(TypeError, match=r"Query.secret carries @requires but is non-null"):
        check_requires_nullable(strawberry.Schema(query=GuardedRootQuery)._schema)


GROUPS = "{ me { name groups { name } } }"


async def test_a_guarded_nullable_field_answers_null_and_forbidden_and_the_rest(
    gql, end_user, agent
):
    await gql(
        'mutation($r: ID!) { createTicket(input: {subject: "S", description: "D", requesterId: $r})'
        " { errors { code } } }",
        {"r": end_user.id},
        as_=agent,
    )
    result = await gql("{ tickets { edges { node { subject tags } } } }", as_=end_user)
    assert result["data"]["tickets"]["edges"] == [{"node": {"subject": "S", "tags": None}}]
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["tickets", "edges", 0, "node", "tags"]


async def test_a_guarded_list_answers_null_and_forbidden_and_the_rest(gql, end_user):
    result = await gql(GROUPS, as_=end_user)
    assert result["data"]["me"] == {"name": end_user.row.name, "groups": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["me", "groups"]


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_readers_at_or_above_the_role_get_the_field(gql, everyone, role):
    result = await gql(GROUPS, as_=everyone[role])
    assert "errors" not in result
    assert isinstance(result["data"]["me"]["groups"], list)


@strawberry.type
class Plain:
    hello: str = "hi"


@strawberry.type
class GuardedMutation:
    @strawberry.mutation(extensions=[requires(Role.AGENT)])
    def close_everything(self) -> str:
        return "closed"


def test_a_guarded_root_mutation_may_be_non_null():
    # The contract declares mutation payloads non-null; a refused one runs nothing.
    check_requires_nullable(strawberry.Schema(query=Plain, mutation=GuardedMutation)._schema)


RENAME_AND_CREATE = """mutation { updateProfile(input: {name: "Renamed"}) { errors { code } }
  ...Create }
fragment Create on Mutation { org: createOrganization(input: {name: "Not made"}) { errors { code } } }"""


async def test_a_mutation_document_with_one_above_the_viewer_runs_nothing(gql, end_user):
    result = await gql(RENAME_AND_CREATE, as_=end_user)
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["org"]
    me = await gql("{ me { name } }", as_=end_user)
    assert me["data"]["me"]["name"] == end_user.row.name


async def test_a_mutation_document_signed_out_is_refused_whole_too(gql):
    result = await gql(RENAME_AND_CREATE)
    assert result["data"] is None
    assert set(error_codes(result)) == {"UNAUTHENTICATED"}


async def test_mutations_within_the_viewers_role_all_run(gql, admin):
    result = await gql(RENAME_AND_CREATE, as_=admin)
    assert "errors" not in result
    assert result["data"]["org"] == {"errors": []}
