"""@requires(role:): the least role that may read a field.

Declared once per field, as `extensions=[requires(Role.AGENT)]`; the extension both
prints the directive in the SDL and enforces it. A reader below the role gets null for
that field and a FORBIDDEN error at its path; the rest of the response is served. That
only works if the field can be null, so building the schema fails when an object
type's @requires field is non-null (root fields may be non-null: the error nulls them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema_directive import Location

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

    def __init__(self, role: RoleValue, when_forbidden: Callable[[], Any] | None = None) -> None:
        self.role = role
        self.when_forbidden = when_forbidden
        self.directive = RequiresDirective(role=role)

    def apply(self, field: Any) -> None:
        field.directives.append(self.directive)

    def allowed(self, info: strawberry.Info) -> bool:
        """True when the viewer may read the field; otherwise raises, or records the
        error and answers False for a field with a `when_forbidden` value."""
        viewer = info.context.viewer
        if viewer is None:
            raise Unauthenticated()
        if viewer.at_least(self.role):
            return True
        error = Forbidden(f"Only {self.role.value} and above may read {info.field_name}.")
        if self.when_forbidden is None:
            raise error
        info.context.errors.append(
            GraphQLError(
                error.message,
                nodes=info._raw_info.field_nodes,
                path=info.path.as_list(),
                extensions=error.extensions,
            )
        )
        return False

    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        if not self.allowed(info):
            return self.when_forbidden()
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        if not self.allowed(info):
            return self.when_forbidden()
        result = next_(source, info, **kwargs)
        if inspect.isasyncgen(result):
            return result
        return await result if inspect.isawaitable(result) else result


def requires(role: RoleValue, when_forbidden: Callable[[], Any] | None = None) -> Requires:
    return Requires(role, when_forbidden)


class ReportForbiddenFields(SchemaExtension):
    """Adds the FORBIDDEN errors of guarded non-null fields to the response."""

    def on_operation(self):
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        found = getattr(context, "errors", None)
        if found and result is not None:
            result.errors = [*(result.errors or []), *found]


def check_requires_nullable(schema: GraphQLSchema) -> None:
    """Refuse a schema where a non-root field carrying @requires cannot be null."""
    roots = {
        t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
    }
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name in roots:
            continue
        for name, field in type_.fields.items():
            definition = field.extensions.get("strawberry-definition")
            guarded = definition is not None and any(
                isinstance(e, Requires) and e.when_forbidden is None for e in definition.extensions
            )
            if guarded and isinstance(field.type, GraphQLNonNull):
                raise TypeError(
                    f"{type_.name}.{name} carries @requires but is non-null: a reader below "
                    "the role would null its parent. Make it nullable."
                )
