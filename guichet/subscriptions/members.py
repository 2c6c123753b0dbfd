"""A subscriber of the shared fan-out (`Member`), the websocket operation it runs
(`Operation`), and which group it joins (`group_key`): subscribers whose answers are the
same bytes share one execution per event (see fanout.py)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from graphql import FieldNode, GraphQLError, VariableNode, get_operation_ast, parse

from guichet.resolvers import access
from guichet.resolvers.context import Context
from guichet.subscriptions.frames import Outbox

if TYPE_CHECKING:
    from collections.abc import Callable

    from guichet.resolvers.context import Viewer


@dataclass(frozen=True, slots=True)
class Operation:
    """The websocket operation running in this task, set by the server's protocol handler."""

    id: str
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    legacy: bool = False  # graphql-ws (`data` messages) rather than graphql-transport-ws
    # Hands a live member over to the protocol handler, which then ends it (the client's
    # `complete`, the socket's end) and is told when it ends (`Member.on_end`): the
    # operation's execution may finish, and its memory with it. None: the execution waits
    # for the member's end.
    detach: Callable[[Member], None] | None = None


current_operation: contextvars.ContextVar[Operation | None] = contextvars.ContextVar(
    "guichet_operation", default=None
)


class Member:
    """One websocket subscription of a group."""

    __slots__ = (
        "after",
        "context",
        "ended",
        "floor",
        "group",
        "id",
        "on_end",
        "outbox",
        "pending",
        "prefix",
        "sent",
    )

    def __init__(self, context: Context, operation: Operation, outbox: Outbox) -> None:
        self.context = context
        self.id = operation.id
        kind = "data" if operation.legacy else "next"
        self.prefix = f'{{"id":{json.dumps(operation.id)},"type":"{kind}","payload":'
        self.outbox = outbox
        # Event ids sent (replayed or live): none is sent twice.
        self.sent: set[int] = set()
        # Live events up to `floor` the client has (with `after`) or had before it started.
        self.floor = 0
        self.after: int | None = None  # the `after:` it was given (events it has)
        self.pending: list[tuple[int, str]] | None = []  # frames held during the replay
        self.ended = asyncio.get_running_loop().create_future()
        self.group: Any = None  # its fanout.Group while it belongs to one
        self.on_end: Callable[[Member], None] | None = None

    def deliver(self, pk: int, payload: str, replayed: bool) -> None:
        if self.ended.done():
            return
        if self.context.viewer is None:  # the session ended (see live_sessions)
            self.end()
            return
        if pk in self.sent or (replayed and pk <= self.floor):
            return
        if self.after is not None and pk <= self.after:
            return
        frame = f"{self.prefix}{payload}}}"
        if self.pending is not None:
            self.pending.append((pk, frame))
            return
        self.sent.add(pk)
        self.outbox.put(frame)

    def go_live(self) -> None:
        """The replay is sent: send what arrived meanwhile (but what it sent), then live."""
        pending, self.pending = self.pending or [], None
        for pk, frame in pending:
            if pk not in self.sent:
                self.sent.add(pk)
                self.outbox.put(frame)

    def end(self) -> None:
        """No more events: the stream completes (access lost, session ended)."""
        if not self.ended.done():
            self.ended.set_result(None)
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end(self)

    def leave(self) -> None:
        if self.group is not None:
            self.group.topic.fanout.leave(self)


@lru_cache(maxsize=256)
def replay_variable(query: str, operation_name: str | None) -> str | None:
    """The variable given to ticketHistory's `after:` when the document uses it nowhere
    else (its declaration and that use): only the replay depends on it, and a group does
    not replay, so subscribers differing only by it share a group."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return None
    if operation is None or len(operation.selection_set.selections) != 1:
        return None
    field = operation.selection_set.selections[0]
    if not isinstance(field, FieldNode) or field.name.value != "ticketHistory":
        return None
    for argument in field.arguments:
        if argument.name.value == "after" and isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            # Comments and strings may only add occurrences: sharing is then refused.
            if len(re.findall(rf"\${name}\b", query)) == 2:
                return name
    return None


def group_key(operation: Operation, viewer: Viewer) -> tuple:
    variables = dict(operation.variables or {})
    ignored = replay_variable(operation.query, operation.operation_name)
    if ignored is not None:
        variables.pop(ignored, None)
    return (
        operation.query,
        operation.operation_name,
        orjson.dumps(variables, option=orjson.OPT_SORT_KEYS),
        access.visibility_class(viewer),
    )
