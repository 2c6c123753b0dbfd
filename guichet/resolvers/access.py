"""Who may see what: the one place that decides.

Role checks and the SQL conditions of visibility. Lists, batch functions and each
domain's loads by id (`tickets.ticket_for_viewer`, ...) take their conditions from here;
nothing else re-implements these rules. A leaf: it imports no domain module, so every
domain may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guichet.models.people import Role
from guichet.models.views import ViewScope
from guichet.resolvers.errors import Forbidden
from guichet.resolvers.sql import fetch

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer


def require_role(viewer: Viewer, role: Role) -> None:
    if not viewer.at_least(role):
        raise Forbidden()


def roles_creatable_by(viewer: Viewer) -> frozenset[Role]:
    """Agents add customers; admins add anyone but an owner (there is one, made by the CLI)."""
    if viewer.at_least(Role.ADMIN):
        return frozenset(r for r in Role if r is not Role.OWNER)
    if viewer.at_least(Role.AGENT):
        return frozenset({Role.END_USER})
    return frozenset()


def may_list_people(viewer: Viewer) -> bool:
    """The directory of users and organizations: agents and above (not light agents)."""
    return viewer.at_least(Role.AGENT)


def may_change_user(viewer: Viewer, target_role: Role) -> bool:
    """Agents change customers' details; admins anyone below the owner (the owner's own
    details change through their profile, their role only by a transfer of ownership)."""
    if target_role is Role.OWNER:
        return False
    if viewer.at_least(Role.ADMIN):
        return True
    return viewer.at_least(Role.AGENT) and target_role is Role.END_USER


def may_change_roles_and_groups(viewer: Viewer) -> bool:
    return viewer.at_least(Role.ADMIN)


def counts_as_admin(role: Role) -> bool:
    """Who keeps the help desk administrable: admins and the owner."""
    return role.at_least(Role.ADMIN)


def may_be_impersonated(role: Role) -> bool:
    """Admins impersonate agents, light agents and customers; never an admin or the owner."""
    return not role.at_least(Role.ADMIN)


def may_see_impersonations(viewer: Viewer, user_pk: int) -> bool:
    """Who signed in as a user: the user themself (they can see it happened) and admins."""
    return viewer.id == user_pk or (viewer.at_least(Role.ADMIN) and viewer.impersonator_id is None)


def may_read_impersonation_reasons(viewer: Viewer) -> bool:
    """Why an admin impersonated someone is for admins (the audit trail's reader)."""
    return viewer.at_least(Role.ADMIN) and viewer.impersonator_id is None


def may_see_impersonator(viewer: Viewer, actor_pk: int | None) -> bool:
    """Which admin acted through an impersonation: staff, and the impersonated person."""
    return viewer.is_agent or (actor_pk is not None and viewer.id == actor_pk)


def can_read_email(viewer: Viewer, user_pk: int) -> bool:
    """A user's e-mail address: to themself and to staff."""
    return viewer.is_agent or viewer.id == user_pk


def readable_email_condition(viewer: Viewer, column: str, param: int) -> tuple[str, list]:
    """`can_read_email` as SQL, on `column` (a user id)."""
    if viewer.is_agent:
        return "TRUE", []
    return f"{column} = ${param}", [viewer.id]


def visible_users_condition(viewer: Viewer, column: str, param: int) -> tuple[str, list]:
    """SQL condition on `column` (a user id) for the users the viewer may look up:
    staff see everyone; a customer sees themself and the members of organizations
    they belong to that share tickets."""
    if viewer.is_agent:
        return "TRUE", []
    return (
        f"({column} = ${param} OR {column} IN ("
        "SELECT peer.user_id FROM organization_member mine"
        " JOIN organization o ON o.id = mine.organization_id AND o.shared_tickets = TRUE"
        " JOIN organization_member peer ON peer.organization_id = mine.organization_id"
        f" WHERE mine.user_id = ${param}))",
        [viewer.id],
    )


def visible_organizations_condition(viewer: Viewer, column: str, param: int) -> tuple[str, list]:
    """Staff see every organization; a customer only those they belong to."""
    if viewer.is_agent:
        return "TRUE", []
    return (
        f"{column} IN (SELECT organization_id FROM organization_member WHERE user_id = ${param})",
        [viewer.id],
    )


def can_see_groups(viewer: Viewer) -> bool:
    return viewer.is_agent


def can_read_profile(viewer: Viewer, user_pk: int) -> bool:
    """A user's phone number and default organization: like their e-mail address, to
    themself and to staff."""
    return can_read_email(viewer, user_pk)


def may_follow_organization(viewer: Viewer, *, member: bool, shares_tickets: bool) -> bool:
    """Following every request of an organization: staff (light agents included: they read
    every ticket) follow any organization; a customer only one they belong to that shares
    its tickets, since the requests of any other are not theirs to see."""
    return viewer.is_agent or (member and shares_tickets)


def subscription_no_longer_allowed_condition(alias: str) -> str:
    """`may_follow_organization` turned false, as SQL on organization_subscription `alias`:
    a customer's subscription to an organization they left or that stopped sharing."""
    staff = ", ".join(f"'{r.value}'" for r in Role if r.at_least(Role.LIGHT_AGENT))
    return (
        f'{alias}.user_id IN (SELECT u.id FROM "user" u WHERE u.role NOT IN ({staff}))'
        " AND NOT EXISTS (SELECT 1 FROM organization_member m"
        " JOIN organization o ON o.id = m.organization_id"
        f" WHERE m.user_id = {alias}.user_id AND m.organization_id = {alias}.organization_id"
        " AND o.shared_tickets)"
    )


# ---------------------------------------------------------------- tickets


def visible_tickets_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """SQL condition on ticket `alias` for the tickets the viewer may see — the one
    deny-by-default rule every ticket list, loader, search and subscription starts from.

    Staff see every ticket. A customer sees the tickets they requested or are CC'd on,
    every ticket of an organization they belong to that shares its tickets, and (read
    only: see `customer_participates`) the tickets of approval requests they decide."""
    if viewer.is_agent:
        return "TRUE", []
    participates, params = participation_condition(viewer, alias, param)
    p = f"${param}"
    return (
        f"({participates} OR {alias}.id IN (SELECT r.ticket_id FROM approval_request r"
        f" JOIN approval_approver a ON a.request_id = r.id WHERE a.user_id = {p}))",
        params,
    )


def participation_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """SQL condition on ticket `alias` for the tickets a customer takes part in (requester,
    CC, member of a sharing organization): those they may write on, not only read."""
    p = f"${param}"
    return (
        f"({alias}.requester_id = {p}"
        f" OR {alias}.id IN (SELECT cc.ticket_id FROM ticket_cc cc WHERE cc.user_id = {p})"
        f" OR {alias}.organization_id IN (SELECT m.organization_id FROM organization_member m"
        " JOIN organization o ON o.id = m.organization_id AND o.shared_tickets = TRUE"
        f" WHERE m.user_id = {p}))",
        [viewer.id],
    )


async def customer_participates(viewer: Viewer, ticket_pk: int) -> None:
    """Customers write (reply, add CCs…) only on tickets they take part in; an approver
    who only decides may read the ticket but not write on it."""
    if viewer.is_agent:
        return
    condition, params = participation_condition(viewer, "t", 2)
    if not await fetch(
        f"SELECT 1 AS yes FROM ticket t WHERE t.id = $1 AND {condition}", ticket_pk, *params
    ):
        raise Forbidden("You may read this ticket to decide an approval, not write on it.")


def visible_approvals_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """Staff see every approval request; a customer only those they are asked to decide."""
    if viewer.is_agent:
        return "TRUE", []
    return (
        f"{alias}.id IN (SELECT a.request_id FROM approval_approver a WHERE a.user_id = ${param})",
        [viewer.id],
    )


def visible_comments_condition(viewer: Viewer, alias: str) -> str:
    """Internal notes are for staff only."""
    return "TRUE" if viewer.is_agent else f"{alias}.public = TRUE"


def visible_events_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """History events about internal things are for staff only; a customer also sees the
    events of the approval requests they decide."""
    if viewer.is_agent:
        return "TRUE", []
    return (
        f"({alias}.public = TRUE OR {alias}.approval_request_id IN"
        f" (SELECT a.request_id FROM approval_approver a WHERE a.user_id = ${param}))",
        [viewer.id],
    )


# ---------------------------------------------------------------- live events, in memory
#
# A live event is shaped once per visibility class and written to every subscriber of the
# class (subscriptions/fanout.py). These decide, without SQL per subscriber, what the SQL
# conditions above decide for one viewer: `ticket_audience` reads, once per event, who
# among customers may see the ticket (visible_tickets_condition) and the event
# (visible_events_condition).


def visibility_class(viewer: Viewer) -> tuple[str, int | str]:
    """Viewers who see exactly the same answer to any selection under a ticket: staff by
    role (no field reachable from a ticket depends on which staff member asks, only on
    their role), each customer alone (their organizations, CCs, approvals, e-mail address
    and satisfaction ratings are theirs)."""
    if viewer.is_agent:
        return ("staff", viewer.role.value)
    return ("customer", viewer.id)


@dataclass(frozen=True, slots=True)
class TicketAudience:
    """The customers who may see one ticket, and the approvers of one approval request."""

    readers: frozenset[int]
    approvers: frozenset[int]


async def ticket_audience(ticket_pk: int, approval_request_pk: int | None) -> TicketAudience:
    """One statement: the customers `visible_tickets_condition` lets see the ticket
    (requester, CCs, members of its organization when it shares tickets, approvers of its
    requests) and the approvers of `approval_request_pk` (who see its events)."""
    rows = await fetch(
        "SELECT 'r' AS side, t.requester_id AS user_id FROM ticket t WHERE t.id = $1"
        " UNION ALL SELECT 'r', cc.user_id FROM ticket_cc cc WHERE cc.ticket_id = $1"
        " UNION ALL SELECT 'r', m.user_id FROM ticket t"
        " JOIN organization o ON o.id = t.organization_id AND o.shared_tickets = TRUE"
        " JOIN organization_member m ON m.organization_id = o.id WHERE t.id = $1"
        " UNION ALL SELECT 'r', a.user_id FROM approval_request r"
        " JOIN approval_approver a ON a.request_id = r.id WHERE r.ticket_id = $1"
        " UNION ALL SELECT 'a', a.user_id FROM approval_approver a WHERE a.request_id = $2",
        ticket_pk,
        approval_request_pk if approval_request_pk is not None else 0,
    )
    readers = frozenset(r["user_id"] for r in rows if r["side"] == "r")
    approvers = frozenset(r["user_id"] for r in rows if r["side"] == "a")
    return TicketAudience(readers, approvers)


def sees_ticket(viewer: Viewer, audience: TicketAudience | None) -> bool:
    """`visible_tickets_condition`, for one ticket whose audience is known."""
    return viewer.is_agent or (audience is not None and viewer.id in audience.readers)


def sees_ticket_change(viewer: Viewer, public: bool, audience: TicketAudience | None) -> bool:
    """Whether someone told of a change to a ticket (a comment, an update) may see it: staff
    see every ticket and internal note; a customer only a public change of a ticket they see
    (`visible_tickets_condition`, `visible_comments_condition`)."""
    return viewer.is_agent or (public and audience is not None and viewer.id in audience.readers)


def sees_event(viewer: Viewer, public: bool, audience: TicketAudience | None) -> bool:
    """`visible_events_condition`, for one event of a ticket the viewer sees."""
    return viewer.is_agent or public or (audience is not None and viewer.id in audience.approvers)


def cc_emails_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """SQL condition on ticket `alias` for reading the addresses of its CCs: staff, and the
    customers who take part in it (requester, CC, member of its sharing organization); an
    approver who only reads the ticket does not see who else is copied."""
    if viewer.is_agent:
        return "TRUE", []
    return participation_condition(viewer, alias, param)


def may_read_mail_log(viewer: Viewer) -> bool:
    """The mail log (every message in and out, addresses included): admins and the owner."""
    return viewer.at_least(Role.ADMIN)


def visible_custom_fields_condition(viewer: Viewer, alias: str) -> str:
    """Customers see and set PUBLIC custom fields only."""
    return "TRUE" if viewer.is_agent else f"{alias}.visibility = 'PUBLIC'"


def may_work_tickets(viewer: Viewer) -> bool:
    """Edit ticket properties and answer publicly: agents and above (not light agents)."""
    return viewer.at_least(Role.AGENT)


# ---------------------------------------------------------------- time entries


def may_track_time(viewer: Viewer) -> bool:
    """Time entries, their costs and billing: agents and above (not light agents)."""
    return viewer.at_least(Role.AGENT)


# ---------------------------------------------------------------- activities


def can_see_activities(viewer: Viewer) -> bool:
    """Activities (tasks, calls, events) are internal: staff, light agents included."""
    return viewer.is_agent


# ---------------------------------------------------------------- notifications


def visible_notifications_condition(viewer: Viewer, alias: str, param: int) -> tuple[str, list]:
    """A notification is for the one user it was written for: nobody else, whatever their
    role, sees it, counts it or marks it read."""
    return f"{alias}.user_id = ${param}", [viewer.id]


# ---------------------------------------------------------------- help center, satisfaction


def visible_articles_condition(viewer: Viewer, alias: str) -> str:
    """Published help-center articles are for everyone signed in; unpublished ones for staff."""
    return "TRUE" if viewer.is_agent else f"{alias}.published = TRUE"


def visible_satisfaction_condition(
    viewer: Viewer, ticket_alias: str, param: int
) -> tuple[str, list]:
    """A ticket's satisfaction rating: for its requester and staff. Other customers who see
    the ticket (members of a sharing organization, CCs) do not see it."""
    if viewer.is_agent:
        return "TRUE", []
    return f"{ticket_alias}.requester_id = ${param}", [viewer.id]


# ---------------------------------------------------------------- saved views


def views_seen_condition(view_alias: str, user_alias: str) -> str:
    """SQL condition: the saved views a user (a row of "user") sees. Staff only: every SHARED
    view (the built-in ones are shared), their own PERSONAL views, the GROUP views of their
    groups; admins and the owner every GROUP view, since they manage them. Nobody sees
    another person's personal views."""
    v, u = view_alias, user_alias
    staff = ", ".join(f"'{r.value}'" for r in Role if r.at_least(Role.LIGHT_AGENT))
    admins = ", ".join(f"'{r.value}'" for r in Role if r.at_least(Role.ADMIN))
    return (
        f"({u}.role IN ({staff}) AND ({v}.scope = 'SHARED'"
        f" OR ({v}.scope = 'PERSONAL' AND {v}.owner_id = {u}.id)"
        f" OR ({v}.scope = 'GROUP' AND ({u}.role IN ({admins}) OR EXISTS (SELECT 1 FROM"
        f" group_member gm WHERE gm.group_id = {v}.group_id AND gm.user_id = {u}.id)))))"
    )


def may_create_view(viewer: Viewer, scope: ViewScope, member_of_group: bool) -> bool:
    """Agents make PERSONAL views, and GROUP views for a group they belong to; admins make
    GROUP views for any group and SHARED views. Light agents use views, never make them."""
    if not viewer.at_least(Role.AGENT):
        return False
    if scope is ViewScope.PERSONAL:
        return True
    if scope is ViewScope.GROUP:
        return member_of_group or viewer.at_least(Role.ADMIN)
    return viewer.at_least(Role.ADMIN)


def may_change_view(
    viewer: Viewer, scope: ViewScope, owner_pk: int | None, member_of_group: bool, built_in: bool
) -> bool:
    """Rename, refilter or delete a view: whoever may make one like it (a personal view: its
    owner only). The built-in views are nobody's to change; anyone who sees a view may still
    hide or move it for themselves (a `ViewPreference`)."""
    if built_in:
        return False
    if scope is ViewScope.PERSONAL:
        return viewer.at_least(Role.AGENT) and owner_pk == viewer.id
    return may_create_view(viewer, scope, member_of_group)
