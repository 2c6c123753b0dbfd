"""@requires(role:): the least role that may read a field.

Declared once per field, as `extensions=[requires(Role.AGENT)]`; the extension both
prints the directive in the SDL and enforces it. A reader below the role gets null for
that field and a FORBIDDEN error at its path; the rest of the response is served. That
only works if the field can be null, so building the schema fails when a @requires
field is non-null, root fields included (a non-null root field that fails nulls the
whole response).
"""

from __future__ import annotations

import inspect
from typing import Any

import strawberry
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from strawberry.extensions import FieldExtension
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
    """Refuse a schema where a field carrying @requires cannot be null."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType):
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
