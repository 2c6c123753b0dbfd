"""Following an organization (resolvers/people/organization_subscriptions.py): who may,
idempotence, and the notifications of every new and updated request its followers may see."""

from __future__ import annotations

import pytest

from guichet.models.notifications import Notification
from guichet.models.people import OrganizationMember, OrganizationSubscription
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.people import organization_subscriptions
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import commented, make_ticket, updated
from tests.subscriptions.test_notifications import next_notification, subscribe
from tests.subscriptions.test_ticket_history import signed_in, silent, websocket

SUBSCRIBE = """
mutation($input: OrganizationSubscriptionInput!) {
  subscribeToOrganization(input: $input) {
    organization { id name viewerIsSubscribed }
    errors { code field message }
  }
}
"""
UNSUBSCRIBE = """
mutation($input: OrganizationSubscriptionInput!) {
  unsubscribeFromOrganization(input: $input) {
    organization { id viewerIsSubscribed }
    errors { code field message }
  }
}
"""
ORGANIZATION = "query($id: ID!) { node(id: $id) { ... on Organization { viewerIsSubscribed } } }"

CREATED, UPDATED = "ORGANIZATION_TICKET_CREATED", "ORGANIZATION_TICKET_UPDATED"


async def follow(gql, person, organization, document: str = SUBSCRIBE) -> dict:
    result = await gql(document, {"input": {"organizationId": organization.id}}, as_=person)
    return result


async def followed(gql, person, organization) -> dict:
    result = await follow(gql, person, organization)
    payload = result["data"]["subscribeToOrganization"]
    assert payload["errors"] == [], payload
    return payload["organization"]


async def told(person) -> list[tuple[str, int | None]]:
    """The person's notifications about organizations' requests: (kind, ticket pk)."""
    rows = await Notification.filter(user_id=person.row.pk, kind__in=[CREATED, UPDATED]).order_by(
        "id"
    )
    return [(n.kind, n.ticket_id) for n in rows]


def pk_of(ticket: dict) -> int:
    return ids.decode_as(ticket["id"], "Ticket")


# ---------------------------------------------------------------- who may follow


async def test_a_member_follows_their_sharing_organization_once(gql, end_user, org):
    first = await followed(gql, end_user, org)
    again = await followed(gql, end_user, org)
    assert first == again == {"id": org.id, "name": "Acme", "viewerIsSubscribed": True}
    assert await OrganizationSubscription.filter(user_id=end_user.row.pk).count() == 1
    seen = (await gql(ORGANIZATION, {"id": org.id}, as_=end_user))["data"]["node"]
    assert seen == {"viewerIsSubscribed": True}


async def test_unsubscribing_is_idempotent(gql, end_user, org):
    await followed(gql, end_user, org)
    for _ in range(2):
        result = await follow(gql, end_user, org, UNSUBSCRIBE)
        payload = result["data"]["unsubscribeFromOrganization"]
        assert payload == {
            "organization": {"id": org.id, "viewerIsSubscribed": False},
            "errors": [],
        }
    assert await OrganizationSubscription.all().count() == 0


async def test_a_customer_cannot_follow_an_organization_they_are_not_in(gql, other_customer, org):
    result = await follow(gql, other_customer, org)
    assert error_codes(result) == ["NOT_FOUND"]
    assert await OrganizationSubscription.all().count() == 0


async def test_an_organization_that_does_not_share_refuses_its_members(
    gql, other_customer, other_org
):
    result = await follow(gql, other_customer, other_org)
    payload = result["data"]["subscribeToOrganization"]
    assert payload["organization"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_SHARED", ["input", "organizationId"])
    ]
    assert await OrganizationSubscription.all().count() == 0


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_staff_follow_any_organization(gql, everyone, org, other_org, role):
    for organization in (org, other_org):
        assert (await followed(gql, everyone[role], organization))["viewerIsSubscribed"]


async def test_viewer_is_subscribed_is_the_viewers_own(gql, end_user, colleague, agent, org):
    await followed(gql, end_user, org)
    for person, expected in ((end_user, True), (colleague, False), (agent, False)):
        seen = (await gql(ORGANIZATION, {"id": org.id}, as_=person))["data"]["node"]
        assert seen == {"viewerIsSubscribed": expected}


async def test_malformed_or_unknown_organization_is_not_found(gql, agent):
    for bad in ("garbage", "T3JnYW5pemF0aW9uOjk5OQ"):
        result = await gql(SUBSCRIBE, {"input": {"organizationId": bad}}, as_=agent)
        assert error_codes(result) == ["NOT_FOUND"]


# ---------------------------------------------------------------- what followers hear


async def test_followers_hear_of_new_and_updated_requests_but_not_their_own(
    gql, agent, end_user, colleague, org
):
    await followed(gql, colleague, org)
    await followed(gql, agent, org)
    ticket = await make_ticket(gql, end_user)
    assert await told(colleague) == [(CREATED, pk_of(ticket))]
    assert await told(agent) == [(CREATED, pk_of(ticket))]
    await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    assert await told(colleague) == [(CREATED, pk_of(ticket)), (UPDATED, pk_of(ticket))]
    assert await told(agent) == [(CREATED, pk_of(ticket))]  # their own change
    await commented(gql, colleague, ticket["id"], "Same here.")
    assert len(await told(colleague)) == 2  # their own comment
    assert await told(agent) == [(CREATED, pk_of(ticket)), (UPDATED, pk_of(ticket))]
    # Nobody follows: the requester hears nothing of this kind.
    assert await told(end_user) == []


