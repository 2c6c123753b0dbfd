"""Custom ticket fields and their values."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from guichet.models.people import Role
from guichet.resolvers.tickets import custom_fields
from guichet.schema.payloads import mutation, payload
from guichet.schema.relay import Node
from guichet.schema.requires import requires
from guichet.schema.ticket_enums import CustomFieldType, FieldVisibility


@strawberry.type(description="A ticket field an admin defined. End users see PUBLIC ones only.")
class CustomField(Node):
    key: str
    title: str
    type: CustomFieldType
    visibility: FieldVisibility
    options: list[str] | None = strawberry.field(description="The choices of a DROPDOWN.")
    required_for_end_users: bool
    active: bool = strawberry.field(
        description="False once deactivated: its values stay on old tickets; forms no longer offer it."
    )
    position: int = strawberry.field(description="Forms list fields by position, then by age.")

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, custom_fields.CustomFieldRow)


@strawberry.type
class CustomFieldValue:
    field: CustomField
    value: JSON | None

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, custom_fields.FieldValueRow)


@strawberry.input
class CustomFieldValueInput:
    key: str
    value: JSON | None = None


def field_values(
    inputs: list[CustomFieldValueInput] | None,
) -> list[custom_fields.FieldValue] | None:
    """The values as the rules take them; null and a field left out (UNSET) pass through."""
    if not inputs:
        return inputs
    return [custom_fields.FieldValue(item.key, item.value) for item in inputs]


@strawberry.input
class CreateCustomFieldInput:
    key: str = strawberry.field(description="Stable key: lower-case letters, digits and _.")
    title: str
    type: CustomFieldType
    visibility: FieldVisibility
    options: list[str] | None = None
    required_for_end_users: bool = False


@payload
class CustomFieldPayload:
    custom_field: CustomField | None = None


@strawberry.type
class CustomFieldQuery:
    @strawberry.field(
        description=(
            "The custom ticket fields the viewer may fill in (end users: PUBLIC ones): active "
            "ones, by position."
        )
    )
    async def custom_fields(self, info: strawberry.Info) -> list[CustomField]:
        return await custom_fields.form_fields(info.context.require_viewer())


@strawberry.type
class CustomFieldMutation:
    @mutation(CustomFieldPayload, extensions=[requires(Role.ADMIN)])
    async def create_custom_field(
        self, info: strawberry.Info, input: CreateCustomFieldInput
    ) -> CustomFieldPayload | None:
        field = await custom_fields.create_custom_field(
            info.context.require_viewer(),
            key=input.key,
            title=input.title,
            type=input.type,
            visibility=input.visibility,
            options=input.options,
            required_for_end_users=input.required_for_end_users,
        )
        return CustomFieldPayload(custom_field=field)
