"""@requires(role:): the least role that may read a field.

Declared once per field, as `extensions=[requires(Role.AGENT)]`; the extension both
prints the directive in the SDL and enforces it. A reader below the role gets null for
that field and a FORBIDDEN error at its path; the rest of the response is served. That
only works if the field can be null, so building the schema fails when a @requires
field is non-null, root query fields included (a non-null root field that fails nulls the
whole response). Root mutations may be non-null (their payloads are, by contract): a
mutation document with one the viewer may not run is refused whole before anything runs.
"""

from __future__ import annotations

import inspect
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    get_operation_ast,
)
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema_directive import Location
from strawberry.types.graphql import OperationType

from guichet.models.people import Role as RoleValue
from guichet.resolvers.errors import Forbidden, Unauthenticated
from guichet.schema.enums import Role


@strawberry.schema_directive(
    name="requires",
    locations=[Location.FIELD_DEFINITION],
    description="The least role that may read this field.",
)
class RequiresDirective:
    role: Role


class Requires(FieldExtension):
    """The permission check of @requires."""

    # The decision depends on the viewer alone, never on the object: an executor may
    # take it once per field of a query instead of once per row.
    depends_only_on_viewer = True

    def __init__(self, role: RoleValue) -> None:
        self.role = role
        self.directive = RequiresDirective(role=role)

    def apply(self, field: Any) -> None:
        field.directives.append(self.directive)

    def check(self, info: strawberry.Info) -> None:
        """Raises unless the viewer may read the field."""
        viewer = info.context.viewer
        if viewer is None:
            raise Unauthenticated()
        if not viewer.at_least(self.role):
            raise Forbidden(f"Only {self.role.value} and above may read {info.field_name}.")

    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        self.check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        self.check(info)
        result = next_(source, info, **kwargs)
        if inspect.isasyncgen(result):
            return result
        return await result if inspect.isawaitable(result) else result


def requires(role: RoleValue) -> Requires:
    return Requires(role)


def check_requires_nullable(schema: GraphQLSchema) -> None:
    """Refuse a schema where a field carrying @requires cannot be null.

    Root mutations are exempt: a refused one runs nothing and has no sibling data to lose
    (mutations run one at a time, and the refusal comes before any of them writes), and the
    contract declares their payloads non-null."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_ is schema.mutation_type:
            continue
        for name, field in type_.fields.items():
            definition = field.extensions.get("strawberry-definition")
            guarded = definition is not None and any(
                isinstance(e, Requires) for e in definition.extensions
            )
            if guarded and isinstance(field.type, GraphQLNonNull):
                raise TypeError(
                    f"{type_.name}.{name} carries @requires but is non-null: a reader below "
                    "the role would null its parent (or the whole response). Make it nullable."
                )


class RefuseMutationsAboveTheViewer(SchemaExtension):
    """A mutation document is refused whole, before any of its mutations runs, when one of
    them carries @requires above the viewer's role: the payloads are non-null, so a refusal
    met half way would null `data` and hide the answers of mutations already committed."""

    def on_execute(self):
        context = self.execution_context
        if context.operation_type is OperationType.MUTATION and not context.result:
            refusals = _refusals(context)
            if refusals:
                context.result = ExecutionResult(data=None, errors=refusals)
        yield


def _refusals(context: Any) -> list[GraphQLError]:
    document = context.graphql_document
    operation = get_operation_ast(document, context.operation_name) if document else None
    mutation = context.schema._schema.mutation_type
    if operation is None or mutation is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    viewer = getattr(context.context, "viewer", None)
    refusals: list[GraphQLError] = []
    for node in _root_fields(operation.selection_set, fragments, set()):
        field = mutation.fields.get(node.name.value)
        definition = field.extensions.get("strawberry-definition") if field else None
        for extension in definition.extensions if definition else ():
            if not isinstance(extension, Requires):
                continue
            if viewer is None:
                error: GraphQLError = Unauthenticated()
            elif not viewer.at_least(extension.role):
                error = Forbidden(
                    f"Only {extension.role.value} and above may run {node.name.value};"
                    " nothing in this request ran."
                )
            else:
                continue
            error.path = [node.alias.value if node.alias else node.name.value]
            refusals.append(error)
    return refusals


def _root_fields(selections: Any, fragments: dict, seen: set[str]) -> list[FieldNode]:
    fields: list[FieldNode] = []
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_root_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                fields.extend(_root_fields(fragment.selection_set, fragments, seen))
    return fields
