"""The import rules of DESIGN.md ("Shape of the code"), read from the source: `access` is a
leaf, `resolvers` never imports `subscriptions` (nor `schema`), and no import is deferred
into a function to dodge a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RESOLVERS = Path(__file__).resolve().parents[2] / "guichet" / "resolvers"
SUBSCRIPTIONS = RESOLVERS.parent / "subscriptions"

# What `access` may import from the project: storage, and the shared core of resolvers.
LEAF_CORE = {"guichet.resolvers.errors", "guichet.resolvers.sql", "guichet.resolvers.context"}


def _imported(path: Path) -> list[tuple[str, ast.AST]]:
    """Every module the file imports (`from guichet.resolvers import x` counts as
    `guichet.resolvers.x`), with the node that imports it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node))
            found += [(f"{node.module}.{alias.name}", node) for alias in node.names]
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py"))


def test_access_imports_no_domain_module():
    project = {
        name
        for name, _ in _imported(RESOLVERS / "access.py")
        if name.startswith("guichet.resolvers.") and name.count(".") == 2
    }
    assert project <= LEAF_CORE


@pytest.mark.parametrize("path", _modules(RESOLVERS), ids=lambda p: p.name)
def test_resolvers_import_neither_subscriptions_nor_schema(path):
    names = [n for n, _ in _imported(path)]
    assert not [n for n in names if n.startswith(("guichet.subscriptions", "guichet.schema"))]


@pytest.mark.parametrize(
    "path",
    _modules(RESOLVERS) + _modules(SUBSCRIPTIONS),
    ids=lambda p: p.parent.name + "/" + p.name,
)
def test_no_import_inside_a_function(path):
    tree = ast.parse(path.read_text(), str(path))
    deferred = [
        f"{path.name}:{inner.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    assert not deferred