async def test_customers_never_hear_of_internal_changes(
    gql, agent, light_agent, end_user, colleague, admin, org, group
):
    await followed(gql, colleague, org)
    await followed(gql, admin, org)
    ticket = await make_ticket(gql, end_user)
    before = await told(colleague)
    await commented(gql, light_agent, ticket["id"], "Internal: billing issue.")  # a note
    await updated(gql, agent, ticket["id"], groupId=group.id, tags=["vip"])  # internal fields
    assert await told(colleague) == before
    assert [k for k, _ in await told(admin)] == [CREATED, UPDATED, UPDATED]


async def test_a_follower_who_left_the_organization_hears_nothing(gql, end_user, colleague, org):
    await followed(gql, colleague, org)
    await OrganizationMember.filter(organization_id=org.pk, user_id=colleague.row.pk).delete()
    await make_ticket(gql, end_user)
    assert await told(colleague) == []


async def following(person) -> list[int]:
    return await OrganizationSubscription.filter(user_id=person.row.pk).values_list(
        "organization_id", flat=True
    )


@pytest.mark.parametrize("how", ["removeOrganizationMember", "updateUser"])
async def test_a_customer_taken_out_of_the_organization_stops_following_it(
    gql, agent, colleague, org, other_org, how
):
    await followed(gql, colleague, org)
    if how == "removeOrganizationMember":
        document = (
            "mutation($input: OrganizationMembershipInput!) {"
            " removeOrganizationMember(input: $input) { errors { code } } }"
        )
        variables = {"input": {"organizationId": org.id, "userId": colleague.id}}
    else:
        document = (
            "mutation($input: UpdateUserInput!) { updateUser(input: $input) { errors { code } } }"
        )
        variables = {"input": {"id": colleague.id, "organizationIds": [other_org.id]}}
    result = await gql(document, variables, as_=agent)
    assert result["data"][how]["errors"] == []
    assert await following(colleague) == []


async def test_customers_stop_following_an_organization_that_stops_sharing_staff_do_not(
    gql, admin, agent, colleague, org
):
    await followed(gql, colleague, org)
    await followed(gql, agent, org)
    document = (
        "mutation($input: UpdateOrganizationInput!) {"
        " updateOrganization(input: $input) { errors { code } } }"
    )
    variables = {"input": {"id": org.id, "sharedTickets": False}}
    result = await gql(document, variables, as_=admin)
    assert result["data"]["updateOrganization"]["errors"] == []
    assert (await following(colleague), await following(agent)) == ([], [org.pk])


async def test_an_agent_made_a_customer_stops_following_what_customers_may_not(
    gql, admin, agent, org, other_org
):
    await followed(gql, agent, org)
    document = (
        "mutation($input: UpdateUserInput!) { updateUser(input: $input) { errors { code } } }"
    )
    variables = {"input": {"id": agent.id, "role": "END_USER"}}
    result = await gql(document, variables, as_=admin)
    assert result["data"]["updateUser"]["errors"] == []
    assert await following(agent) == []


async def test_requests_of_other_organizations_are_not_heard(
    gql, agent, end_user, colleague, other_customer, org, other_org
):
    await followed(gql, colleague, org)
    await followed(gql, agent, other_org)
    globex = await make_ticket(gql, other_customer)
    await make_ticket(gql, end_user)
    assert [k for k, _ in await told(colleague)] == [CREATED]
    assert await told(agent) == [(CREATED, pk_of(globex))]


async def test_a_follow_up_is_a_new_request_of_the_organization(
    gql, agent, end_user, colleague, org
):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    await followed(gql, colleague, org)
    result = await gql(
        "mutation($input: CreateFollowUpInput!) { createFollowUp(input: $input) {"
        " ticket { id } errors { code } } }",
        {"input": {"ticketId": ticket["id"], "description": "Again."}},
        as_=end_user,
    )
    follow_up = result["data"]["createFollowUp"]["ticket"]
    assert (CREATED, pk_of(follow_up)) in await told(colleague)


async def test_followers_are_told_live(app, gql, live_server, agent, end_user, colleague, org):
    await followed(gql, colleague, org)
    async with websocket(live_server) as ws:
        await signed_in(ws, colleague)
        await subscribe(app, ws, colleague)
        ticket = await make_ticket(gql, end_user, subject="Badge reader")
        seen = await next_notification(ws)
        assert (seen["kind"], seen["ticket"]) == (CREATED, {"number": ticket["number"]})
        assert "Badge reader" in seen["message"]
        await commented(gql, colleague, ticket["id"], "Mine too.")  # their own: not told
        await silent(ws)


async def test_viewer_is_subscribed_matches_the_orm(app, agent, org, other_org):
    await OrganizationSubscription.create(organization_id=other_org.pk, user_id=agent.row.pk)
    keys = [org.pk, other_org.pk, 999_999]
    context = Context(app.state.settings, agent.viewer, app.state.bus)
    found = await organization_subscriptions.subscribed_by_organization(context, keys)
    expected = [
        await OrganizationSubscription.filter(organization_id=k, user_id=agent.row.pk).exists()
        for k in keys
    ]
    assert found == expected == [False, True, False]
