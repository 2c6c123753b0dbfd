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

from guichet.resolvers import access, ids
from guichet.resolvers.approvals.approvals import APPROVAL_COLUMNS, ApprovalRow, approval_row
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.sql import fetch

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
        rows = await fetch(
            "SELECT MIN(e.id) AS assigned FROM ticket_event e WHERE e.approval_request_id = $1"
            f" AND {_assigned('e.approval_request_id', 2)}",
            request_pk,
            context.require_viewer().id,
        )
        if rows[0]["assigned"] is None:
            raise BadRequest("`after` names no approval request assigned to you.")
        return rows[0]["assigned"]
    key = ids.decode_cursor(after) or ids.decode_as(after, "TicketEvent")
    if key is None:
        raise BadRequest(
            "`after` takes an approval request's id, or a history event's id or cursor."
        )
    return key


def _assigned(column: str, param: int) -> str:
    """`column` (a request id) names a request the user `$param` is an approver of."""
    return f"{column} IN (SELECT a.request_id FROM approval_approver a WHERE a.user_id = ${param})"


async def changes_after(context: Context, key: int) -> list[Change]:
    """Replay: the viewer's requests whose change key is above `key`, in change order."""
    viewer = context.require_viewer()
    condition, params = access.visible_approvals_condition(viewer, "r", 4)
    found: list[Change] = []
    while True:
        rows = await fetch(
            f"SELECT {APPROVAL_COLUMNS}, k.change_key FROM approval_request r JOIN"
            " (SELECT e.approval_request_id AS request_id, MAX(e.id) AS change_key"
            f" FROM ticket_event e WHERE {_assigned('e.approval_request_id', 1)}"
            " GROUP BY e.approval_request_id) k ON k.request_id = r.id"
            f" WHERE k.change_key > $2 AND {condition} ORDER BY k.change_key LIMIT $3",
            viewer.id,
            key,
            REPLAY_BATCH,
            *params,
        )
        found += [Change(approval_row(r), r["change_key"]) for r in rows]
        if len(rows) < REPLAY_BATCH:
            return found
        key = rows[-1]["change_key"]


async def change_of(context: Context, request_pk: int) -> Change | None:
    """Live: the request as it is now, if it is assigned to the viewer (None otherwise)."""
    if not 0 < request_pk <= ids.MAX_KEY:
        return None
    viewer = context.require_viewer()
    condition, params = access.visible_approvals_condition(viewer, "r", 3)
    rows = await fetch(
        f"SELECT {APPROVAL_COLUMNS}, (SELECT MAX(e.id) FROM ticket_event e"
        " WHERE e.approval_request_id = r.id) AS change_key FROM approval_request r"
        f" WHERE r.id = $1 AND {_assigned('r.id', 2)} AND {condition}",
        request_pk,
        viewer.id,
        *params,
    )
    if not rows:
        return None
    return Change(approval_row(rows[0]), rows[0]["change_key"] or 0)
