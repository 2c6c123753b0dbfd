"""Ticket history: events written in the transaction of their change, published after it.

A rule function collects the events it records in a `Changes` and calls
`changes.publish(context)` once its transaction has committed: subscribers never hear of
a change that was rolled back. What is published is only the event's id; each
subscriber re-reads it through its own visibility (see subscriptions/history.py).
Notifications go the same way: a stored row (resolvers/notifications.py), its id published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from guichet.models.tickets import Channel, TicketEvent, TicketEventKind
from guichet.resolvers import access, ids, sql, topics
from guichet.resolvers.people import notifications
from guichet.resolvers.people.notifications import NewNotification
from guichet.resolvers.sql import as_bool, as_datetime, as_json, json_text

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer


@dataclass(slots=True)
class EventRow:
    pk: int
    ticket_id: int
    kind: TicketEventKind
    actor_id: int | None
    via: Channel
    field: str | None
    previous_value: Any
    new_value: Any
    data: Any
    public: bool
    created_at: datetime
    # The admin who acted as `actor` through an impersonation token, if one did.
    impersonator_id: int | None = None

    @property
    def id(self) -> str:
        return ids.encode("TicketEvent", self.pk)


EVENT = sql.Table(
    "ticket_event", "e", EventRow,
    "id", "ticket_id", ("kind", TicketEventKind), "actor_id", ("via", Channel), "field",
    ("previous_value", as_json), ("new_value", as_json), ("data", as_json),
    ("public", as_bool), ("created_at", as_datetime), "impersonator_id",
)  # fmt: skip
# Read by subscriptions/fanout.py.
EVENT_COLUMNS = EVENT.columns
event_row = EVENT.row

_PAGE = (
    sql.select(EVENT, "COUNT(*) OVER () AS total")
    .where("e.ticket_id = ?", sql.GIVEN, "e.id > ?")
    .order("e.id")
    .limit()
)
_COUNT = sql.count(EVENT).where("e.ticket_id = ?", sql.GIVEN)
# Pages of every ticket of a list in one statement: each ticket's visible events after an
# id, numbered oldest first, and counted.
_PAGES = (
    sql.select(
        "*",
        from_=sql.select(
            EVENT,
            "ROW_NUMBER() OVER (PARTITION BY e.ticket_id ORDER BY e.id) AS position",
            "COUNT(*) OVER (PARTITION BY e.ticket_id) AS total",
        )
        .where(sql.among("e.ticket_id"), sql.GIVEN, "e.id > ?")
        .as_("ranked"),
    )
    .where("position <= ?")
    .order("ticket_id, position")
)
_COUNTS = (
    sql.select("e.ticket_id", "COUNT(*) AS total", from_=EVENT)
    .where(sql.among("e.ticket_id"), sql.GIVEN)
    .group("e.ticket_id")
)
_BY_ID = sql.select(EVENT, from_=f"{EVENT} JOIN ticket t ON t.id = e.ticket_id").where(
    sql.among("e.id"), sql.GIVEN, sql.GIVEN
)


@dataclass
class Changes:
    """What one rule function wrote: events to publish and people to notify.

    Made with `Changes.of(viewer)` where a person acts: their events then record the admin
    behind an impersonation token as `impersonator` (`Changes()` for the system)."""

    events: list[TicketEvent] = field(default_factory=list)
    # Told, not written yet; then written: (user pk, notification id), published after commit.
    stored: list[tuple[int, int]] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The admin acting through the viewer's impersonation session, if any.
    impersonator_pk: int | None = None

    @classmethod
    def of(cls, viewer: Viewer | None) -> Changes:
        """The changes one person makes (None: the system)."""
        return cls(impersonator_pk=viewer.impersonator_id if viewer is not None else None)

    async def record(
        self,
        ticket_pk: int,
        kind: TicketEventKind,
        *,
        actor_pk: int | None,
        via: Channel,
        public: bool,
        field: str | None = None,
        previous: Any = None,
        new: Any = None,
        data: Any = None,
        approval_request_pk: int | None = None,
    ) -> TicketEvent:
        event = await TicketEvent.create(
            ticket_id=ticket_pk,
            kind=kind,
            actor_id=actor_pk,
            via=via,
            field=field,
            previous_value=json_text(previous),
            new_value=json_text(new),
            data=json_text(data),
            public=public,
            approval_request_id=approval_request_pk,
            # Only a person's own act was the impersonator's (not a rule's or the system's).
            impersonator_id=self.impersonator_pk if actor_pk is not None else None,
        )
        self.events.append(event)
        return event

    async def notify(
        self,
        user_pk: int,
        kind: str,
        message: str,
        ticket_pk: int | None = None,
        **about: int | None,
    ) -> None:
        """Tell a user: the notification is stored now, in the rule's transaction (so a
        crash loses nothing and a reconnecting client replays it), and its id is published
        after the commit. `about` names approval_request_pk or activity_pk."""
        told = NewNotification(user_pk, kind, message, ticket_pk, **about)
        self.stored.append((user_pk, await notifications.store(told)))

    def send(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish any other live message after commit."""
        self.messages.append((topic, payload))

    async def publish(self, context: Context) -> None:
        """Call after the transaction committed."""
        if context.bus is None:
            return
        for event in self.events:
            await context.bus.publish(
                topics.ticket_history(event.ticket_id),  # type: ignore[attr-defined]
                {"event": event.id, "ticket": event.ticket_id},  # type: ignore[attr-defined]
            )
        if self.events:  # one message per change, however many events: counts follow
            tickets = sorted({e.ticket_id for e in self.events})  # type: ignore[attr-defined]
            await context.bus.publish(topics.view_counts_changed(), {"tickets": tickets})
        for topic, payload in self.messages:
            await context.bus.publish(topic, payload)
        for user_pk, pk in self.stored:
            await context.bus.publish(topics.user_notifications(user_pk), {"notification": pk})


