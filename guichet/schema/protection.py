"""Limits every operation passes before it runs, and masking of unexpected errors.

- depth at most MAX_DEPTH, aliases at most MAX_ALIASES, tokens at most MAX_TOKENS
  (strawberry's own extensions, given as factories: one instance per operation);
- static cost: the number of objects an operation may return, estimated from the
  page sizes it asks for, at most MAX_NODES (see `estimated_nodes`);
- one `login` per operation, so aliases cannot batch password guesses;
- errors raised by resolvers that are not deliberate refusals become
  "Unexpected error." with code INTERNAL_SERVER_ERROR; validation errors are kept.
"""

from __future__ import annotations

import logging
from functools import partial

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

from guichet.schema.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from guichet.schema.requires import ReportForbiddenFields

log = logging.getLogger("guichet.errors")

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
MAX_NODES = 10_000
# Lists that are not connections (a user's organizations) are counted as this long.
PLAIN_LIST_ESTIMATE = 10


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


def estimated_nodes(
    schema, selection_set: SelectionSetNode, parent, fragments, seen=frozenset()
) -> int:
    """The most objects this selection can return: each object field counts 1, times
    the page size of a connection (`first`/`last`, else the default) or the estimate
    of a plain list, times everything selected below it."""
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name.startswith("__") or not isinstance(
                parent, (GraphQLObjectType, GraphQLInterfaceType)
            ):
                continue
            definition = parent.fields.get(name)
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if (
                not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType))
                and not selection.selection_set
            ):
                continue
            if named.name.endswith("Connection"):
                multiplier = _page_size(selection)
            elif parent.name.endswith("Connection") and name == "edges":
                multiplier = 1  # the connection already counted its page
            elif _is_list(definition.type):
                multiplier = PLAIN_LIST_ESTIMATE
            else:
                multiplier = 1
            below = (
                estimated_nodes(schema, selection.selection_set, named, fragments, seen)
                if selection.selection_set
                else 0
            )
            total += multiplier * (1 + below)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = schema.get_type(condition.name.value) if condition else parent
            total += estimated_nodes(
                schema, selection.selection_set, target or parent, fragments, seen
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema.get_type(fragment.type_condition.name.value)
            total += estimated_nodes(
                schema, fragment.selection_set, target, fragments, seen | {name}
            )
    return total


class CostLimitRule(ValidationRule):
    def enter_document(self, node, *_args) -> None:
        schema = self.context.schema
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for definition in node.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            root = schema.get_root_type(definition.operation)
            if root is None:
                continue
            cost = estimated_nodes(schema, definition.selection_set, root, fragments)
            if cost > MAX_NODES:
                self.report_error(
                    GraphQLError(
                        f"This operation may return {cost} objects; the limit is {MAX_NODES}. "
                        "Ask for smaller pages or fewer nested lists.",
                        definition,
                        extensions={"code": "QUERY_TOO_COSTLY"},
                    )
                )


class OneLoginPerOperationRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        logins = [
            s
            for s in node.selection_set.selections
            if isinstance(s, FieldNode) and s.name.value == "login"
        ]
        if len(logins) > 1:
            self.report_error(
                GraphQLError(
                    "Only one login per request.", logins[1], extensions={"code": "TOO_MANY_LOGINS"}
                )
            )


class GuichetRules(AddValidationRules):
    def __init__(self) -> None:
        super().__init__([CostLimitRule, OneLoginPerOperationRule])


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


EXTENSIONS = [
    partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
    partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
    partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
    GuichetRules,
    ReportForbiddenFields,
    MaskUnexpectedErrors,
]
