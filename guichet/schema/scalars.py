"""Scalars the API parses more strictly than strawberry's own.

DateTime: strawberry's parser, plus a refusal of date-times that have no UTC
equivalent (`0001-01-01T00:00:00+14:00` is in year 0 in UTC, `9999-12-31T23:00:00-12:00`
in year 10000): every rule converts to UTC, which would raise OverflowError and answer
"Unexpected error.". A refused value is a variable-coercion (or validation) error.
A date-time without an offset is UTC (every rule read it so; a naive value handed to
`astimezone` would be read in the server's local time instead).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import dateutil.parser
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser


def parse_datetime(value: str) -> datetime:
    moment = dateutil.parser.isoparse(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("It lies outside the years 1 to 9999 in UTC.") from None
    return moment


DateTime = dataclasses.replace(
    DateTimeDefinition,
    description="Date with time (ISO 8601); UTC when it has no offset.",
    parse_value=wrap_parser(parse_datetime, "DateTime"),
    implementation=None,
)

SCALAR_OVERRIDES = {datetime: DateTime}
