"""One gate for every change to a ticket.

Every mutation that changes a ticket (or writes on it: comments, approvals, activities,
time, resolutions, ratings, follow-ups) asks `ticket_for_change` for its ticket, inside
its own transaction. The gate reads the ticket once, locked (`SELECT … FOR UPDATE` on
PostgreSQL; SQLite has a single writer), and refuses in one order for every rule:

1. the viewer's role may not do this action at all: Forbidden (before any lookup, so a
   role that may never act learns nothing about ids);
2. the ticket is missing or hidden from the viewer: NotFound, alike;
3. a customer who may only read it (an approver who does not take part): Forbidden;
4. the ticket is CLOSED and the action changes it: TICKET_CLOSED, one message, one code.

Then it hands the locked row to the rule, which keeps its own business checks (who is the
requester, which status, which fields a customer may set…). The table `POLICIES` is the
one place that says, per action, which of these apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.models.tickets import Ticket, TicketStatus
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import Forbidden, NotFound, Refused, UserError
from guichet.resolvers.tickets.tickets import TicketErrorCode

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

CLOSED_MESSAGE = "The ticket is closed: nothing changes any more; create a follow-up instead."


class TicketAction(StrEnum):
    UPDATE = "UPDATE"  # updateTicket
    COMMENT = "COMMENT"  # addComment
    MARK_SOLVED = "MARK_SOLVED"  # markSolved
    REQUEST_APPROVAL = "REQUEST_APPROVAL"  # requestApproval
    FOLLOW_UP = "FOLLOW_UP"  # createFollowUp (on the closed ticket it follows)
    RESOLVE = "RESOLVE"  # setResolution
    RATE = "RATE"  # rateSatisfaction
    ADD_ACTIVITY = "ADD_ACTIVITY"  # addActivity
    UPDATE_ACTIVITY = "UPDATE_ACTIVITY"  # updateActivity (its activity's ticket)
    LOG_TIME = "LOG_TIME"  # logTime


def _anyone(viewer: Viewer) -> bool:
    return True


def _not_a_light_agent(viewer: Viewer) -> bool:
    # Customers pass here: what they may change is the rule's business (and step 3's).
    return not viewer.is_agent or access.may_work_tickets(viewer)


@dataclass(frozen=True, slots=True)
class Policy:
    # Whether the viewer's role may take this action at all, and what a refusal says.
    may: Callable[[Viewer], bool] = _anyone
    refusal: str | None = None
    _: KW_ONLY
    # A customer must take part in the ticket, not only read it as an approver.
    takes_part: bool = False
    # CLOSED is final for this action. Resolutions and ratings are written once a ticket
    # is SOLVED or CLOSED (the domain says so); a follow-up is only for a closed ticket;
    # activities and time entries are internal records kept about the work, which today
    # may still be added after closing.
    closed_is_final: bool = False
    # Where the ticket's id is in the mutation's arguments, for the payload error's field.
    id_path: tuple[str, ...] = ("input", "ticketId")


LIGHT_AGENTS_READ = "Light agents read tickets and write internal notes only."
STAFF_SOLVE_BY_UPDATE = (
    "markSolved is for end users marking their own request solved;"
    " staff solve tickets with updateTicket(input: {status: SOLVED})."
)


STAFF_ACTIVITIES = "Only staff add and update activities."
POLICIES: dict[TicketAction, Policy] = {
    TicketAction.UPDATE: Policy(
        _not_a_light_agent, LIGHT_AGENTS_READ, takes_part=True, closed_is_final=True,
        id_path=("input", "id"),
    ),
    TicketAction.COMMENT: Policy(takes_part=True, closed_is_final=True),
    # Only end users mark solved (staff solve through updateTicket), and of those only the
    # requester: the rule answers NOT_REQUESTER to others. Only the requester rates.
    TicketAction.MARK_SOLVED: Policy(
        lambda v: not v.is_agent, STAFF_SOLVE_BY_UPDATE, closed_is_final=True,
        id_path=("ticketId",),
    ),
    TicketAction.REQUEST_APPROVAL: Policy(
        lambda v: v.at_least(Role.AGENT), "Agents and admins ask for approvals.",
        closed_is_final=True,
    ),
    TicketAction.FOLLOW_UP: Policy(_not_a_light_agent, LIGHT_AGENTS_READ, takes_part=True),
    TicketAction.RESOLVE: Policy(access.may_work_tickets, "Agents and admins write resolutions."),
    TicketAction.RATE: Policy(),
    TicketAction.ADD_ACTIVITY: Policy(access.can_see_activities, STAFF_ACTIVITIES),
    TicketAction.UPDATE_ACTIVITY: Policy(
        access.can_see_activities, STAFF_ACTIVITIES, id_path=("input", "id")
    ),
    TicketAction.LOG_TIME: Policy(
        access.may_track_time, "Agents and admins track time; light agents and customers do not."
    ),
}  # fmt: skip


def closed_error(path: tuple[str, ...] | list[str]) -> UserError:
    """The one answer to a change of a CLOSED ticket."""
    return UserError(CLOSED_MESSAGE, TicketErrorCode.TICKET_CLOSED, list(path))


async def ticket_for_change(context: Context, ticket_id: str | int, action: TicketAction) -> Ticket:
    """The ticket `action` changes, locked until the caller's transaction ends, once the
    viewer may take that action on it. Call it inside the transaction (`in_transaction()`)
    that makes the change, so the row the rule checks is the row it writes.

    `ticket_id` is the client's global id, or the primary key when the rule reached the
    ticket through another object (an activity)."""
    viewer = context.require_viewer()
    policy = POLICIES[action]
    if not policy.may(viewer):
        raise Forbidden(policy.refusal)
    pk = ticket_id if isinstance(ticket_id, int) else ids.decode_as(ticket_id, "Ticket") or 0
    await _may_see(viewer, pk, policy.takes_part)
    ticket = await Ticket.select_for_update().get_or_none(id=pk)
    if ticket is None:
        raise NotFound("No such ticket.")
    if policy.closed_is_final and ticket.status is TicketStatus.CLOSED:
        raise Refused(closed_error(policy.id_path))
    return ticket


_MAY_SEE = sql.select(sql.statement(sql.GIVEN, "AS participates"), from_="ticket t").where(
    "t.id = ?", sql.GIVEN
)


async def _may_see(viewer: Viewer, pk: int, takes_part: bool) -> None:
    """Visibility and participation in one statement (none when `access` says the viewer
    sees every ticket: staff): NotFound when the viewer may not see the ticket; Forbidden
    when a customer only reads it to decide an approval."""
    visible = access.visible_tickets_condition(viewer, "t", 1)
    if visible[0] == "TRUE":
        return
    participates = access.participation_condition(viewer, "t", 1)
    rows = await _MAY_SEE.fetch(participates, pk, visible)
    if not rows:
        raise NotFound("No such ticket.")
    if takes_part and not rows[0]["participates"]:
        raise Forbidden("You may read this ticket to decide an approval, not write on it.")
