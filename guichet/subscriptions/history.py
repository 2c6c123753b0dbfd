"""ticketHistory: a ticket's new events, filtered for each subscriber, event by event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from guichet.resolvers import access, history, ids
from guichet.resolvers.errors import BadRequest, NotFound
from guichet.subscriptions import topics

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


def replay_start(after: str | None) -> int | None:
    """The event id to replay after: an event's cursor or its global id."""
    if after is None:
        return None
    pk = ids.decode_cursor(after) or ids.decode_as(after, "TicketEvent")
    if pk is None:
        raise BadRequest("`after` takes an event's cursor or id.")
    return pk


async def ticket_history(
    context: Context, ticket_id: str, after: str | None
) -> AsyncIterator[history.EventRow]:
    """Subscribe first, then replay what the subscriber missed, then go live: nothing
    committed in between is lost, nothing is sent twice. Each event is re-read through
    the subscriber's own visibility; a subscriber who loses access to the ticket stops
    receiving and the stream ends."""
    ticket = await access.ticket(context, ids.decode_as(ticket_id, "Ticket") or 0)
    start = replay_start(after)
    async with context.bus.subscribe(topics.ticket_history(ticket.pk)) as live:
        last_sent = 0
        if start is not None:
            for event in await history.events_by_ticket_after(context, ticket.pk, start):
                last_sent = event.pk
                yield event
        async for message in live:
            if message["event"] <= last_sent:
                continue
            context.next_event()
            try:
                event = await access.event(context, message["event"])
            except NotFound:
                if await context.loader(_tickets()).load(ticket.pk) is None:
                    return  # access to the ticket was lost
                continue  # an event this subscriber may not see (an internal note)
            last_sent = event.pk
            yield event


def _tickets():
    from guichet.resolvers.tickets import tickets_by_id

    return tickets_by_id
