"""Inputs cross into the rules as plain values.

A rule takes a dataclass of its own module (or plain arguments), never a strawberry input:
`plain(input, Rule)` fills the rule's dataclass from the input's same-named fields, and a field
the client left out (strawberry's UNSET) arrives as `omitted.OMITTED`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from strawberry import UNSET

from guichet.resolvers.omitted import OMITTED

T = TypeVar("T")


def plain(source: object, into: type[T], **values: Any) -> T:
    """`into` from the attributes of `source` that it names; `values` replace some of them
    (nested inputs that need their own conversion)."""
    taken = {f.name: _value(getattr(source, f.name)) for f in fields(into) if f.name not in values}
    return into(**taken, **{name: _value(value) for name, value in values.items()})


def _value(value: Any) -> Any:
    return OMITTED if value is UNSET else value
