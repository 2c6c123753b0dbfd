"""Where each resumable stream stands: the id a live subscription started after.

A subscription that asked for no replay still needs a starting point: when the bus tells it
that messages may have been lost (`bus.RESUMED`, after a pub/sub outage), it replays from
the database everything after that point it has not sent. Each function here is one
indexed read, run once when the subscription starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guichet.resolvers import access, sql

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


_NEWEST_EVENT = sql.select("MAX(e.id) AS newest", from_="ticket_event e")
_NEWEST_OF_TICKET = _NEWEST_EVENT.where("e.ticket_id = ?")
_NEWEST_NOTIFICATION = sql.select("MAX(n.id) AS newest", from_="notification n").where(sql.GIVEN)


async def latest_ticket_event(ticket_pk: int) -> int:
    """The newest event of a ticket's history (0 without any)."""
    rows = await _NEWEST_OF_TICKET.fetch(ticket_pk)
    return rows[0]["newest"] or 0


async def latest_notification(context: Context) -> int:
    """The viewer's newest notification (0 without any)."""
    mine = access.visible_notifications_condition(context.require_viewer(), "n", 1)
    rows = await _NEWEST_NOTIFICATION.fetch(mine)
    return rows[0]["newest"] or 0


async def latest_change() -> int:
    """The newest history event of any ticket: an approval request's changes are history
    events (see approval_feed), so nothing changed after this one yet."""
    rows = await _NEWEST_EVENT.fetch()
    return rows[0]["newest"] or 0
