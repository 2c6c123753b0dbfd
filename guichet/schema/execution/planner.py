"""The planner: one walk of an operation's selections against the schema.

Fields are merged by response key in document order (as graphql-core's field collection
does), fragments and inline fragments are applied to each possible runtime type, and
@skip/@include are decided with the request's variable values (the plan is cached per
the values of the variables those directives read). Each field gets a kind:

- `typename`: `__typename`;
- `attr`: strawberry's default resolver, `getattr(obj, python_name)`;
- `related`: a field made by `schema.fields.related`: its resolver carries `.batch` and
  `.key`; the runtime loads the keys of one level at once through `context.loader(batch)`;
- `resolve`: any other strawberry resolver, called through graphql-core's `GraphQLField.resolve`
  (strawberry's wrapper: arguments, Info, field extensions).

A field carrying @requires (the `Requires` extension, whose decision depends only on the
viewer) is decided once per field per request. Anything else raises `Decline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    get_directive_values,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)

from guichet.schema.fields import is_batched
from guichet.schema.requires import Requires

RELATED_RESOLVER = "related.<locals>.resolve"
RELATED_MODULE = "guichet.schema.fields"


class Decline(Exception):
    """The planner does not understand something in the document: run it normally."""


@dataclass(eq=False, slots=True)
class Shape:
    """How a value of one (wrapped) output type is completed at a position."""

    sid: int
    field: FieldPlan
    nonnull: bool
    kind: str  # "leaf" | "list" | "object" | "abstract"
    type: Any = None  # the named leaf, object or abstract type
    item: Shape | None = None
    object: ObjectPlan | None = None
    choices: dict[str, ObjectPlan] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class FieldPlan:
    fid: int
    key: str
    name: str
    nodes: tuple[FieldNode, ...]
    parent: GraphQLObjectType
    kind: str  # "typename" | "attr" | "related" | "keyed" | "resolve"
    fdef: GraphQLField | None = None
    definition: Any = None  # the StrawberryField
    attr: str | None = None  # attribute read (attr) or key attribute (related)
    batch: Any = None
    key_of: Any = None  # keyed: key(root, **arguments)
    answer: Any = None  # keyed: answer(loaded, root, **arguments)
    requires: Requires | None = None
    shape: Shape | None = None
    node_list: list[FieldNode] = field(default_factory=list)  # for GraphQLResolveInfo


@dataclass(eq=False, slots=True)
class ObjectPlan:
    oid: int
    type: GraphQLObjectType
    fields: list[FieldPlan]

    def by_key(self, key: str) -> FieldPlan | None:
        for f in self.fields:
            if f.key == key:
                return f
        return None


@dataclass(eq=False)
class Plan:
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root: ObjectPlan
    fields: list[FieldPlan]
    shapes: list[Shape]
    objects: list[ObjectPlan]
    source: str = ""
    make: Any = None  # set by codegen


def directive_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """Names of the variables @skip/@include read anywhere in the operation."""
    names: set[str] = set()
    seen: set[str] = set()

    def walk(selection_set: Any) -> None:
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments:
                        if isinstance(argument.value, VariableNode):
                            names.add(argument.value.name.value)
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    walk(fragments[name].selection_set)
            elif selection.selection_set is not None:
                walk(selection.selection_set)

    walk(operation.selection_set)
    return tuple(sorted(names))


class Planner:
    def __init__(self, schema: Any, operation, fragments, variable_values) -> None:
        self.strawberry = schema
        self.schema = schema._schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variable_values
        self.fields: list[FieldPlan] = []
        self.shapes: list[Shape] = []
        self.objects: list[ObjectPlan] = []

    def plan(self) -> Plan:
        if self.operation.operation is not OperationType.QUERY:
            raise Decline(f"{self.operation.operation.value}s run normally")
        if self.operation.directives:
            raise Decline("directives on the operation")
        root = self.object_plan(self.schema.query_type, [self.operation.selection_set])
        return Plan(self.operation, self.fragments, root, self.fields, self.shapes, self.objects)

    # ------------------------------------------------------------ collecting fields

    def included(self, node: Any) -> bool:
        for directive in node.directives or ():
            if directive.name.value not in ("skip", "include"):
                raise Decline(f"@{directive.name.value}")
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include["if"] is False)

    def applies(self, condition: Any, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is object_type:
            return True
        if is_abstract_type(conditional):
            return self.schema.is_sub_type(conditional, object_type)
        return False

    def collect(self, object_type, selection_sets, out: dict, visited: set) -> None:
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self.included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    out.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self.applies(selection.type_condition, object_type):
                        self.collect(object_type, [selection.selection_set], out, visited)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments.get(name)
                    if fragment is not None and self.applies(fragment.type_condition, object_type):
                        self.collect(object_type, [fragment.selection_set], out, visited)
                else:  # pragma: no cover - the language has no other selection
                    raise Decline(selection.kind)

    # ------------------------------------------------------------ plans

    def object_plan(self, object_type: GraphQLObjectType, selection_sets) -> ObjectPlan:
        grouped: dict[str, list[FieldNode]] = {}
        self.collect(object_type, selection_sets, grouped, set())
        plan = ObjectPlan(len(self.objects), object_type, [])
        self.objects.append(plan)
        for key, nodes in grouped.items():
            plan.fields.append(self.field_plan(object_type, key, nodes))
        return plan

    def field_plan(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]):
        name = nodes[0].name.value
        f = FieldPlan(len(self.fields), key, name, tuple(nodes), parent, "typename")
        f.node_list = list(nodes)
        self.fields.append(f)
        if name == "__typename":
            return f
        if name.startswith("__"):
            raise Decline("introspection")
        fdef = parent.fields.get(name)
        if fdef is None:
            raise Decline(f"unknown field {parent.name}.{name}")
        definition = (fdef.extensions or {}).get("strawberry-definition")
        if definition is None:
            raise Decline(f"{parent.name}.{name} is not a strawberry field")
        f.fdef, f.definition = fdef, definition
        for extension in definition.extensions:
            if type(extension) is not Requires or not extension.depends_only_on_viewer:
                raise Decline(f"{parent.name}.{name}: field extension {type(extension).__name__}")
            f.requires = extension
        resolver = definition.base_resolver
        if resolver is None:
            if definition.default_resolver is not getattr:
                raise Decline(f"{parent.name}.{name}: custom default resolver")
            f.kind, f.attr = "attr", definition.python_name
        else:
            wrapped = resolver.wrapped_func
            batch = getattr(wrapped, "batch", None)
            made_by = (
                getattr(wrapped, "__qualname__", None)
                if getattr(wrapped, "__module__", None) == RELATED_MODULE
                else None
            )
            if batch is not None and made_by == RELATED_RESOLVER:
                f.kind, f.batch, f.attr = "related", batch, wrapped.key
            elif batch is not None and is_batched(wrapped):
                f.kind, f.batch = "keyed", batch
                f.key_of, f.answer = wrapped.key_of, wrapped.answer
            elif fdef.resolve is not None:
                f.kind = "resolve"
            else:  # pragma: no cover - strawberry always sets resolve
                raise Decline(f"{parent.name}.{name}: no resolver")
        f.shape = self.shape(f, fdef.type, nodes)
        return f

    def shape(self, f: FieldPlan, type_: GraphQLOutputType, nodes) -> Shape:
        nonnull = is_non_null_type(type_)
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        shape = Shape(len(self.shapes), f, nonnull, "leaf")
        self.shapes.append(shape)
        if is_list_type(inner):
            assert isinstance(inner, GraphQLList)
            shape.kind = "list"
            shape.item = self.shape(f, inner.of_type, nodes)
        elif is_leaf_type(inner):
            shape.type = inner
        elif is_object_type(inner):
            shape.kind, shape.type = "object", inner
            selections = [n.selection_set for n in nodes if n.selection_set is not None]
            shape.object = self.object_plan(inner, selections)
        elif is_abstract_type(inner):
            assert isinstance(inner, GraphQLAbstractType)
            shape.kind, shape.type = "abstract", inner
            selections = [n.selection_set for n in nodes if n.selection_set is not None]
            for possible in self.schema.get_possible_types(inner):
                shape.choices[possible.name] = self.object_plan(possible, selections)
        else:  # pragma: no cover
            raise Decline(f"type {inner}")
        return shape
