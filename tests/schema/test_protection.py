"""Limits on what one operation may ask, and masking of unexpected errors."""

from __future__ import annotations

from guichet.resolvers import people
from guichet.schema import protection
from guichet.schema.relay import MAX_PAGE_SIZE
from tests.conftest import error_codes


async def test_too_deep_a_query_is_refused_before_running(gql, agent):
    level = "organizations { members { edges { node { %s } } } }"
    nested = "name"
    for _ in range(4):
        nested = level % nested
    nested = "{ me { " + nested + " } }"
    result = await gql(nested, as_=agent)
    assert "data" not in result
    assert "exceeds maximum operation depth" in result["errors"][0]["message"]


async def test_too_many_aliases_are_refused(gql, agent):
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(protection.MAX_ALIASES + 1))
    result = await gql(f"{{ {aliases} }}", as_=agent)
    assert "data" not in result
    assert "aliases" in result["errors"][0]["message"]


async def test_too_many_tokens_are_refused(gql, agent):
    fields = " ".join("id" for _ in range(protection.MAX_TOKENS))
    result = await gql(f"{{ me {{ {fields} }} }}", as_=agent)
    assert "data" not in result
    assert "token" in result["errors"][0]["message"].lower()


async def test_an_operation_that_could_return_too_many_objects_is_refused(gql, agent):
    costly = """{ me { organizations { members(first: 100) { edges { node {
        organizations { members(first: 100) { edges { node { name } } } } } } } } } }"""
    result = await gql(costly, as_=agent)
    assert "data" not in result
    assert error_codes(result) == ["QUERY_TOO_COSTLY"]


async def test_the_cost_counts_fragments_too(gql, agent):
    costly = """{ me { ...orgs } }
      fragment orgs on User { organizations { members(first: 100) { edges { node { ...inner } } } } }
      fragment inner on User { organizations { members(first: 100) { edges { node { name } } } } }"""
    assert error_codes(await gql(costly, as_=agent)) == ["QUERY_TOO_COSTLY"]


async def test_a_dashboard_sized_query_is_within_the_cost_limit(gql, agent):
    result = await gql(
        "{ me { organizations { members(first: 50) { edges { node { name } } } } } }", as_=agent
    )
    assert "errors" not in result


async def test_a_page_larger_than_the_cap_is_refused(gql, agent, org):
    query = "query($id: ID!, $n: Int) { node(id: $id) { ... on Organization { members(first: $n) { totalCount } } } }"
    result = await gql(query, {"id": org.id, "n": MAX_PAGE_SIZE + 1}, as_=agent)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    ok = await gql(query, {"id": org.id, "n": MAX_PAGE_SIZE}, as_=agent)
    assert ok["data"]["node"]["members"]["totalCount"] == 0


async def test_a_bad_cursor_is_a_clear_error(gql, agent, org):
    query = 'query($id: ID!) { node(id: $id) { ... on Organization { members(after: "nonsense") { totalCount } } } }'
    result = await gql(query, {"id": org.id}, as_=agent)
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_field_suggestions_are_not_given(gql, agent):
    result = await gql("{ mee { id } }", as_=agent)
    assert result["errors"][0]["message"] == "Cannot query field 'mee' on type 'Query'."


async def test_unexpected_errors_are_masked_but_validation_messages_are_not(
    gql, agent, monkeypatch
):
    async def broken(context, keys):
        raise RuntimeError('relation "user" does not exist; asyncpg.exceptions.UndefinedTableError')

    monkeypatch.setattr(people, "users_by_id", broken)
    response = await gql.post("{ me { id } }", as_=agent)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": None}
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for leak in ("relation", "asyncpg", "Traceback", "RuntimeError"):
        assert leak not in response.text
    invalid = await gql("{ me { nope } }", as_=agent)
    assert invalid["errors"][0]["message"] == "Cannot query field 'nope' on type 'User'."
