"""Bounded inputs: how many items a list argument or list input field may hold.

Every list of the schema has a maximum: DEFAULT_MAX_ITEMS, or its entry in MAX_ITEMS
(by schema coordinate: `Type.field(argument:)` or `InputType.field`). `InputLimitsRule`
checks the literals of the document and the variables at the positions they are used,
during validation, so an oversized list is refused before anything runs: a top-level
BAD_USER_INPUT error naming the coordinate and its maximum. Lists under DISTINCT_ITEMS
may not name an item twice; values of JSON scalars nest at most MAX_NESTING levels.

Some mutation inputs have a maximum that the mutation's own rule answers in its payload
(TOO_MANY and the like, so a form can show it by the field): RULE_MAX_ITEMS, for the
record and the descriptions. Before execution, such a list is refused only beyond twice
that maximum (and never below DEFAULT_MAX_ITEMS).

`describe` prints each maximum into the argument's or input field's description.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    ListValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    ValidationRule,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from guichet.resolvers.approvals import approvals
from guichet.resolvers.tickets import custom_fields, tickets
from guichet.resolvers.work import time_billing

DEFAULT_MAX_ITEMS = 100
MAX_NESTING = 10

MAX_ITEMS: dict[str, int] = {
    "Query.ticketStats(groupBy:)": 3,
    "Query.timeStats(groupBy:)": 3,
    "Query.responseTimes(groupBy:)": 3,
    "Query.satisfactionBreakdown(groupBy:)": 2,
    "Query.tickets(sort:)": 3,
    "TicketFilter.tags": 20,
}
DISTINCT_ITEMS = frozenset(
    {
        "Query.ticketStats(groupBy:)",
        "Query.timeStats(groupBy:)",
        "Query.responseTimes(groupBy:)",
        "Query.satisfactionBreakdown(groupBy:)",
    }
)
# coordinate -> (maximum, the payload error code of the rule that checks it)
RULE_MAX_ITEMS: dict[str, tuple[int, str]] = {
    "CreateTicketInput.tags": (tickets.MAX_TAGS, "TOO_MANY"),
    "UpdateTicketInput.tags": (tickets.MAX_TAGS, "TOO_MANY"),
    "CreateTicketInput.ccEmails": (tickets.MAX_CCS, "TOO_MANY"),
    "UpdateTicketInput.addCcEmails": (tickets.MAX_CCS, "TOO_MANY"),
    "RequestApprovalInput.approverIds": (approvals.MAX_APPROVERS, "TOO_MANY_APPROVERS"),
    "MarkBilledInput.entryIds": (time_billing.MAX_ENTRIES_BILLED, "TOO_MANY"),
    "CreateCustomFieldInput.options": (custom_fields.MAX_OPTIONS, "INVALID_OPTIONS"),
}


def max_items(coordinate: str | None) -> int:
    """The most items a list at this coordinate may hold before execution."""
    if coordinate in RULE_MAX_ITEMS:
        return max(DEFAULT_MAX_ITEMS, 2 * RULE_MAX_ITEMS[coordinate][0])
    return MAX_ITEMS.get(coordinate, DEFAULT_MAX_ITEMS)  # type: ignore[arg-type]


def _too_many(coordinate: str | None, count: int, node: Any) -> GraphQLError:
    where = coordinate or "a list"
    maximum = max_items(coordinate)
    return GraphQLError(
        f"{where} holds {count} items; at most {maximum} are allowed.",
        node,
        extensions={"code": "BAD_USER_INPUT", "argument": coordinate, "maximum": maximum},
    )


def _repeated(coordinate: str, item: Any, node: Any) -> GraphQLError:
    return GraphQLError(
        f"{coordinate} names {item} more than once.",
        node,
        extensions={"code": "BAD_USER_INPUT", "argument": coordinate},
    )


def _too_deep(coordinate: str | None, node: Any) -> GraphQLError:
    return GraphQLError(
        f"{coordinate or 'A value'} nests more than {MAX_NESTING} levels deep.",
        node,
        extensions={"code": "BAD_USER_INPUT", "argument": coordinate, "maximum": MAX_NESTING},
    )


def _repeat(items: list[Any]) -> Any:
    seen: set[Any] = set()
    for item in items:
        key = repr(item)
        if key in seen:
            return item
        seen.add(key)
    return None


class _ValueCheck:
    """Checks one variable's value against the type expected where it is used."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def value(self, value: Any, type_: Any, coordinate: str | None, depth: int = 0) -> None:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list):
                self.value(value, type_.of_type, coordinate, depth)  # one item as a list
                return
            self.items(value, coordinate)
            for item in value:
                self.value(item, type_.of_type, coordinate, depth + 1)
        elif isinstance(type_, GraphQLInputObjectType):
            if isinstance(value, dict):
                for name, field in type_.fields.items():
                    if name in value:
                        self.value(value[name], field.type, f"{type_.name}.{name}", depth + 1)
        elif isinstance(value, (list, dict)):  # a JSON scalar's value
            self.json(value, coordinate, depth)

    def items(self, value: list[Any], coordinate: str | None) -> None:
        if len(value) > max_items(coordinate):
            raise _too_many(coordinate, len(value), self.node)
        if coordinate in DISTINCT_ITEMS and (item := _repeat(value)) is not None:
            raise _repeated(coordinate, item, self.node)

    def json(self, value: Any, coordinate: str | None, depth: int) -> None:
        if depth > MAX_NESTING:
            raise _too_deep(coordinate, self.node)
        if isinstance(value, list):
            self.items(value, coordinate)
            for item in value:
                self.json(item, coordinate, depth + 1)
        elif isinstance(value, dict):
            if len(value) > DEFAULT_MAX_ITEMS:
                raise _too_many(coordinate, len(value), self.node)
            for item in value.values():
                self.json(item, coordinate, depth + 1)


