"""Leaf values: a fast class test per built-in scalar, the type's own coercion otherwise.

The generated code tests `value.__class__ is str` (and the like) and keeps the value when
the test holds: for those classes graphql-core's `coerce_output_value` returns the value
itself, so the answer is the same. Anything else (ints above 2^31, enums, custom scalars,
wrong types) goes through the type's own `coerce_output_value`, exactly as graphql-core's
`complete_leaf_value` does, including its error when that returns None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLString,
    Undefined,
)
from graphql.pyutils import inspect

# Expressions (over the name `{v}`) that hold exactly when coercion returns the value itself.
FAST_TESTS = {
    GraphQLString.name: "{v}.__class__ is str",
    GraphQLID.name: "{v}.__class__ is str",
    GraphQLBoolean.name: "{v}.__class__ is bool",
    GraphQLInt.name: "({v}.__class__ is int and -2147483648 <= {v} <= 2147483647)",
    GraphQLFloat.name: "({v}.__class__ is float and -1.8e308 < {v} < 1.8e308)",
}
BUILT_IN = {GraphQLString, GraphQLID, GraphQLBoolean, GraphQLInt, GraphQLFloat}


def fast_test(leaf: GraphQLLeafType, name: str) -> str | None:
    """A test that keeps the value as is, or None when every value must be coerced."""
    if leaf in BUILT_IN or (leaf.name in FAST_TESTS and leaf is _built_in(leaf.name)):
        return FAST_TESTS[leaf.name].format(v=name)
    return None


def _built_in(name: str) -> Any:
    return {t.name: t for t in BUILT_IN}.get(name)


def enum_names(leaf: GraphQLLeafType) -> tuple[type, dict[Any, str]] | None:
    """For a strawberry enum: its Python class and each member's GraphQL name, computed by
    the type's own coercion (so aliases and custom types answer as they would)."""
    wrapped = getattr(leaf, "wrapped_cls", None)
    if not isinstance(leaf, GraphQLEnumType) or wrapped is None:
        return None
    names = {}
    for member in wrapped:
        try:
            names[member] = leaf.coerce_output_value(member)
        except Exception:
            continue
    return wrapped, names


def is_datetime_isoformat(leaf: GraphQLLeafType) -> bool:
    """Whether the scalar serialises a datetime with `isoformat()` (strawberry's DateTime)."""
    return repr(getattr(leaf, "coerce_output_value", None)) == "operator.methodcaller('isoformat')"


def coerce(leaf: GraphQLLeafType, value: Any) -> Any:
    """graphql-core's completion of a leaf: its coercion, and an error when that gives null."""
    coerced = leaf.coerce_output_value(value)
    if coerced is Undefined or coerced is None:
        raise TypeError(
            f"Expected `{inspect(leaf)}.coerce_output_value({inspect(value)})` to return "
            f"non-nullable value, returned: {inspect(coerced)}"
        )
    return coerced


DATETIME = datetime
