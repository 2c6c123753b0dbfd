"""The approver's feed (approvalRequestAssigned): the requests assigned to the viewer, in
the order of their changes, and the replay of what a reconnecting approver missed.

Every change to an approval request — asked (which assigns it to its approvers), commented,
approved, denied, withdrawn — is an event of its ticket's history that names the request
(`ticket_event.approval_request_id`), written in the transaction of the change. A request's
*change key* is the id of its latest such event, so "changed after K" is "change key > K":
a stored ordering key no change escapes, and the same on every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guichet.resolvers import access, ids, sql
from guichet.resolvers.approvals.approvals import APPROVAL, ApprovalRow
from guichet.resolvers.errors import BadRequest

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# Requests read per replay statement.
REPLAY_BATCH = 200


@dataclass(frozen=True, slots=True)
class Change:
    """A request assigned to the viewer, as of its latest change."""

    request: ApprovalRow
    key: int


async def replay_start(context: Context, after: str | None) -> int | None:
    """The change key an `after` stands for.

    - an approval request's id: the moment it was assigned to the viewer (its first history
      event), so the replay holds every request assigned after it and every change made
      after it to any request of the viewer's (that one included);
    - a history event's id or cursor (as `ticketHistory` and `Ticket.history` give them):
      the changes recorded after that event.
    """
    if after is None:
        return None
    request_pk = ids.decode_as(after, "ApprovalRequest")
    if request_pk is not None:
        rows = await _ASSIGNED_AT.fetch(request_pk, context.require_viewer().id)
        if rows[0]["assigned"] is None:
            raise BadRequest("`after` names no approval request assigned to you.")
        return rows[0]["assigned"]
    key = ids.decode_cursor(after) or ids.decode_as(after, "TicketEvent")
    if key is None:
        raise BadRequest(
            "`after` takes an approval request's id, or a history event's id or cursor."
        )
    return key


def _assigned(column: str) -> str:
    """`column` (a request id) names a request the user given is an approver of."""
    return f"{column} IN (SELECT a.request_id FROM approval_approver a WHERE a.user_id = ?)"


_ASSIGNED_AT = sql.select("MIN(e.id) AS assigned", from_="ticket_event e").where(
    "e.approval_request_id = ?", _assigned("e.approval_request_id")
)
# A request's change key: its latest history event.
_CHANGE_KEYS = (
    sql.select(
        "e.approval_request_id AS request_id", "MAX(e.id) AS change_key", from_="ticket_event e"
    )
    .where(_assigned("e.approval_request_id"))
    .group("e.approval_request_id")
)
_CHANGES_AFTER = (
    sql.select(
        APPROVAL,
        "k.change_key",
        from_=sql.statement(f"{APPROVAL} JOIN", _CHANGE_KEYS.as_("k"), "ON k.request_id = r.id"),
    )
    .where("k.change_key > ?", sql.GIVEN)
    .order("k.change_key")
    .limit()
)
_CHANGE_OF = sql.select(
    APPROVAL,
    "(SELECT MAX(e.id) FROM ticket_event e WHERE e.approval_request_id = r.id) AS change_key",
).where("r.id = ?", _assigned("r.id"), sql.GIVEN)


async def changes_after(context: Context, key: int) -> list[Change]:
    """Replay: the viewer's requests whose change key is above `key`, in change order."""
    viewer = context.require_viewer()
    visible = access.visible_approvals_condition(viewer, "r", 1)
    found: list[Change] = []
    while True:
        rows = await _CHANGES_AFTER.fetch(viewer.id, key, visible, REPLAY_BATCH)
        found += [Change(APPROVAL.row(r), r["change_key"]) for r in rows]
        if len(rows) < REPLAY_BATCH:
            return found
        key = rows[-1]["change_key"]


async def change_of(context: Context, request_pk: int) -> Change | None:
    """Live: the request as it is now, if it is assigned to the viewer (None otherwise)."""
    if not 0 < request_pk <= ids.MAX_KEY:
        return None
    viewer = context.require_viewer()
    visible = access.visible_approvals_condition(viewer, "r", 1)
    rows = await _CHANGE_OF.fetch(request_pk, viewer.id, visible)
    if not rows:
        return None
    return Change(APPROVAL.row(rows[0]), rows[0]["change_key"] or 0)
