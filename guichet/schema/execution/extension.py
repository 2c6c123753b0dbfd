"""The strawberry extension: documents the planner understands run planned.

List it FIRST among the schema's extensions:
- on_parse: a text seen before takes its document from the plan cache (CachedParse then
  has nothing to do); after parsing, the document is remembered with its text;
- on_validate: a verdict already reached for the same text and the same rules (strawberry's
  and Guichet's, see cache.py for when it may be reused) is set as the pre-execution
  errors, so strawberry does not validate again; a new verdict is remembered;
- on_execute: a planned query sets `execution_context.result`, and strawberry then skips
  graphql-core's execute (`if not execution_context.result`). The result then leaves
  through the other extensions' `on_operation` exits as any result does: TranslateFaults
  and MaskUnexpectedErrors see and process planned errors like normal ones.
The planner is off when the context's settings say `planner=False` (GUICHET_PLANNER=off).
"""

from __future__ import annotations

from strawberry.extensions import SchemaExtension

from guichet.schema.execution.engine import STATS, documents, execute_planned, planner_enabled


class PlannedExecution(SchemaExtension):
    def on_parse(self):
        context = self.execution_context
        enabled = planner_enabled(context.context) and bool(context.query)
        self.entry = None
        if enabled and context.graphql_document is None:
            self.entry = documents(context.schema).get(context.query)
            if self.entry is not None:
                context.graphql_document = self.entry.document
        yield
        if enabled and self.entry is None and context.graphql_document is not None:
            self.entry = documents(context.schema).remember(context.query, context.graphql_document)

    def on_validate(self):
        context = self.execution_context
        entry = getattr(self, "entry", None)
        key = None
        if entry is not None and context.pre_execution_errors is None:
            key = entry.rules_key(context.validation_rules, context.variables)
            found = entry.verdicts.get(key) if key is not None else None
            if found is not None:
                STATS["cached verdict"] += 1
                context.pre_execution_errors = list(found)
                key = None
        yield
        if key is not None and context.pre_execution_errors is not None:
            entry.verdicts[key] = list(context.pre_execution_errors)

    async def on_execute(self):
        context = self.execution_context
        entry = getattr(self, "entry", None)
        if (
            entry is not None
            and not context.result
            and entry.document is context.graphql_document
            and not context.pre_execution_errors
        ):
            result = await execute_planned(
                context.schema,
                entry,
                context.operation_name,
                context.variables,
                context.context,
                context.root_value,
            )
            if result is not None:
                context.result = result
        yield
