"""Inputs cross into the rules as plain values (guichet.schema.inputs)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import strawberry

from guichet.resolvers.omitted import OMITTED, given
from guichet.schema.inputs import plain


@strawberry.input
class ChangeInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    ignored: int | None = None


@dataclass(frozen=True)
class Change:
    id: str
    name: str | None = None
    note: str | None = None


def test_a_field_left_out_arrives_omitted_and_null_stays_null():
    change = plain(ChangeInput(id=strawberry.ID("1"), name=None), Change)
    assert change == Change(id="1", name=None, note=OMITTED)
    assert given(change.name) and not given(change.note)
    assert not OMITTED  # falsy, as strawberry's UNSET was


def test_values_replace_fields_that_need_their_own_conversion():
    change = plain(ChangeInput(id=strawberry.ID("1"), name="x"), Change, note=strawberry.UNSET)
    assert change == Change(id="1", name="x", note=OMITTED)


def test_no_rule_module_imports_strawberry():
    """Rules take plain values: strawberry stays in the schema."""
    resolvers = Path(__file__).resolve().parents[2] / "guichet" / "resolvers"
    importing = [
        path.name
        for path in sorted(resolvers.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            name.split(".")[0] == "strawberry"
            for name in (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
        )
    ]
    assert not importing
