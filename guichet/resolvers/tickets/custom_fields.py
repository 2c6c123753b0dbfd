"""Custom ticket fields: defined by admins, each AGENTS_ONLY or PUBLIC, values checked
against their field."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from guichet.models.people import Role
from guichet.models.tickets import CustomField, CustomFieldType, FieldVisibility
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import CommonErrorCode, Refused, UserError, text_error
from guichet.resolvers.sql import as_bool, as_json

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 10_000
MAX_OPTIONS = 200
# Whole numbers beyond this are not read exactly by JSON clients (JavaScript's
# Number.MAX_SAFE_INTEGER), and beyond 64 bits they cannot even be stored as JSON here.
MAX_WHOLE_NUMBER = 2**53 - 1


class CustomFieldErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_KEY = "INVALID_KEY"
    KEY_TAKEN = "KEY_TAKEN"
    INVALID_OPTIONS = "INVALID_OPTIONS"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_VALUE = "INVALID_VALUE"
    DUPLICATE = "DUPLICATE"
    FIELD_INACTIVE = "FIELD_INACTIVE"


@dataclass(slots=True, eq=False)  # identity: rows key dicts of values
class CustomFieldRow:
    pk: int
    key: str
    title: str
    type: CustomFieldType
    visibility: FieldVisibility
    options: list[str] | None
    required_for_end_users: bool
    active: bool = True
    position: int = 0

    @property
    def id(self) -> str:
        return ids.encode("CustomField", self.pk)


@dataclass(slots=True)
class FieldValueRow:
    field: CustomFieldRow
    value: Any


CUSTOM_FIELD = sql.Table(
    "custom_field", "f", CustomFieldRow,
    "id", "key", "title", ("type", CustomFieldType), ("visibility", FieldVisibility),
    ("options", as_json), ("required_for_end_users", as_bool), ("active", as_bool), "position",
)  # fmt: skip
_VISIBLE = sql.select(CUSTOM_FIELD).where(sql.GIVEN).order("f.position, f.id")
_FORM_FIELDS = (
    sql.select(CUSTOM_FIELD).where("f.active = TRUE", sql.GIVEN).order("f.position, f.id")
)
_VALUES = (
    sql.select(
        "v.ticket_id, v.value",
        CUSTOM_FIELD,
        from_=f"custom_field_value v JOIN {CUSTOM_FIELD} ON f.id = v.field_id",
    )
    .where(sql.among("v.ticket_id"), sql.GIVEN)
    .order("f.id")
)
_BY_ID = sql.select(CUSTOM_FIELD).where(sql.among("f.id"), sql.GIVEN)


async def fields_visible_to(viewer: Viewer) -> dict[str, CustomFieldRow]:
    """Every field the viewer may see, deactivated ones too (`checked_values` refuses
    those by name rather than as unknown)."""
    rows = await _VISIBLE.fetch(access.visible_custom_fields_condition(viewer, "f"))
    return {r["key"]: CUSTOM_FIELD.row(r) for r in rows}


async def form_fields(viewer: Viewer) -> list[CustomFieldRow]:
    """The fields the viewer may fill in a form: active ones they may see (end users:
    PUBLIC ones), in the order admins gave them."""
    rows = await _FORM_FIELDS.fetch(access.visible_custom_fields_condition(viewer, "f"))
    return [CUSTOM_FIELD.row(r) for r in rows]


async def values_by_ticket(context: Context, keys: Sequence[int]) -> list[list[FieldValueRow]]:
    viewer = context.require_viewer()
    rows = await _VALUES.fetch(keys, access.visible_custom_fields_condition(viewer, "f"))
    return sql.grouped_by(keys, rows, _value_row, "ticket_id")


def _value_row(r: dict[str, Any]) -> FieldValueRow:
    return FieldValueRow(CUSTOM_FIELD.row(r), as_json(r["value"]))


def checked_value(field: CustomFieldRow, value: Any, path: list[str]) -> Any:
    """The value to store for `field`, or Refused. None clears the value."""

    def invalid(why: str) -> Refused:
        return Refused(UserError(f"{field.key}: {why}", CustomFieldErrorCode.INVALID_VALUE, path))

    if value is None:
        return None
    match field.type:
        case CustomFieldType.TEXT:
            if not isinstance(value, str) or "\x00" in value:
                raise invalid("expects text (without NUL characters).")
            if len(value) > MAX_TEXT:
                raise invalid(f"at most {MAX_TEXT} characters.")
            return value
        case CustomFieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise invalid("expects a number.")
            if value != value or value in (float("inf"), float("-inf")):
                raise invalid("expects a finite number.")
            if isinstance(value, int) and abs(value) > MAX_WHOLE_NUMBER:
                raise invalid(f"whole numbers are at most {MAX_WHOLE_NUMBER} in absolute value.")
            return value
        case CustomFieldType.CHECKBOX:
            if not isinstance(value, bool):
                raise invalid("expects true or false.")
            return value
        case CustomFieldType.DROPDOWN:
            if value not in (field.options or []):
                raise invalid(f"expects one of {', '.join(field.options or [])}.")
            return value
        case CustomFieldType.DATE:
            try:
                if not isinstance(value, str) or len(value) != 10:
                    raise ValueError(value)
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise invalid("expects a date as YYYY-MM-DD.") from None
    raise invalid("has an unknown type.")


@dataclass(frozen=True, slots=True)
class FieldValue:
    """A custom field's value as a client sends it, not checked yet."""

    key: str
    value: Any = None


