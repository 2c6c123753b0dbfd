"""What is known about one document text: kept in a bounded LRU (DOCUMENTS_KEPT texts).

Per text: the parsed document; the validation verdicts (the errors, possibly none) per set
of validation rules; the plans per (operation name, values of the variables @skip/@include
read), or why the operation is not planned; and the facts the HTTP layer needs before it
runs anything (operation type, whether it signs in, its static cost, the verdict of the
depth/alias/cost limits).

A verdict is reused only when it cannot depend on the request: every rule is a class or a
`functools.partial` whose arguments are hashable; the one rule that reads the request's
variables (`InputLimitsRule`: lists within their maxima) is part of the key without its
variables only when the document puts no variable inside a list literal, has no list or
object variable defaults and the request's variables are all scalars, since only lists
and objects can exceed a maximum. Any other request validates as usual, every rule run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    visit,
)

from guichet.schema.execution.planner import directive_variables
from guichet.schema.limits import InputLimitsRule

DOCUMENTS_KEPT = 1000
# Longer texts are not kept (nor planned): the cache holds a few tens of megabytes at most.
MAX_KEPT_CHARS = 16 * 1024
# Plans kept per document: one per combination of @skip/@include values met.
PLANS_PER_DOCUMENT = 16


@dataclass(frozen=True, slots=True)
class OperationFacts:
    """What the HTTP layer needs to know of an operation before running it."""

    type: OperationType
    signs_in: bool
    cost: int
    # The depth, alias and cost limits' errors (none: within the limits).
    limits: tuple[GraphQLError, ...]


class _ListVariables(Visitor):
    """Finds variables inside list literals and list or object variable defaults."""

    def __init__(self) -> None:
        super().__init__()
        self.lists = 0
        self.found = False

    def enter_variable_definition(self, node, *_args):
        if isinstance(node.default_value, (ListValueNode, ObjectValueNode)):
            self.found = True
        return self.SKIP

    def enter_list_value(self, *_args):
        self.lists += 1

    def leave_list_value(self, *_args):
        self.lists -= 1

    def enter_variable(self, *_args):
        if self.lists:
            self.found = True


class DocumentEntry:
    __slots__ = (
        "_directive_variables",
        "document",
        "facts",
        "fragments",
        "input_limits_static",
        "operations",
        "plans",
        "verdicts",
    )

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.operations: dict[str | None, OperationDefinitionNode] = {}
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                name = definition.name.value if definition.name else None
                self.operations.setdefault(name, definition)
            elif isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition
        finder = _ListVariables()
        visit(document, finder)
        self.input_limits_static = not finder.found
        self.verdicts: dict[tuple, list[GraphQLError]] = {}
        self.plans: dict[tuple, Any] = {}
        self.facts: dict[tuple, OperationFacts] = {}
        self._directive_variables: dict[str | None, tuple[str, ...]] = {}

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        """The operation to run: the one named, or the only one."""
        if name is None:
            if len(self.operations) != 1:
                return None
            return next(iter(self.operations.values()))
        return self.operations.get(name)

    def directive_variables(self, operation: OperationDefinitionNode) -> tuple[str, ...]:
        name = operation.name.value if operation.name else None
        found = self._directive_variables.get(name)
        if found is None:
            found = self._directive_variables[name] = directive_variables(operation, self.fragments)
        return found

    def rules_key(self, rules: Any, variables: dict | None) -> tuple | None:
        """The key of a verdict for these rules, or None when it must not be reused."""
        parts: list[Any] = []
        for rule in rules:
            if isinstance(rule, partial):
                keywords = dict(rule.keywords)
                if rule.func is InputLimitsRule:
                    scalars = all(
                        not isinstance(v, (list, dict)) for v in (variables or {}).values()
                    )
                    if not (self.input_limits_static and scalars):
                        return None
                    keywords.pop("variables", None)
                part = (rule.func, rule.args, tuple(sorted(keywords.items())))
            elif isinstance(rule, type):
                part = rule
            else:
                return None
            try:
                hash(part)
            except TypeError:
                return None
            parts.append(part)
        return tuple(parts)


class DocumentCache:
    """Document texts to their entries, least recently used dropped first."""

    def __init__(self, size: int = DOCUMENTS_KEPT) -> None:
        self.size = size
        self._entries: OrderedDict[str, DocumentEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> DocumentEntry | None:
        entry = self._entries.get(text)
        if entry is not None:
            try:
                self._entries.move_to_end(text)
            except KeyError:  # dropped by another thread meanwhile
                pass
        return entry

    def remember(self, text: str, document: DocumentNode) -> DocumentEntry | None:
        """The entry of a text that parsed to `document` (None when too long to keep)."""
        if len(text) > MAX_KEPT_CHARS:
            return None
        entry = self.get(text)
        if entry is not None:
            return entry
        entry = DocumentEntry(document)
        with self._lock:
            self._entries[text] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
