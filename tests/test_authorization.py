"""Every root field, from every role's side.

Each root field of the schema has a case here: who may call it and who gets FORBIDDEN
(or UNAUTHENTICATED without credentials). `test_every_root_field_has_an_authorization_case`
fails when a field is added to the schema without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from guichet.resolvers.context import Context
from guichet.schema.root import build_schema
from tests.conftest import error_codes

STAFF = frozenset({"LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"})
AGENTS = frozenset({"AGENT", "ADMIN", "OWNER"})
ADMINS = frozenset({"ADMIN", "OWNER"})
EVERYONE = frozenset({"END_USER"}) | STAFF
ROLES = ["END_USER", "LIGHT_AGENT", "AGENT", "ADMIN", "OWNER", None]  # None: no credentials


@dataclass(frozen=True)
class Case:
    document: str
    allowed: frozenset[str]
    anonymous_allowed: bool = False
    # A subscription that sends a first message at once (its refusal comes in it).
    answers_at_once: bool = False


CASES: dict[str, Case] = {
    "Query.node": Case('{ node(id: "VXNlcjox") { id } }', EVERYONE),
    "Query.me": Case("{ me { id } }", EVERYONE),
    "Mutation.login": Case(
        'mutation { login(input: {email: "x@y.test", password: "nope"}) { token } }',
        EVERYONE,
        anonymous_allowed=True,
    ),
    "Mutation.logout": Case("mutation { logout { errors { code } } }", EVERYONE),
    "Mutation.changePassword": Case(
        'mutation { changePassword(input: {currentPassword: "wrong", newPassword: "long enough pass"}) { token } }',
        EVERYONE,
    ),
    # A forgotten password is reset without signing in: anyone may ask, or use a link.
    "Mutation.requestPasswordReset": Case(
        'mutation { requestPasswordReset(input: {email: "nobody@x.test"}) { accepted } }',
        EVERYONE,
        anonymous_allowed=True,
    ),
    "Mutation.resetPassword": Case(
        'mutation { resetPassword(input: {token: "nope", newPassword: "long enough pass"}) { errors { code } } }',
        EVERYONE,
        anonymous_allowed=True,
    ),
    "Mutation.requestSignUp": Case(
        'mutation { requestSignUp(input: {name: "N", email: "new@x.test"}) { accepted } }',
        EVERYONE,
        anonymous_allowed=True,
    ),
    "Mutation.completeSignUp": Case(
        'mutation { completeSignUp(input: {token: "nope", password: "long enough pass"}) { errors { code } } }',
        EVERYONE,
        anonymous_allowed=True,
    ),
    "Mutation.createUser": Case(
        'mutation { createUser(input: {name: "N", email: "n@x.test", role: END_USER}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.createOrganization": Case(
        'mutation { createOrganization(input: {name: "New Org"}) { errors { code } } }', ADMINS
    ),
    "Mutation.createGroup": Case(
        'mutation { createGroup(input: {name: "New Group"}) { errors { code } } }', ADMINS
    ),
    "Mutation.addOrganizationMember": Case(
        'mutation { addOrganizationMember(input: {organizationId: "x", userId: "y"}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.removeOrganizationMember": Case(
        'mutation { removeOrganizationMember(input: {organizationId: "x", userId: "y"}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.addGroupMember": Case(
        'mutation { addGroupMember(input: {groupId: "x", userId: "y"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.removeGroupMember": Case(
        'mutation { removeGroupMember(input: {groupId: "x", userId: "y"}) { errors { code } } }',
        ADMINS,
    ),
    "Subscription.notifications": Case("subscription { notifications { kind } }", EVERYONE),
    "Query.notifications": Case("{ notifications { totalCount unreadCount } }", EVERYONE),
    "Query.mailMessages": Case("{ mailMessages { totalCount } }", ADMINS),
    "Mutation.markNotificationsRead": Case(
        "mutation { markNotificationsRead(input: {}) { unreadCount errors { code } } }", EVERYONE
    ),
    "Query.tickets": Case("{ tickets { totalCount } }", EVERYONE),
    "Query.ticketStats": Case("{ ticketStats(groupBy: [STATUS]) { count } }", AGENTS),
    "Query.responseTimes": Case("{ responseTimes(groupBy: [PRIORITY]) { tickets } }", AGENTS),
    "Query.satisfactionBreakdown": Case(
        "{ satisfactionBreakdown(groupBy: [AGENT]) { good bad score } }", AGENTS
    ),
    "Query.ticket": Case("{ ticket(number: 1) { id } }", EVERYONE),
    "Query.customFields": Case("{ customFields { key } }", EVERYONE),
    # The directory: agents find people and organizations; light agents read groups only.
    "Query.users": Case('{ users(filter: {query: "a"}) { totalCount } }', AGENTS),
    "Query.organizations": Case("{ organizations { totalCount } }", AGENTS),
    "Query.groups": Case("{ groups { id } }", STAFF),
    "Mutation.updateUser": Case(
        'mutation { updateUser(input: {id: "VXNlcjo5OTk", name: "N"}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.deactivateUser": Case(
        'mutation { deactivateUser(input: {id: "VXNlcjo5OTk"}) { errors { code } } }', ADMINS
    ),
    "Mutation.reactivateUser": Case(
        'mutation { reactivateUser(input: {id: "VXNlcjo5OTk"}) { errors { code } } }', ADMINS
    ),
    "Mutation.updateOrganization": Case(
        'mutation { updateOrganization(input: {id: "T3JnYW5pemF0aW9uOjk5OQ", name: "N"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.deactivateOrganization": Case(
        'mutation { deactivateOrganization(input: {id: "T3JnYW5pemF0aW9uOjk5OQ"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.updateGroup": Case(
        'mutation { updateGroup(input: {id: "R3JvdXA6OTk5", name: "N"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.deactivateGroup": Case(
        'mutation { deactivateGroup(input: {id: "R3JvdXA6OTk5"}) { errors { code } } }', ADMINS
    ),
    "Mutation.updateCustomField": Case(
        'mutation { updateCustomField(input: {id: "Q3VzdG9tRmllbGQ6OTk5", title: "T"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.deactivateCustomField": Case(
        'mutation { deactivateCustomField(input: {id: "Q3VzdG9tRmllbGQ6OTk5"}) { errors { code } } }',
        ADMINS,
    ),
    "Query.timeStats": Case("{ timeStats(groupBy: [AGENT]) { minutes } }", AGENTS),
    "Mutation.logTime": Case(
        'mutation { logTime(input: {ticketId: "VGlja2V0Ojk5OQ", minutes: 5}) { errors { code } } }',
        AGENTS,
    ),
    # An agent asking about an entry that is not theirs gets NOT_FOUND, not FORBIDDEN.
    "Mutation.updateTimeEntry": Case(
        'mutation { updateTimeEntry(input: {id: "VGltZUVudHJ5Ojk5OQ", minutes: 5}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.deleteTimeEntry": Case(
        'mutation { deleteTimeEntry(input: {id: "VGltZUVudHJ5Ojk5OQ"}) { errors { code } } }',
        AGENTS,
    ),
    "Mutation.setHourlyRate": Case(
        'mutation { setHourlyRate(input: {agentId: "VXNlcjo5OTk", cents: 5000}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.markBilled": Case(
        'mutation { markBilled(input: {entryIds: ["VGltZUVudHJ5Ojk5OQ"], invoiceRef: "INV-1"}) { errors { code } } }',
        ADMINS,
    ),
    "Mutation.createTicket": Case(
        'mutation { createTicket(input: {subject: "", description: ""}) { errors { code } } }',
        frozenset({"END_USER"}) | AGENTS,
    ),
    "Mutation.updateTicket": Case(
        'mutation { updateTicket(input: {id: "VGlja2V0Ojk5OQ"}) { errors { code } } }',
        frozenset({"END_USER"}) | AGENTS,
    ),
    "Mutation.addComment": Case(
        'mutation { addComment(input: {ticketId: "VGlja2V0Ojk5OQ", body: "x"}) { errors { code } } }',
        EVERYONE,
    ),
    # Staff solve through updateTicket(status: SOLVED) (issue 13).
    "Mutation.markSolved": Case(
        'mutation { markSolved(ticketId: "VGlja2V0Ojk5OQ") { errors { code } } }',
        frozenset({"END_USER"}),
    ),
    "Mutation.updateProfile": Case(
        'mutation { updateProfile(input: {phone: "nope"}) { errors { code } } }', EVERYONE
    ),
    # Staff follow any organization; a customer only their own sharing one (the rule's
    # NOT_FOUND / NOT_SHARED, not FORBIDDEN).
    "Mutation.subscribeToOrganization": Case(
        'mutation { subscribeToOrganization(input: {organizationId: "T3JnYW5pemF0aW9uOjk5OQ"}) { errors { code } } }',
        EVERYONE,
    ),
    "Mutation.unsubscribeFromOrganization": Case(
        'mutation { unsubscribeFromOrganization(input: {organizationId: "T3JnYW5pemF0aW9uOjk5OQ"}) { errors { code } } }',
        EVERYONE,
    ),
    "Mutation.createFollowUp": Case(
        'mutation { createFollowUp(input: {ticketId: "VGlja2V0Ojk5OQ", description: "x"}) { errors { code } } }',
        frozenset({"END_USER"}) | AGENTS,
    ),
    "Mutation.createCustomField": Case(
        'mutation { createCustomField(input: {key: "k", title: "K", type: TEXT, visibility: PUBLIC}) { errors { code } } }',
        ADMINS,
    ),
    "Subscription.ticketHistory": Case(
        'subscription { ticketHistory(ticketId: "VGlja2V0Ojk5OQ") { kind } }', EVERYONE
    ),
    "Query.myApprovalRequests": Case("{ myApprovalRequests { totalCount } }", EVERYONE),
    "Mutation.requestApproval": Case(
        'mutation { requestApproval(input: {ticketId: "VGlja2V0Ojk5OQ", approverIds: [], subject: "s", message: "m"}) { errors { code } } }',
        AGENTS,
    ),
    # Any role may answer or withdraw: who is not an approver (the asker, an admin) gets
    # NOT_FOUND, not FORBIDDEN, so nobody learns a request exists.
    "Mutation.respondToApproval": Case(
        'mutation { respondToApproval(input: {id: "QXBwcm92YWxSZXF1ZXN0Ojk5OQ", decision: APPROVE}) { errors { code } } }',
        EVERYONE,
    ),
    "Mutation.withdrawApproval": Case(
        'mutation { withdrawApproval(id: "QXBwcm92YWxSZXF1ZXN0Ojk5OQ") { errors { code } } }',
        EVERYONE,
    ),
    "Subscription.approvalRequestAssigned": Case(
        "subscription { approvalRequestAssigned { id } }", EVERYONE
    ),
    "Query.myActivities": Case("{ myActivities { id } }", STAFF),
    "Mutation.addActivity": Case(
        'mutation { addActivity(input: {ticketId: "VGlja2V0Ojk5OQ", kind: TASK, subject: "s"}) { errors { code } } }',
        STAFF,
    ),
    "Mutation.updateActivity": Case(
        'mutation { updateActivity(input: {id: "QWN0aXZpdHk6OTk5", subject: "s"}) { errors { code } } }',
        STAFF,
    ),
    "Query.suggestArticles": Case('{ suggestArticles(query: "printer") { id } }', EVERYONE),
    "Query.satisfactionStats": Case("{ satisfactionStats { good bad score } }", AGENTS),
    "Mutation.setResolution": Case(
        'mutation { setResolution(input: {ticketId: "VGlja2V0Ojk5OQ", body: "b"}) { errors { code } } }',
        AGENTS,
    ),
    # Anyone may try to rate: who is not the requester gets a NOT_REQUESTER payload error
    # (or NOT_FOUND for a ticket they cannot see), not FORBIDDEN.
    "Mutation.rateSatisfaction": Case(
        'mutation { rateSatisfaction(input: {ticketId: "VGlja2V0Ojk5OQ", score: GOOD}) { errors { code } } }',
        EVERYONE,
    ),
    "Mutation.updateArticle": Case(
        'mutation { updateArticle(input: {id: "QXJ0aWNsZTo5OTk", published: false}) { errors { code } } }',
        AGENTS,
    ),
    # Settings, ownership and impersonation: admins, and the owner alone hands over.
    "Query.settings": Case("{ settings { timeZone } }", ADMINS),
    "Mutation.updateSettings": Case(
        "mutation { updateSettings(input: {csatWindowDays: -1}) { errors { code } } }", ADMINS
    ),
    "Mutation.transferOwnership": Case(
        'mutation { transferOwnership(input: {toUserId: "VXNlcjo5OTk"}) { errors { code } } }',
        frozenset({"OWNER"}),
    ),
    "Mutation.impersonate": Case(
        'mutation { impersonate(input: {userId: "VXNlcjo5OTk", reason: "r"}) { errors { code } } }',
        ADMINS,
    ),
}

CASES.update(
    {
        "Query.views": Case("{ views { id name count } }", STAFF),
        "Query.dashboard": Case("{ dashboard { myOpenTickets views { count } } }", STAFF),
        "Mutation.createView": Case(
            'mutation { createView(input: {name: "V", scope: PERSONAL, filter: {}}) { errors { code } } }',
            AGENTS,
        ),
        "Mutation.updateView": Case(
            'mutation { updateView(input: {id: "Vmlldzo5OTk", hidden: true}) { errors { code } } }',
            STAFF,
        ),
        "Mutation.deleteView": Case(
            'mutation { deleteView(input: {id: "Vmlldzo5OTk"}) { errors { code } } }', AGENTS
        ),
        "Subscription.viewCounts": Case(
            "subscription { viewCounts { count } }", STAFF, answers_at_once=True
        ),
    }
)

ACCESS_CODES = {"FORBIDDEN", "UNAUTHENTICATED"}


def root_fields() -> list[str]:
    schema = build_schema()._schema
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    return sorted(f"{root.name}.{name}" for root in roots if root for name in root.fields)


def test_every_root_field_has_an_authorization_case():
    missing = sorted(set(root_fields()) - set(CASES))
    assert not missing, (
        f"root fields without an authorization case in tests/test_authorization.py: {missing}"
    )


async def _run(gql, app, case: Case, person) -> list[str]:
    if case.document.startswith("subscription"):
        viewer = person.viewer if person else None
        context = Context(app.state.settings, viewer, app.state.bus)
        stream = await app.state.schema.subscribe(case.document, context_value=context)
        if not hasattr(stream, "__anext__"):  # refused before the stream started
            return [e.extensions.get("code") for e in stream.errors or []]
        if viewer is not None and not case.answers_at_once:
            await stream.aclose()  # allowed: the stream is open and waiting for events
            return []
        first = await stream.__anext__()
        await stream.aclose()
        return [e.extensions.get("code") for e in first.errors or []]
    return error_codes(await gql(case.document, as_=person))


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("field", sorted(CASES))
async def test_root_field_authorization(gql, app, everyone, field, role):
    case = CASES[field]
    person = everyone[role] if role else None
    codes = set(await _run(gql, app, case, person))
    if role is None:
        if case.anonymous_allowed:
            assert not codes & ACCESS_CODES
        else:
            assert "UNAUTHENTICATED" in codes
    elif role in case.allowed:
        assert not codes & ACCESS_CODES, codes
    else:
        assert "FORBIDDEN" in codes