class InputLimitsRule(ValidationRule):
    """Lists within their maxima, literals and variables alike (variables are checked
    where they are used, against the type expected there). Built once per request with
    the request's variables (`functools.partial(InputLimitsRule, variables=...)`)."""

    def __init__(self, context: Any, variables: dict[str, Any] | None = None) -> None:
        super().__init__(context)
        self.variables = variables or {}
        self.fields: list[str] = []
        self.coordinates: list[str | None] = []
        self.nesting = 0
        self.defaults: dict[str, Any] = {}
        self.reported: set[str] = set()

    @property
    def coordinate(self) -> str | None:
        return self.coordinates[-1] if self.coordinates else None

    def enter_variable_definition(self, node: VariableDefinitionNode, *_args) -> None:
        if node.default_value is not None:
            self.defaults[node.variable.name.value] = node.default_value

    def enter_field(self, node, *_args) -> None:
        self.fields.append(node.name.value)

    def leave_field(self, *_args) -> None:
        self.fields.pop()

    def enter_argument(self, node: ArgumentNode, *_args) -> None:
        directive = self.context.get_directive()
        parent = self.context.get_parent_type()
        if directive is not None:
            owner = f"@{directive.name}"
        elif parent is not None and self.fields:
            owner = f"{parent.name}.{self.fields[-1]}"
        else:
            owner = "?"
        self.coordinates.append(f"{owner}({node.name.value}:)")

    def leave_argument(self, *_args) -> None:
        self.coordinates.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_args) -> None:
        parent = get_named_type(self.context.get_parent_input_type())
        if isinstance(parent, GraphQLInputObjectType):
            self.coordinates.append(f"{parent.name}.{node.name.value}")
        else:  # inside a JSON value
            self.coordinates.append(self.coordinate)

    def leave_object_field(self, *_args) -> None:
        self.coordinates.pop()

    def enter_object_value(self, node: ObjectValueNode, *_args) -> None:
        self._nest(node)
        if len(node.fields) > DEFAULT_MAX_ITEMS:
            self.report_error(_too_many(self.coordinate, len(node.fields), node))

    def leave_object_value(self, *_args) -> None:
        self.nesting -= 1

    def enter_list_value(self, node: ListValueNode, *_args) -> None:
        self._nest(node)
        coordinate = self.coordinate
        if len(node.values) > max_items(coordinate):
            self.report_error(_too_many(coordinate, len(node.values), node))
        elif coordinate in DISTINCT_ITEMS:
            item = _repeat([self._item(v) for v in node.values])
            if item is not None:
                self.report_error(_repeated(coordinate, item, node))

    def _item(self, node: Any) -> Any:
        """A list item's value; a variable's, or its default (an unknown one is unique)."""
        if not isinstance(node, VariableNode):
            return value_from_ast_untyped(node, self.variables)
        name = node.name.value
        if name in self.variables:
            return self.variables[name]
        if name in self.defaults:
            return value_from_ast_untyped(self.defaults[name])
        return object()

    def leave_list_value(self, *_args) -> None:
        self.nesting -= 1

    def _nest(self, node: Any) -> None:
        self.nesting += 1
        if self.nesting == MAX_NESTING + 1:
            self.report_error(_too_deep(self.coordinate, node))

    def enter_variable(self, node: VariableNode, _key, parent, *_args) -> None:
        name = node.name.value
        if isinstance(parent, VariableDefinitionNode) or name in self.reported:
            return
        expected = self.context.get_input_type()
        if name in self.variables:
            value = self.variables[name]
        elif name in self.defaults:
            value = value_from_ast_untyped(self.defaults[name])
        else:
            return
        if expected is None or value is None:
            return
        try:
            _ValueCheck(node).value(value, expected, self.coordinate)
        except GraphQLError as error:
            self.reported.add(name)
            self.report_error(error)


def _maximum_text(coordinate: str) -> str:
    if coordinate in RULE_MAX_ITEMS:
        maximum, code = RULE_MAX_ITEMS[coordinate]
        return f"At most {maximum:,} items (more: {code} in the payload)."
    distinct = ", each at most once" if coordinate in DISTINCT_ITEMS else ""
    return f"At most {max_items(coordinate):,} items{distinct}."


def _is_list(type_: Any) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList)


def list_coordinates(schema: GraphQLSchema) -> dict[str, Any]:
    """Every list argument and list input field of the schema, by coordinate."""
    found: dict[str, Any] = {}
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType):
            for name, field in type_.fields.items():
                for argument_name, argument in field.args.items():
                    if _is_list(argument.type):
                        found[f"{type_.name}.{name}({argument_name}:)"] = argument
        elif isinstance(type_, GraphQLInputObjectType):
            for name, field in type_.fields.items():
                if _is_list(field.type):
                    found[f"{type_.name}.{name}"] = field
    return found


def describe(schema: GraphQLSchema) -> None:
    """Print each list's maximum into its description (introspection and SDL)."""
    for coordinate, element in list_coordinates(schema).items():
        text = _maximum_text(coordinate)
        if text not in (element.description or ""):
            element.description = f"{element.description} {text}" if element.description else text
