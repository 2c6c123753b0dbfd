"""What the planner does not understand runs through the normal executor (fail closed)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import FieldExtension, SchemaExtension

from guichet.schema.execution import STATS, PlannedExecution, decline_reasons


class Shout(FieldExtension):
    def resolve(self, next_, source, info, **kwargs):
        return next_(source, info, **kwargs).upper()


@strawberry.type
class Query:
    plain: str = "plain"
    shouted: str = strawberry.field(default="quiet", extensions=[Shout()])

    @strawberry.field
    def greeting(self, name: str = "you") -> str:
        return f"hello {name}"


class Context:
    settings = None

    def loader(self, batch):  # pragma: no cover - no relation here
        raise AssertionError


def _schema(*extensions) -> strawberry.Schema:
    return strawberry.Schema(Query, extensions=[PlannedExecution, *extensions])


async def test_a_field_with_an_unknown_extension_declines_the_document():
    before = STATS["planned"]
    result = await _schema().execute(
        "{ plain shouted }", context_value=Context(), root_value=Query()
    )
    assert result.data == {"plain": "plain", "shouted": "QUIET"}
    assert STATS["planned"] == before
    assert any("Shout" in reason for reason in decline_reasons)


async def test_plain_fields_and_resolvers_run_planned():
    before = STATS["planned"]
    result = await _schema().execute(
        '{ plain greeting(name: "Ann") again: greeting }',
        context_value=Context(),
        root_value=Query(),
    )
    assert result.data == {"plain": "plain", "greeting": "hello Ann", "again": "hello you"}
    assert STATS["planned"] == before + 1


async def test_a_schema_extension_that_sees_every_field_turns_planning_off():
    class Tracing(SchemaExtension):
        def resolve(self, _next, root, info, *args, **kwargs):
            return _next(root, info, *args, **kwargs)

    before = STATS["planned"]
    result = await _schema(Tracing).execute(
        "{ plain }", context_value=Context(), root_value=Query()
    )
    assert result.data == {"plain": "plain"}
    assert STATS["planned"] == before


async def test_introspection_runs_normally():
    before = STATS["planned"]
    result = await _schema().execute(
        "{ __typename plain __schema { queryType { name } } }", root_value=Query()
    )
    assert result.data["__schema"]["queryType"]["name"] == "Query"
    assert STATS["planned"] == before


async def test_a_verdict_belongs_to_the_schema_that_gave_it(app, agent):
    from tests.schema.execution.helpers import context

    # Valid on the small schema, invalid on Guichet's: the second must still refuse it.
    small = await _schema().execute("{ plain }", context_value=Context(), root_value=Query())
    assert not small.errors
    guichet = await app.state.schema.execute(
        "{ plain }", context_value=context(app, agent.viewer, planner=True)
    )
    assert guichet.data is None
    assert "Cannot query field 'plain'" in guichet.errors[0].message
