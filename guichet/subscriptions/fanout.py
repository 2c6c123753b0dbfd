"""Shared fan-out of ticket history: each event shaped once per group, its bytes to every socket.

One `Fanout` per process (per bus). Per ticket it holds one bus subscription (`Topic`); the
ticket's websocket subscribers are grouped by what their answer depends on: the document
text, operation name, variables (but the `after:` of the replay) and the viewer's
visibility class (`access.visibility_class`: staff by role, each customer alone). An event
is read once (one statement, whatever the number of subscribers), who may see it is decided
in memory (`access.sees_ticket` / `sees_event`; when customers listen, one more statement
reads the ticket's audience), and each group that may see it runs its document once,
through strawberry itself (`schema.subscribe` with a context of that class, so @requires,
hidden notes and masked errors are what each member would get), then writes the
serialised `next` message to each member's socket, each with its own operation id.

A member that loses access (a customer no longer among the ticket's readers) or whose
session ended (live_sessions drops the viewer) gets nothing more; its stream completes.
When the bus says messages may have been lost (`bus.RESUMED`), the topic reads the
ticket's events after the lowest starting point of its members once and delivers them
the same way: each member gets those after its own starting point it has not been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import weakref
from typing import TYPE_CHECKING, Any

import orjson

from guichet.resolvers import access, topics
from guichet.resolvers.context import Context
from guichet.resolvers.sql import fetch
from guichet.resolvers.tickets.history import EVENT_COLUMNS, EventRow, event_row
from guichet.subscriptions import bus as bus_module
from guichet.subscriptions.frames import Outbox
from guichet.subscriptions.members import Member, Operation, group_key

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from guichet.resolvers.context import Viewer

log = logging.getLogger("guichet.fanout")

# After a failed delivery, the replay that catches up is tried this often.
RETRY_SECONDS = 1.0


class Shaping(Context):
    """The context a group's document runs with: a viewer of the group's class, and the
    events to shape (the resolver yields them instead of subscribing)."""

    __slots__ = ("group",)


# ---------------------------------------------------------------- groups and topics


class Group:
    """Subscribers whose answers are the same bytes: one execution per event."""

    def __init__(
        self, topic: Topic, key: tuple, viewer: Viewer, operation: Operation, schema: Any
    ) -> None:
        self.topic = topic
        self.key = key
        self.viewer = viewer
        self.members: dict[Member, None] = {}  # in joining order
        self.feed: asyncio.Queue[tuple[EventRow, bool]] = asyncio.Queue()
        self.current: tuple[int, bool] = (0, False)
        context = Shaping(topic.fanout.settings, viewer, None)
        context.group = self
        self.task = asyncio.get_running_loop().create_task(
            self._run(schema, operation, context), context=contextvars.Context()
        )

    async def events(self, context: Context) -> AsyncIterator[EventRow]:
        """What the group's document is run on: the events its class may see, in order."""
        while True:
            row, replayed = await self.feed.get()
            context.next_event()
            self.current = (row.pk, replayed)
            yield row

    async def _run(self, schema: Any, operation: Operation, context: Context) -> None:
        try:
            stream = await schema.subscribe(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
            )
            async for result in stream:
                pk, replayed = self.current
                payload = _serialised(result)
                for member in list(self.members):
                    member.deliver(pk, payload, replayed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shaping ticket history for %s failed", self.key[3])
        for member in list(self.members):  # the stream ended: so do its members'
            member.end()


def _serialised(result: Any) -> str:
    """The `payload` of a next message, as strawberry's handlers build it."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    try:
        return orjson.dumps(payload).decode()
    except TypeError:  # what orjson refuses (e.g. integers beyond 64 bits)
        return json.dumps(payload, separators=(",", ":"))


class Topic:
    """One ticket's subscribers in this process, and its one bus subscription."""

    def __init__(self, fanout: Fanout, ticket_pk: int) -> None:
        self.fanout = fanout
        self.ticket_pk = ticket_pk
        self.groups: dict[tuple, Group] = {}
        self.ready = asyncio.get_running_loop().create_future()
        self.task = asyncio.get_running_loop().create_task(
            self._listen(), context=contextvars.Context()
        )

    async def _listen(self) -> None:
        try:
            async with self.fanout.bus.subscribe(topics.ticket_history(self.ticket_pk)) as live:
                self.ready.set_result(None)
                async for message in live:
                    try:
                        if message is bus_module.RESUMED:
                            await self._replay()
                        elif isinstance(pk := message.get("event"), int):
                            rows = await fetch(
                                f"SELECT {EVENT_COLUMNS}, e.approval_request_id"
                                " FROM ticket_event e WHERE e.id = $1",
                                pk,
                            )
                            await self._deliver(rows, replayed=False)
                    except Exception:
                        log.exception("delivering ticket history of #%s failed", self.ticket_pk)
                        await self._recover()
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            raise

    async def _recover(self) -> None:
        """An event could not be delivered (the database away?): replay from the database
        as after a bus outage, once it answers again, so that nothing is lost."""
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            try:
                await self._replay()
                return
            except Exception as error:
                log.warning("replaying ticket history of #%s failed: %s", self.ticket_pk, error)

    async def _replay(self) -> None:
        """After a bus outage: the ticket's events after the lowest member's floor."""
        members = [m for g in self.groups.values() for m in g.members]
        if not members:
            return
        rows = await fetch(
            f"SELECT {EVENT_COLUMNS}, e.approval_request_id FROM ticket_event e"
            " WHERE e.ticket_id = $1 AND e.id > $2 ORDER BY e.id",
            self.ticket_pk,
            min(m.floor for m in members),
        )
        await self._deliver(rows, replayed=True)

    async def _deliver(self, rows: list[dict[str, Any]], replayed: bool) -> None:
        for r in rows:
            if r["ticket_id"] != self.ticket_pk:
                continue  # not this ticket's (e.g. another deployment on the same Redis)
            row = event_row(r)
            groups = list(self.groups.values())
            audience = None
            if any(not g.viewer.is_agent for g in groups):
                audience = await access.ticket_audience(self.ticket_pk, r["approval_request_id"])
            for group in groups:
                if not access.sees_ticket(group.viewer, audience):
                    for member in list(group.members):
                        member.end()  # access to the ticket was lost
                elif access.sees_event(group.viewer, row.public, audience):
                    group.feed.put_nowait((row, replayed))


# ---------------------------------------------------------------- the registry


_registries: weakref.WeakKeyDictionary[Any, Fanout] = weakref.WeakKeyDictionary()


def registry(bus: Any) -> Fanout:
    """The process's fan-out over this bus."""
    found = _registries.get(bus)
    if found is None:
        found = _registries[bus] = Fanout(bus)
    return found


class Fanout:
    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.settings: Any = None
        self.topics: dict[int, Topic] = {}
        self.outboxes: dict[Any, Outbox] = {}

    async def join(
        self, context: Context, operation: Operation, schema: Any, ticket_pk: int, after: int | None
    ) -> Member:
        """A subscriber of the ticket's live events, live once the topic is (events
        before it is `go_live` are held)."""
        viewer = context.require_viewer()
        self.settings = context.settings
        outbox = self.outboxes.get(context.websocket)
        if outbox is None:
            outbox = self.outboxes[context.websocket] = Outbox(context.websocket)
        outbox.users += 1
        member = Member(context, operation, outbox)
        topic = self.topics.get(ticket_pk)
        if topic is None:
            topic = self.topics[ticket_pk] = Topic(self, ticket_pk)
        key = group_key(operation, viewer)
        group = topic.groups.get(key)
        if group is None:
            group = topic.groups[key] = Group(topic, key, viewer, operation, schema)
        member.after = after
        group.members[member] = None
        member.group = group
        try:
            await asyncio.shield(topic.ready)
        except BaseException:
            self.leave(member)
            raise
        return member

    def leave(self, member: Member) -> None:
        group = member.group
        if group is None:
            return  # left already
        member.group = None
        member.end()
        outbox = member.outbox
        outbox.users -= 1
        if outbox.users == 0 and self.outboxes.get(outbox.websocket) is outbox:
            del self.outboxes[outbox.websocket]
        group.members.pop(member, None)
        if group.members:
            return
        topic = group.topic
        group.task.cancel()
        if topic.groups.get(group.key) is group:
            del topic.groups[group.key]
        if not topic.groups:
            topic.task.cancel()
            if self.topics.get(topic.ticket_pk) is topic:
                del self.topics[topic.ticket_pk]
            with contextlib.suppress(asyncio.CancelledError, Exception):
                if topic.ready.done():
                    topic.ready.exception()
