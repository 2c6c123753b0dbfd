"""Limits every operation passes before it runs, and masking of unexpected errors.

- depth at most MAX_DEPTH, aliases at most MAX_ALIASES, tokens at most MAX_TOKENS;
- static cost: the number of objects an operation may return, estimated from the
  page sizes it asks for, at most the `max_query_cost` setting (see `Measure`; the same
  estimate is what an operation takes from its viewer's cost budget, see
  server/rate_limits.py);
- one signed-out door (`DOORS`: login, password reset, sign-up) per operation, counted
  through fragments and aliases, so a request cannot batch password guesses or mails;
- input lists and JSON values within their limits (see `guichet.schema.limits`);
- errors raised by resolvers that are not deliberate refusals become
  "Unexpected error." with code INTERNAL_SERVER_ERROR; validation errors are kept.

Depth, aliases and cost are measured in one pass in which each fragment is measured
once: a document whose fragments spread each other twice over (`fragment f0 { ...f1
...f1 }`, `f1 { ...f2 ...f2 }`, ...) would otherwise take time exponential in its size,
which is what strawberry's own depth and alias limiters do.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache, partial

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    parse,
)
from strawberry.extensions import MaskErrors, MaxTokensLimiter, SchemaExtension

from guichet.schema.limits import InputLimitsRule
from guichet.schema.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from guichet.server.settings import DEFAULT_MAX_QUERY_COST

log = logging.getLogger("guichet.errors")

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
# The default of the `max_query_cost` setting (GUICHET_MAX_QUERY_COST), which rules.
MAX_NODES = DEFAULT_MAX_QUERY_COST
# Lists that are not connections (a user's organizations) are counted as this long.
PLAIN_LIST_ESTIMATE = 10
# The root mutations anyone may run signed out that guess a password or send a mail: one
# per operation, and each counts towards the per-client sign-in limit (rate_limits.py).
DOORS = frozenset(
    {"login", "requestPasswordReset", "resetPassword", "requestSignUp", "completeSignUp"}
)


def _page_size(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value in ("first", "last"):
            if isinstance(argument.value, IntValueNode):
                return max(0, min(int(argument.value.value), MAX_PAGE_SIZE))
            return MAX_PAGE_SIZE  # a variable: assume the largest page
    return DEFAULT_PAGE_SIZE


def _is_list(type_) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


@dataclass(frozen=True, slots=True)
class Shape:
    """What a selection set asks for."""

    depth: int = 0  # nesting of fields that have a selection set (introspection excluded)
    aliases: int = 0
    nodes: int = 0  # the most objects it can return

    def __add__(self, other: Shape) -> Shape:
        return Shape(
            max(self.depth, other.depth), self.aliases + other.aliases, self.nodes + other.nodes
        )


NOTHING = Shape()


class Measure:
    """Shapes of an operation's selection sets, each fragment measured once.

    Cost: each object field counts 1, times the page size of a connection
    (`first`/`last`, else the default) or the estimate of a plain list, times
    everything selected below it."""

    def __init__(self, schema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.measured: dict[str, Shape] = {}
        self.measuring: set[str] = set()  # cycles are reported by NoFragmentCyclesRule

    def fragment(self, name: str) -> Shape:
        found = self.measured.get(name)
        if found is not None:
            return found
        fragment = self.fragments.get(name)
        if fragment is None or name in self.measuring:
            return NOTHING
        self.measuring.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        shape = self.selection_set(fragment.selection_set, target)
        self.measuring.discard(name)
        self.measured[name] = shape
        return shape

    def selection_set(self, selection_set: SelectionSetNode, parent) -> Shape:
        total = NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(selection.selection_set, target or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def field(self, node: FieldNode, parent) -> Shape:
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return Shape(aliases=aliases)
        name = node.name.value
        definition = (
            parent.fields.get(name)
            if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType))
            else None
        )
        named = get_named_type(definition.type) if definition is not None else None
        below = self.selection_set(node.selection_set, named)
        if name.startswith("__"):  # introspection: bounded by the schema itself
            return Shape(aliases=aliases + below.aliases)
        if definition is None:
            multiplier = 0
        elif named.name.endswith("Connection"):
            multiplier = _page_size(node)
        elif parent.name.endswith("Connection") and name == "edges":
            multiplier = 1  # the connection already counted its page
        elif _is_list(definition.type):
            multiplier = PLAIN_LIST_ESTIMATE
        else:
            multiplier = 1
        return Shape(1 + below.depth, aliases + below.aliases, multiplier * (1 + below.nodes))


def _fragments(document) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations(document) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


class OperationLimitsRule(ValidationRule):
    """Depth, aliases and cost of every operation of the document."""

    def __init__(self, context, max_nodes: int = MAX_NODES) -> None:
        super().__init__(context)
        self.max_nodes = max_nodes

    def enter_document(self, node, *_args) -> None:
        schema = self.context.schema
        measure = Measure(schema, _fragments(node))
        aliases = 0
        for operation in _operations(node):
            root = schema.get_root_type(operation.operation)
            if root is None:
                continue
            shape = measure.selection_set(operation.selection_set, root)
            aliases += shape.aliases
            name = operation.name.value if operation.name else "anonymous"
            if shape.depth > MAX_DEPTH:
                self.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}.",
                        operation,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )
            if shape.nodes > self.max_nodes:
                cost = f"{shape.nodes}" if shape.nodes < 10**12 else "more than 10^12"
                self.report_error(
                    GraphQLError(
                        f"This operation may return {cost} objects; the limit is "
                        f"{self.max_nodes}. Ask for smaller pages or fewer nested lists.",
                        operation,
                        extensions={"code": "QUERY_TOO_COSTLY"},
                    )
                )
        if aliases > MAX_ALIASES:
            self.report_error(
                GraphQLError(
                    f"{aliases} aliases found; at most {MAX_ALIASES} are allowed.",
                    extensions={"code": "TOO_MANY_ALIASES"},
                )
            )


def root_login_keys(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    expanded: set[str],
) -> set[str]:
    """The response keys (alias or name) of the `DOORS` fields of a root selection set,
    its inline fragments and fragment spreads expanded (each fragment once: it adds the
    same keys every time). Fields with one key merge into one execution, so the number
    of keys is the number of doors the operation would go through."""
    keys: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in DOORS:
                keys.add((selection.alias or selection.name).value)
        elif isinstance(selection, InlineFragmentNode):
            keys |= root_login_keys(selection.selection_set, fragments, expanded)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in expanded:
                expanded.add(name)
                keys |= root_login_keys(fragment.selection_set, fragments, expanded)
    return keys


class OneLoginPerOperationRule(ValidationRule):
    def enter_document(self, node, *_args) -> None:
        fragments = _fragments(node)
        for operation in _operations(node):
            if operation.operation is not OperationType.MUTATION:
                continue
            if len(root_login_keys(operation.selection_set, fragments, set())) > 1:
                self.report_error(
                    GraphQLError(
                        "Only one login, password reset or sign-up per request.",
                        operation,
                        extensions={"code": "TOO_MANY_LOGINS"},
                    )
                )


class GuichetRules(SchemaExtension):
    """Adds the rules above to validation; the input limits need the request's variables."""

    def on_operation(self):
        context = self.execution_context
        context.validation_rules = (
            *context.validation_rules,
            *guichet_rules(getattr(context.context, "settings", None), context.variables),
        )
        yield