async def events_page(
    context: Context, ticket_pk: int, after_pk: int, limit: int
) -> tuple[list[EventRow], int]:
    """The events of one ticket the viewer may see, oldest first, after an event id."""
    viewer = context.require_viewer()
    visible = access.visible_events_condition(viewer, "e", 1)
    rows = await _PAGE.fetch(ticket_pk, visible, after_pk, limit)
    if rows:
        total = await _count(context, ticket_pk) if after_pk else rows[0]["total"]
        return [EVENT.row(r) for r in rows], total
    return [], await _count(context, ticket_pk)


@dataclass(frozen=True, slots=True)
class EventPage:
    """Which page of a ticket's history: a loader key, so one statement serves a list."""

    ticket_id: int
    after_pk: int
    limit: int


@dataclass(slots=True)
class EventPageResult:
    rows: list[EventRow]
    total: int


async def event_pages(context: Context, keys: Sequence[EventPage]) -> list[EventPageResult]:
    """For each key, the visible events of that ticket after an id (oldest first, at most
    `limit`), and how many it has in all: one statement per (after, limit) asked, plus one
    count for pages that start after an event or came back empty."""
    visible = access.visible_events_condition(context.require_viewer(), "e", 1)
    groups: dict[tuple[int, int], list[int]] = {}
    for key in keys:
        groups.setdefault((key.after_pk, key.limit), []).append(key.ticket_id)
    found: dict[EventPage, EventPageResult] = {}
    for (after_pk, limit), tickets in groups.items():
        tickets = list(dict.fromkeys(tickets))
        rows = await _PAGES.fetch(tickets, visible, after_pk, limit) if limit else []
        pages: dict[int, list[EventRow]] = {t: [] for t in tickets}
        totals: dict[int, int] = {}
        for r in rows:
            pages[r["ticket_id"]].append(EVENT.row(r))
            totals[r["ticket_id"]] = r["total"]
        # The window counts only what follows `after`: count the rest for real.
        uncounted = [t for t in tickets if after_pk or t not in totals]
        if uncounted and (after_pk or not limit):
            for r in await _COUNTS.fetch(uncounted, visible):
                totals[r["ticket_id"]] = r["total"]
        for ticket in tickets:
            found[EventPage(ticket, after_pk, limit)] = EventPageResult(
                pages[ticket], totals.get(ticket, 0)
            )
    return [found[k] for k in keys]


async def _count(context: Context, ticket_pk: int) -> int:
    visible = access.visible_events_condition(context.require_viewer(), "e", 1)
    rows = await _COUNT.fetch(ticket_pk, visible)
    return rows[0]["total"]


async def events_by_id(context: Context, keys: Sequence[int]) -> list[EventRow | None]:
    """Events by id, each only if the viewer may see it and its ticket."""
    viewer = context.require_viewer()
    rows = await _BY_ID.fetch(
        keys,
        access.visible_events_condition(viewer, "e", 1),
        access.visible_tickets_condition(viewer, "t", 1),
    )
    return sql.in_key_order(keys, rows, EVENT.row)


async def event_for_viewer(context: Context, pk: int) -> EventRow:
    """A history event the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(events_by_id, pk)


async def events_by_ticket_after(context: Context, ticket_pk: int, after_pk: int) -> list[EventRow]:
    """Replay: every visible event of the ticket after an event id, oldest first."""
    rows, _ = await events_page(context, ticket_pk, after_pk, 10_000)
    return rows
