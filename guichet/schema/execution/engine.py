"""Running a document planned: shared by the strawberry extension and the lean HTTP path.

`execute_planned` answers a validated document's operation with its plan, or returns None
(the caller runs the normal executor): not a query, variables that do not coerce (the
normal path reports them), something the planner declines, or a value the plan cannot
answer exactly. `run_planned` does the whole request without strawberry's `execute`: the
same parse (with the token limit), the same validation verdict (strawberry's rules and
Guichet's, cached per text), the same translation of database faults and masking of
unexpected errors as the schema's extensions.

`STATS` counts what happened ("planned", "declined", "fallback", "cached verdict", ...),
and `decline_reasons` why documents were not planned, so tests can assert what ran planned.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from functools import partial
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationType,
    get_variable_values,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from guichet.resolvers import sql
from guichet.schema.execution.answers import RawData, compiled_answer
from guichet.schema.execution.cache import DocumentCache, DocumentEntry, OperationFacts
from guichet.schema.execution.codegen import Fallback, generate
from guichet.schema.execution.planner import Decline, Planner
from guichet.schema.execution.runtime import Runtime
from guichet.schema.faults import translate_faults
from guichet.schema.protection import (
    MAX_NODES,
    OperationLimitsRule,
    guichet_rules,
    mask_unexpected,
    operation_cost,
    parsed_document,
    signs_in,
)

log = logging.getLogger("guichet.planner")

# Document caches by schema: a verdict or a plan holds for the schema it was made with.
_DOCUMENTS: weakref.WeakKeyDictionary[Any, DocumentCache] = weakref.WeakKeyDictionary()
STATS: Counter[str] = Counter()
decline_reasons: Counter[str] = Counter()


def documents(schema: Any) -> DocumentCache:
    """The document cache of a (strawberry) schema."""
    found = _DOCUMENTS.get(schema)
    if found is None:
        found = _DOCUMENTS[schema] = DocumentCache()
    return found


def planner_enabled(context: Any) -> bool:
    """The `planner` setting (GUICHET_PLANNER) of the request's context; on by default."""
    return bool(getattr(getattr(context, "settings", None), "planner", True))


def _extension_class(extension: Any) -> type:
    while hasattr(extension, "func"):  # functools.partial
        extension = extension.func
    return extension if isinstance(extension, type) else type(extension)


def _default_executor(executor: Any) -> bool:
    """strawberry's own graphql-core executor class (or none)."""
    return executor is None or (
        executor.__name__ == "StrawberryGraphQLCoreExecutionContext"
        and executor.__module__.startswith("strawberry.")
    )


def schema_allows_planning(schema: Any) -> bool:
    """No schema extension with a `resolve` hook (it would see every field), no operation
    directives (strawberry runs them as a resolve hook), no custom graphql-core executor,
    no incremental delivery."""
    allowed = getattr(schema, "_guichet_planning_allowed", None)
    if allowed is None:
        allowed = (
            not schema.directives
            and _default_executor(getattr(schema, "execution_context_class", None))
            and not schema.config.enable_experimental_incremental_execution
            and all(
                _extension_class(e).resolve is SchemaExtension.resolve for e in schema.extensions
            )
        )
        schema._guichet_planning_allowed = allowed
    return allowed


def _decline(reason: str) -> None:
    STATS["declined"] += 1
    decline_reasons[reason] += 1
    log.debug("not planned: %s", reason)


def plan_for(schema: Any, entry: DocumentEntry, operation, variables) -> Any:
    """The plan of the operation for these @skip/@include values, or the reason why not."""
    names = entry.directive_variables(operation)
    key = (
        operation.name.value if operation.name else None,
        *(variables.coerced.get(n) for n in names),
    )
    try:
        found = entry.plans.get(key)
    except TypeError:  # an unhashable directive value: not kept
        found, key = None, None
    if found is not None:
        return found
    try:
        found = generate(Planner(schema, operation, entry.fragments, variables).plan())
    except Decline as reason:
        found = str(reason)
    if key is not None and len(entry.plans) < 16:
        entry.plans[key] = found
    return found


def answers_in_sql(context: Any) -> bool:
    """The `sql_answers` setting (GUICHET_SQL_ANSWERS), on PostgreSQL only."""
    return bool(getattr(getattr(context, "settings", None), "sql_answers", False)) and (
        sql.dialect() == "postgres"
    )


