"""The one payload shape and error path of mutations (guichet.schema.payloads)."""

from __future__ import annotations

from types import SimpleNamespace

import strawberry
from graphql import get_named_type

from guichet.resolvers.errors import Refused, UserError
from guichet.resolvers.people import auth
from guichet.schema.payloads import mutation, payload
from guichet.schema.root import build_schema

NO = UserError("No.", "NOPE", ["input", "x"])


@payload
class ThingPayload:
    thing: str | None = None


@payload
class CountPayload:
    count: int

    @classmethod
    async def refused(cls, info: strawberry.Info, errors: list[UserError]) -> CountPayload:
        return cls(count=7, errors=errors)


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Mutation:
    @mutation(ThingPayload, description="Says yes or no.")
    async def thing(self, info: strawberry.Info, no: bool = False) -> ThingPayload:
        if no:
            raise Refused(NO)
        return ThingPayload(thing="yes")

    @mutation(ThingPayload)
    async def locked(self, info: strawberry.Info) -> ThingPayload:
        raise auth.RetryLater(42, NO)

    @mutation(CountPayload)
    async def count(self, info: strawberry.Info) -> CountPayload:
        raise Refused(NO)


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation)


async def _run(document: str) -> tuple[dict, SimpleNamespace]:
    context = SimpleNamespace(response_headers={})
    result = await SCHEMA.execute(document, context_value=context)
    assert result.errors is None, result.errors
    return result.data, context


def test_errors_come_last_and_descriptions_stay():
    printed = str(SCHEMA)
    assert "type ThingPayload {\n  thing: String\n  errors: [UserError!]!\n}" in printed
    assert "type CountPayload {\n  count: Int!\n  errors: [UserError!]!\n}" in printed
    assert '"""Says yes or no."""\n  thing(no: Boolean! = false): ThingPayload!' in printed


async def test_a_result_is_returned_and_a_refusal_becomes_errors():
    data, _ = await _run("mutation { thing { thing errors { code field } } }")
    assert data == {"thing": {"thing": "yes", "errors": []}}
    data, context = await _run("mutation { thing(no: true) { thing errors { code field } } }")
    assert data == {"thing": {"thing": None, "errors": [{"code": "NOPE", "field": ["input", "x"]}]}}
    assert context.response_headers == {}


async def test_a_refusal_with_a_retry_time_sets_retry_after():
    data, context = await _run("mutation { locked { errors { code } } }")
    assert data == {"locked": {"errors": [{"code": "NOPE"}]}}
    assert context.response_headers == {"Retry-After": "42"}


async def test_a_payload_with_required_fields_builds_its_own_refusal():
    data, _ = await _run("mutation { count { count errors { code } } }")
    assert data == {"count": {"count": 7, "errors": [{"code": "NOPE"}]}}


def test_every_mutation_of_the_api_answers_a_payload_with_errors_last():
    schema = build_schema()._schema
    assert len(schema.mutation_type.fields) >= 27
    for name, field in schema.mutation_type.fields.items():
        assert list(get_named_type(field.type).fields)[-1] == "errors", name
