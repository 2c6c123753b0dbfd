"""Limits on what one operation may ask, and masking of unexpected errors."""

from __future__ import annotations

import time

from guichet.models.auth import LoginThrottle
from guichet.models.outbox import OutboxMessage
from guichet.resolvers.people import people
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
    gql, agent, monkeypatch, python_answers
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


# ---------------------------------------------------------------- one sign-in per request


def _login(alias: str, email: str) -> str:
    return f'{alias}: login(input: {{email: "{email}", password: "guess {alias}"}}) {{ token }}'


async def _refused_without_a_guess(gql, agent, document: str) -> None:
    result = await gql(document)
    assert "data" not in result
    assert error_codes(result) == ["TOO_MANY_LOGINS"]
    assert not await LoginThrottle.filter(email=agent.email).exists()


async def test_logins_batched_in_an_inline_fragment_are_refused(gql, agent):
    logins = f"{_login('a', agent.email)} {_login('b', agent.email)}"
    await _refused_without_a_guess(gql, agent, f"mutation {{ ... on Mutation {{ {logins} }} }}")
    await _refused_without_a_guess(gql, agent, f"mutation {{ ... {{ {logins} }} }}")


async def test_logins_spread_over_named_fragments_are_refused(gql, agent):
    document = f"""mutation {{ {_login("a", agent.email)} ...more }}
      fragment more on Mutation {{ ...evenMore }}
      fragment evenMore on Mutation {{ ... on Mutation {{ {_login("b", agent.email)} }} }}"""
    await _refused_without_a_guess(gql, agent, document)


async def test_one_login_spread_twice_is_one_sign_in(gql, agent):
    # Fields with one response key merge into one execution: a single password check.
    document = f"""mutation {{ ...signIn ...signIn ... on Mutation {{ ...signIn }} }}
      fragment signIn on Mutation {{ {_login("a", agent.email)} }}"""
    result = await gql(document)
    assert result == {"data": {"a": {"token": None}}}
    assert (await LoginThrottle.get(email=agent.email)).attempts == 1


async def test_password_resets_and_sign_ups_are_one_per_request_too(gql, agent):
    """Aliases would otherwise mail one address after another in a single request."""
    for door in (
        'requestPasswordReset(input: {email: "a@x.test"}) { accepted }',
        'requestSignUp(input: {name: "A", email: "a@x.test"}) { accepted }',
    ):
        result = await gql(f"mutation {{ a: {door} b: {door} }}")
        assert "data" not in result
        assert error_codes(result) == ["TOO_MANY_LOGINS"]
    mixed = await gql(f"mutation {{ {_login('a', agent.email)} {door} }}")
    assert error_codes(mixed) == ["TOO_MANY_LOGINS"]
    assert await OutboxMessage.all().count() == 0


async def test_fragments_that_spread_each_other_in_a_cycle_are_refused_not_followed(gql, agent):
    document = f"""mutation {{ ...a }}
      fragment a on Mutation {{ {_login("x", agent.email)} ...b }}
      fragment b on Mutation {{ {_login("y", agent.email)} ...a }}"""
    result = await gql(document)
    assert "data" not in result
    assert "TOO_MANY_LOGINS" in error_codes(result)


# ---------------------------------------------------------------- fragments measured once


def _diamond(levels: int, leaf: str) -> str:
    """Fragments spreading the next one twice: 2**levels leaves once expanded."""
    fragments = [f"fragment f{i} on Query {{ ...f{i + 1} ...f{i + 1} }}" for i in range(levels)]
    return "\n".join(["query { ...f0 }", *fragments, f"fragment f{levels} on Query {{ {leaf} }}"])


async def test_fragments_spread_twice_over_are_measured_in_linear_time(gql, agent):
    started = time.perf_counter()
    costly = await gql(_diamond(60, "me { id }"), as_=agent)
    cheap = await gql(_diamond(60, "__typename"), as_=agent)
    assert time.perf_counter() - started < 2
    assert error_codes(costly) == ["QUERY_TOO_COSTLY"]
    assert cheap == {"data": {"__typename": "Query"}}


async def test_aliases_are_counted_through_fragments(gql, agent):
    aliases = " ".join(f"a{i}: __typename" for i in range(protection.MAX_ALIASES // 2 + 1))
    document = f"{{ ...f ...f }} fragment f on Query {{ {aliases} }}"
    result = await gql(document, as_=agent)
    assert "data" not in result
    assert error_codes(result) == ["TOO_MANY_ALIASES"]
