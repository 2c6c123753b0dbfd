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
    return sorted(folder.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(RESOLVERS.parent))


def test_access_imports_no_domain_module():
    project = {
        name for name, _ in _imported(RESOLVERS / "access.py") if name.startswith("guichet.")
    }
    outside = {
        name
        for name in project
        if not name.startswith("guichet.models.")
        and not any(name == core or name.startswith(core + ".") for core in LEAF_CORE)
    }
    assert not outside


@pytest.mark.parametrize("path", _modules(RESOLVERS), ids=_name)
def test_resolvers_import_neither_subscriptions_nor_schema(path):
    names = [n for n, _ in _imported(path)]
    assert not [n for n in names if n.startswith(("guichet.subscriptions", "guichet.schema"))]


@pytest.mark.parametrize(
    "path",
    _modules(RESOLVERS) + _modules(SUBSCRIPTIONS),
    ids=_name,
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


def test_resolvers_root_holds_only_the_shared_core():
    """Rules live in their domain's package (tickets/, approvals/, work/, people/, mail/,
    admin/); the root keeps what every domain shares."""
    root = {p.stem for p in RESOLVERS.glob("*.py")} - {"__init__"}
    assert root <= {
        "access",
        "context",
        "errors",
        "ids",
        "idempotency",
        "omitted",
        "resume",
        "sql",
        "topics",
    }