def checked_values(
    viewer_fields: dict[str, CustomFieldRow], inputs: Sequence[FieldValue] | None, path: list[str]
) -> dict[CustomFieldRow, Any]:
    """{field: value} for input values. A key the viewer may not see is unknown: customers
    never learn that agent-only fields exist."""
    values: dict[str, tuple[CustomFieldRow, Any]] = {}
    for i, item in enumerate(inputs or ()):
        where = [*path, str(i)]
        field = viewer_fields.get(item.key)
        if field is None:
            raise Refused(
                UserError(
                    f"No custom field has the key {item.key!r}.",
                    CustomFieldErrorCode.UNKNOWN_FIELD,
                    [*where, "key"],
                )
            )
        if not field.active:
            raise Refused(
                UserError(
                    f"{item.key} was deactivated: it keeps its values on old tickets only.",
                    CustomFieldErrorCode.FIELD_INACTIVE,
                    [*where, "key"],
                )
            )
        if item.key in values:
            raise Refused(
                UserError(
                    f"{item.key} is given twice.", CustomFieldErrorCode.DUPLICATE, [*where, "key"]
                )
            )
        values[item.key] = (field, checked_value(field, item.value, [*where, "value"]))
    return {f: v for f, v in values.values()}


def missing_required(
    viewer_fields: dict[str, CustomFieldRow], given: dict[CustomFieldRow, Any], path: list[str]
) -> list[UserError]:
    keys = {f.key for f, v in given.items() if v not in (None, "")}
    return [
        UserError(f"{f.title} is required.", CustomFieldErrorCode.REQUIRED, path)
        for f in viewer_fields.values()
        if f.required_for_end_users
        and f.active
        and f.visibility is FieldVisibility.PUBLIC
        and f.key not in keys
    ]


def checked_options(
    type: CustomFieldType, options: Sequence[str] | None, path: list[str]
) -> list[str] | None:
    """A dropdown's options as stored (trimmed), or Refused; other types have none."""
    if type is CustomFieldType.DROPDOWN:
        cleaned = [o.strip() for o in options or []]
        if (
            not cleaned
            or any(not o or len(o) > 200 or "\x00" in o for o in cleaned)
            or len(set(cleaned)) != len(cleaned)
            or len(cleaned) > MAX_OPTIONS
        ):
            raise Refused(
                UserError(
                    f"A dropdown needs 1 to {MAX_OPTIONS} distinct, non-empty options.",
                    CustomFieldErrorCode.INVALID_OPTIONS,
                    path,
                )
            )
        return cleaned
    if options:
        raise Refused(
            UserError("Only dropdowns have options.", CustomFieldErrorCode.INVALID_OPTIONS, path)
        )
    return None


async def create_custom_field(
    viewer: Viewer,
    *,
    key: str,
    title: str,
    type: CustomFieldType,
    visibility: FieldVisibility,
    options: Sequence[str] | None,
    required_for_end_users: bool,
) -> CustomFieldRow:
    access.require_role(viewer, Role.ADMIN)
    if not KEY.match(key or ""):
        raise Refused(
            UserError(
                "A key is 1 to 64 lower-case letters, digits or _, starting with a letter.",
                CustomFieldErrorCode.INVALID_KEY,
                ["input", "key"],
            )
        )
    if error := text_error(title, ["input", "title"], max_length=200):
        raise Refused(error)
    if "\x00" in title:
        raise Refused(
            UserError(
                "title contains a NUL character.", CommonErrorCode.INVALID, ["input", "title"]
            )
        )
    options = checked_options(type, options, ["input", "options"])
    if required_for_end_users and visibility is FieldVisibility.AGENTS_ONLY:
        raise Refused(
            UserError(
                "An agents-only field cannot be required from customers.",
                CustomFieldErrorCode.INVALID_OPTIONS,
                ["input", "requiredForEndUsers"],
            )
        )
    try:
        field = await CustomField.create(
            key=key,
            title=title.strip(),
            type=type,
            visibility=visibility,
            options=options,
            required_for_end_users=required_for_end_users,
        )
    except IntegrityError:
        raise Refused(
            UserError(
                f"A custom field already has the key {key!r}.",
                CustomFieldErrorCode.KEY_TAKEN,
                ["input", "key"],
            )
        ) from None
    return CUSTOM_FIELD.row_of(field)


async def custom_fields_by_id(context: Context, keys: Sequence[int]) -> list[CustomFieldRow | None]:
    viewer = context.require_viewer()
    rows = await _BY_ID.fetch(keys, access.visible_custom_fields_condition(viewer, "f"))
    return sql.in_key_order(keys, rows, CUSTOM_FIELD.row)


async def custom_field_for_viewer(context: Context, pk: int) -> CustomFieldRow:
    """A custom field the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(custom_fields_by_id, pk)