async def execute_planned(
    schema: Any,
    entry: DocumentEntry,
    operation_name: str | None,
    variables: dict | None,
    context: Any,
    root_value: Any = None,
    *,
    raw: bool = False,
) -> ExecutionResult | None:
    """The operation's answer by its plan (None: run it normally). On PostgreSQL a plan
    that compiles to one statement is answered by it (answers.py): its `data` is then a
    `RawData` when `raw` (the JSON text as written), else parsed."""
    operation = entry.operation(operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    if not schema_allows_planning(schema) or not hasattr(context, "loader"):
        _decline("the schema or the context does not allow planning")
        return None
    coerced = get_variable_values(
        schema._schema, operation.variable_definitions or (), variables or {}
    )
    if isinstance(coerced, list):
        return None  # the normal path reports the variables' errors
    plan = plan_for(schema, entry, operation, coerced)
    if isinstance(plan, str):
        _decline(plan)
        return None
    if root_value is None and answers_in_sql(context):
        compiled = compiled_answer(schema, plan)
        found = await compiled.run(schema, context, coerced) if compiled is not None else None
        if found is not None:
            STATS["planned"] += 1
            STATS["answered in SQL"] += 1
            text, objects = found
            return ExecutionResult(RawData(text, objects) if raw else orjson.loads(text), None)
    try:
        result = await Runtime(schema, plan, context, root_value, coerced).run()
    except Fallback as reason:
        STATS["fallback"] += 1
        decline_reasons[f"at run time: {reason}"] += 1
        log.debug("planned run abandoned: %s", reason)
        return None
    STATS["planned"] += 1
    return result


# ---------------------------------------------------------------- the lean path's entry


def _validation_rules(settings: Any, variables: dict | None) -> tuple:
    return (*specified_rules, *guichet_rules(settings, variables))


def entry_for(schema: Any, text: str) -> DocumentEntry | None:
    """The cache entry of a text, parsed as strawberry would (token limit included); None
    when it does not parse or is too long to keep."""
    cache = documents(schema)
    entry = cache.get(text)
    if entry is None:
        try:
            document = parsed_document(text)
        except GraphQLError:
            return None
        entry = cache.remember(text, document)
    return entry


def validation_errors(schema: Any, entry: DocumentEntry, rules: tuple, variables) -> list:
    key = entry.rules_key(rules, variables)
    found = entry.verdicts.get(key) if key is not None else None
    if found is not None:
        STATS["cached verdict"] += 1
        return list(found)
    # strawberry's own validation: its rules added to these, suggestions removed if asked.
    errors = validate_document(schema._schema, entry.document, rules)
    if schema.config.disable_field_suggestions:
        for error in errors:
            schema.remove_field_suggestion(error)
    if key is not None:
        entry.verdicts[key] = list(errors)
    return errors


def operation_facts(
    schema: Any, text: str, operation_name: str | None, settings: Any = None
) -> OperationFacts | None:
    """Operation type, sign-in, static cost and the limits' verdict of a text's operation,
    cached with the document; None when it does not parse or names no single operation."""
    entry = entry_for(schema, text)
    operation = entry.operation(operation_name) if entry is not None else None
    if operation is None:
        return None
    max_nodes = getattr(settings, "max_query_cost", MAX_NODES)
    key = (operation_name, max_nodes)
    facts = entry.facts.get(key)
    if facts is None:
        limits = validate(
            schema._schema, entry.document, [partial(OperationLimitsRule, max_nodes=max_nodes)]
        )
        facts = entry.facts[key] = OperationFacts(
            operation.operation,
            signs_in(entry.document, operation),
            operation_cost(schema._schema, entry.document, operation),
            tuple(limits),
        )
    return facts


async def run_planned(
    schema: Any, text: str, operation_name: str | None, variables: dict | None, context: Any
) -> ExecutionResult | None:
    """The whole request, planned, or None: the caller runs `schema.execute` instead (for
    anything but a planned query: mutations, subscriptions, declined documents, texts
    that do not parse). Validation errors are answered here (data null)."""
    if not planner_enabled(context):
        return None
    entry = entry_for(schema, text)
    if entry is None:
        return None
    operation = entry.operation(operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    settings = getattr(context, "settings", None)
    errors = validation_errors(schema, entry, _validation_rules(settings, variables), variables)
    if errors:
        return ExecutionResult(None, errors)
    result = await execute_planned(schema, entry, operation_name, variables, context, raw=True)
    if result is not None and result.errors:
        # As the schema's extensions do, in their order: faults first, then masking.
        result.errors = mask_unexpected(translate_faults(result.errors))
    return result