def guichet_rules(settings, variables: dict | None) -> tuple:
    """Guichet's validation rules for one request (added to strawberry's own)."""
    return (
        # The maximum cost is a setting, read from the operation's context.
        partial(
            OperationLimitsRule,
            max_nodes=getattr(settings, "max_query_cost", MAX_NODES),
        ),
        OneLoginPerOperationRule,
        partial(InputLimitsRule, variables=variables),
    )


# ---------------------------------------------------------------- one operation, for the limits

# Parsed documents kept, and the longest text kept: longer ones are parsed every time, so
# the cache holds a few megabytes at most.
DOCUMENT_CACHE_SIZE = 256
MAX_CACHED_DOCUMENT_CHARS = 16 * 1024
# Costs above this are reported as this (the estimate of a hostile document can be huge).
COST_CEILING = 10**12


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _parse_kept(text: str) -> DocumentNode:
    return parse(text, max_tokens=MAX_TOKENS)


def parsed_document(text: str) -> DocumentNode:
    """The document of a text, parsed once while it stays in a small LRU. Raises GraphQLError
    (not kept) on a syntax error or more than MAX_TOKENS tokens, as strawberry's parse would."""
    if len(text) > MAX_CACHED_DOCUMENT_CHARS:
        return parse(text, max_tokens=MAX_TOKENS)
    return _parse_kept(text)


class CachedParse(SchemaExtension):
    """strawberry's parse step takes the document from `parsed_document`, so a request the
    HTTP layer already parsed (to cost it) is not parsed twice. A text that does not parse
    is left to strawberry, which reports the error as usual."""

    def on_parse(self):
        execution_context = self.execution_context
        if execution_context.graphql_document is None and execution_context.query:
            with suppress(GraphQLError):
                execution_context.graphql_document = parsed_document(execution_context.query)
        yield


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> int:
    """The static cost of one operation of a parsed document (at most COST_CEILING)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    nodes = Measure(schema, _fragments(document)).selection_set(operation.selection_set, root)
    return min(nodes.nodes, COST_CEILING)


def signs_in(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    """Whether the operation goes through a door (`DOORS`: login, reset, sign-up)."""
    if operation.operation is not OperationType.MUTATION:
        return False
    return bool(root_login_keys(operation.selection_set, _fragments(document), set()))


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error(
        "unexpected error at %s",
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return True


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def mask_unexpected(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as MaskUnexpectedErrors leaves them (for a path that runs without it)."""
    return MaskUnexpectedErrors()._process_errors(errors)


EXTENSIONS = [
    CachedParse,
    partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
    GuichetRules,
    MaskUnexpectedErrors,
]
