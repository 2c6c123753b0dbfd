"""Ticket history: immutable events, listed and pushed live."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from guichet.resolvers.people import impersonation, people
from guichet.resolvers.tickets import history, tickets
from guichet.schema.fields import as_loaded, batched, related
from guichet.schema.people import User
from guichet.schema.relay import Node
from guichet.schema.ticket_enums import Channel, TicketEventKind
from guichet.schema.ticket_ref import LazyTicket
from guichet.subscriptions import history as live_history


def _acting(root: history.EventRow) -> tuple[int | None, int | None]:
    return (root.actor_id, root.impersonator_id)


@strawberry.type(
    description="One immutable entry in a ticket's history: who did what, through which channel."
)
class TicketEvent(Node):
    kind: TicketEventKind
    via: Channel
    field: str | None = strawberry.field(description="For FIELD_CHANGED: the field name.")
    previous_value: JSON | None
    new_value: JSON | None
    data: JSON | None = strawberry.field(
        description="Free-form details (comment id, approval id, rule name, notification channel and recipient...)."
    )
    public: bool = strawberry.field(
        description="False when only agents may see this event (e.g. an internal note)."
    )
    created_at: datetime
    actor: User | None = related(
        people.users_by_id,
        key="actor_id",
        description="Null for automatic actions (rules, reminders, system).",
    )
    ticket: LazyTicket = related(tickets.tickets_by_id, key="ticket_id")
    impersonator: User | None = batched(
        impersonation.impersonators_for_viewer,
        key=_acting,
        answer=as_loaded,
        description=(
            "Set when the actor's session was an admin acting as them: who really acted. "
            "Shown to staff and to the impersonated person; null for everyone else."
        ),
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, history.EventRow)


@strawberry.type
class HistorySubscription:
    @strawberry.subscription(
        description=(
            "Every new history event of a ticket the viewer may see, filtered by visibility. "
            "With `after` (an event cursor or id), first replays the visible events after it, "
            "so a client that reconnects loses nothing."
        )
    )
    async def ticket_history(
        self, info: strawberry.Info, ticket_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[TicketEvent, None]:
        events = live_history.ticket_history(info.context, ticket_id, after, info.schema)
        async with aclosing(events):
            async for event in events:
                yield event
