"""ticketHistory: a ticket's new events, as each subscriber may see them.

Over the server's websockets a subscriber joins the process's shared fan-out
(subscriptions/fanout.py): each event is read and shaped once per group of subscribers
who see the same answer. Elsewhere (no websocket operation in this task) each event is
re-read through the subscriber's own visibility, event by event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from guichet.resolvers import ids, resume, topics
from guichet.resolvers.errors import BadRequest, NotFound
from guichet.resolvers.tickets import history
from guichet.resolvers.tickets.tickets import ticket_for_viewer
from guichet.subscriptions import bus, fanout, members

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
    context: Context, ticket_id: str, after: str | None, schema: Any = None
) -> AsyncIterator[history.EventRow]:
    """A ticket's history events for the subscriber: through the shared fan-out when the
    subscription runs on one of the server's websockets, one by one otherwise."""
    if isinstance(context, fanout.Shaping):  # a group's own run: the events to shape
        async for event in context.group.events(context):
            yield event
        return
    operation = members.current_operation.get()
    if operation is None or context.bus is None or schema is None or context.websocket is None:
        async for event in _one_by_one(context, ticket_id, after):
            yield event
        return
    ticket = await ticket_for_viewer(context, ids.decode_as(ticket_id, "Ticket") or 0)
    start = replay_start(after)
    shared = fanout.registry(context.bus)
    member = await shared.join(context, operation, schema, ticket.pk, start)
    detached = False
    try:
        # Live events are held from here until the replay is sent (`go_live`).
        member.floor = start if start is not None else await resume.latest_ticket_event(ticket.pk)
        if start is not None:
            for event in await history.events_by_ticket_after(context, ticket.pk, start):
                member.sent.add(event.pk)
                yield event
        member.go_live()
        if operation.detach is not None and not member.ended.done():
            # The protocol handler keeps the subscription; this execution ends here, and
            # what the replay loaded is not needed while it is live.
            context.next_event()
            operation.detach(member)
            detached = True
            return
        await member.ended
    finally:
        if not detached:
            shared.leave(member)


async def _one_by_one(
    context: Context, ticket_id: str, after: str | None
) -> AsyncIterator[history.EventRow]:
    """Subscribe first, then replay what the subscriber missed, then go live: nothing
    committed in between is lost, nothing is sent twice. Each event is re-read through
    the subscriber's own visibility; a subscriber who loses access to the ticket stops
    receiving and the stream ends. When the bus says messages may have been lost
    (`bus.RESUMED`), the same replay runs again from where the stream started."""
    ticket = await ticket_for_viewer(context, ids.decode_as(ticket_id, "Ticket") or 0)
    start = replay_start(after)
    async with context.bus.subscribe(topics.ticket_history(ticket.pk)) as live:
        # What was sent is skipped by id, not by order: transactions publish after they
        # commit, so events may be published out of id order; and one committed before the
        # replay may be published after it. Events up to `after` the client already has.
        sent: set[int] = set()
        # Replays start after `after`, or where the history stood when the stream began.
        floor = start if start is not None else await resume.latest_ticket_event(ticket.pk)
        if start is not None:
            for event in await history.events_by_ticket_after(context, ticket.pk, start):
                sent.add(event.pk)
                yield event
        async for message in live:
            if message is bus.RESUMED:
                context.next_event()
                try:
                    await ticket_for_viewer(context, ticket.pk)
                except NotFound:
                    return  # access to the ticket was lost meanwhile
                for event in await history.events_by_ticket_after(context, ticket.pk, floor):
                    if event.pk not in sent:
                        sent.add(event.pk)
                        yield event
                continue
            pk = message["event"]
            if pk in sent or (start is not None and pk <= start):
                continue
            context.next_event()
            try:
                event = await history.event_for_viewer(context, pk)
            except NotFound:
                try:
                    await ticket_for_viewer(context, ticket.pk)
                except NotFound:
                    return  # access to the ticket was lost
                continue  # an event this subscriber may not see (an internal note)
            if event.ticket_id != ticket.pk:
                continue  # not this ticket's (e.g. another deployment on the same Redis)
            sent.add(event.pk)
            yield event
