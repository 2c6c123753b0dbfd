"""The planned executor (issue 12): documents planned once, results shaped by generated code.

A query document the planner understands is parsed, validated and planned once per text
(cache.py, a bounded LRU), and each request runs its plan (runtime.py): straight-line
generated code (codegen.py) shapes the result, relations load once per batch function per
level. Everything else runs through strawberry and graphql-core unchanged: same `data`,
same `errors`. `GUICHET_PLANNER=off` turns it off.

On PostgreSQL, a plan whose fields all say what they are in SQL (`resolvers/sql/sources.py`)
is answered by one statement that writes the JSON (answers.py, answer_leaves.py): the
ticket list with people and comment pages, `ticket(number:)`, `me`. `GUICHET_SQL_ANSWERS=off`
shapes every answer in Python.

Runs planned:
- queries (not mutations, not subscriptions);
- fields merged by response key, aliases, fragments and inline fragments (on object types,
  interfaces and unions), @skip/@include (constant or variables: one plan per values met);
- attribute fields (strawberry's default resolver), `__typename`;
- relation fields made by `schema.fields.related` (one `load_many` per batch function per
  level, through the request's loaders);
- fields with a resolver (root fields, connections, `User.email`...), called through
  graphql-core's `GraphQLField.resolve` with a GraphQLResolveInfo and their coerced
  arguments; the calls of one level run concurrently;
- @requires (the `Requires` extension, viewer-only): decided once per field per request,
  null + the same FORBIDDEN/UNAUTHENTICATED error at each position;
- leaves: Int/Float/String/Boolean/ID by class test, strawberry enums by member, DateTime by
  `isoformat`, everything else (JSON, wrong values) by the type's `coerce_output_value`;
  lists, non-null propagation, errors with graphql-core's messages, paths and locations;
- interfaces and unions (e.g. `node(id:)`), through the type's own `resolve_type`.

Falls back to the normal executor (the document, or the request):
- mutations, subscriptions, introspection fields (`__schema`, `__type`);
- any field extension other than `Requires`, a custom default resolver, a field that is not
  strawberry's; directives other than @skip/@include (including on the operation);
- a schema extension with a `resolve` hook, operation directives, a custom graphql-core
  executor class, incremental delivery (@defer/@stream);
- variables that do not coerce (the normal path reports them);
- texts over 16 KiB (not kept), documents naming no single operation;
- at run time: an object its type's `is_type_of` refuses, an abstract type resolved to a
  type the plan does not know, an async iterable where a list is expected (the whole
  request then runs normally: its resolvers run a second time, harmless for queries).

Known differences, none visible in an answer: a resolver's `info.path` carries no type
names (graphql-core's `Path.typename`). graphql-core records errors as its awaitables
finish, so its own order of errors at different positions depends on timing; the plan's
order is that of the positions, level by level. The suite's differential mode compares
errors as a set (GUICHET_TEST_DIFFERENTIAL=ordered compares their order too).

`engine.STATS` counts planned runs, declines and fallbacks (`engine.decline_reasons` says
why), and `plan.source` is the generated code of a plan (see `print_plan`). Documents are
cached per schema (`documents(schema)`): a verdict or a plan holds for its schema only.
"""

from guichet.schema.execution.answers import RawData
from guichet.schema.execution.engine import (
    STATS,
    decline_reasons,
    documents,
    execute_planned,
    operation_facts,
    run_planned,
)
from guichet.schema.execution.extension import PlannedExecution


def print_plan(schema, text: str, operation_name: str | None = None) -> str:
    """The generated source of the plans kept for a document text (for debugging)."""
    entry = documents(schema).get(text)
    if entry is None:
        return "(document not planned yet)"
    return "\n".join(
        plan if isinstance(plan, str) else plan.source
        for key, plan in entry.plans.items()
        if operation_name is None or key[0] == operation_name
    )


__all__ = [
    "STATS",
    "PlannedExecution",
    "RawData",
    "decline_reasons",
    "documents",
    "execute_planned",
    "operation_facts",
    "print_plan",
    "run_planned",
]
