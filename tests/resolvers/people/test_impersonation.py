"""impersonate: an admin acts as an agent, light agent or customer for 15 minutes; what they
do records them as `impersonator`; the person impersonated can see it happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.admin import AuditEntry
from guichet.models.auth import Session
from guichet.models.people import Role, User
from guichet.models.tickets import TicketEvent
from guichet.resolvers import ids
from guichet.resolvers.people import auth
from tests.conftest import TEST_SECRET, error_codes
from tests.resolvers.tickets_helpers import commented, make_ticket, updated
from tests.subscriptions.test_ticket_history import receive, send, signed_in, websocket

IMPERSONATE = """
mutation($user: ID!, $reason: String!) {
  impersonate(input: {userId: $user, reason: $reason}) {
    token user { id role } errors { code field }
  }
}
"""
ME = "{ me { id role } }"
HISTORY = """
query($number: Int!) {
  ticket(number: $number) {
    history { edges { node { kind field actor { id } impersonator { id } } } }
  }
}
"""
IMPERSONATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on User { impersonations { impersonator { id } startedAt expiresAt reason } }
  }
}
"""
REASON = "Customer reports the portal shows no requests."


async def impersonate(gql, as_, user: str, reason: str = REASON) -> dict:
    result = await gql(IMPERSONATE, {"user": user, "reason": reason}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["impersonate"]


async def token_for(gql, as_, person) -> str:
    payload = await impersonate(gql, as_, person.id)
    assert payload["errors"] == [], payload["errors"]
    return payload["token"]


async def history(gql, as_, number: int) -> list[dict]:
    result = await gql(HISTORY, {"number": number}, as_=as_)
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["ticket"]["history"]["edges"]]


@pytest.mark.parametrize("target", ["AGENT", "LIGHT_AGENT", "END_USER"])
async def test_admins_and_the_owner_act_as_agents_light_agents_and_customers(gql, everyone, target):
    person = everyone[target]
    for impersonator in (everyone["ADMIN"], everyone["OWNER"]):
        payload = await impersonate(gql, impersonator, person.id)
        assert payload["errors"] == []
        assert payload["user"] == {"id": person.id, "role": person.row.role.value}
        me = await gql(ME, as_=payload["token"])
        assert me["data"]["me"] == {"id": person.id, "role": person.row.role.value}


async def test_the_token_lasts_fifteen_minutes(gql, admin, end_user, monkeypatch):
    token = await token_for(gql, admin, end_user)
    expires = int(token.split(".")[1])
    assert abs(expires - (datetime.now(UTC) + timedelta(minutes=15)).timestamp()) < 60
    assert (await auth.viewer_from_token(TEST_SECRET, token)).id == end_user.row.pk

    def moved(minutes: int) -> type[datetime]:
        class Later(datetime):
            @classmethod
            def now(cls, tz=None):  # type: ignore[override]
                return datetime.now(tz) + timedelta(minutes=minutes)

        return Later

    monkeypatch.setattr(auth, "datetime", moved(14))
    assert (await auth.viewer_from_token(TEST_SECRET, token)).impersonator_id == admin.row.pk
    monkeypatch.setattr(auth, "datetime", moved(16))
    assert await auth.viewer_from_token(TEST_SECRET, token) is None


async def test_an_expired_impersonation_no_longer_signs_in(gql, app, admin, end_user):
    token = await token_for(gql, admin, end_user)
    session_id = token.split(".")[0]
    await Session.filter(id=session_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    app.state.session_cache.clear()
    assert error_codes(await gql(ME, as_=token)) == ["UNAUTHENTICATED"]


async def test_what_is_done_with_the_token_records_the_impersonator(
    gql, admin, agent, end_user, colleague
):
    ticket = await make_ticket(gql, end_user, subject="Printer")
    as_customer = await token_for(gql, admin, end_user)
    await commented(gql, as_customer, ticket["id"], "Still broken.")
    as_agent = await token_for(gql, admin, agent)
    await updated(gql, as_agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    events = await history(gql, agent, ticket["number"])
    by_kind = {(e["kind"], e["field"]): e for e in events}
    assert by_kind[("CREATED", None)]["impersonator"] is None
    commented_event = by_kind[("COMMENT_ADDED", None)]
    assert commented_event["actor"] == {"id": end_user.id}
    assert commented_event["impersonator"] == {"id": admin.id}
    solved = by_kind[("FIELD_CHANGED", "status")]
    assert solved["actor"] == {"id": agent.id}
    assert solved["impersonator"] == {"id": admin.id}
    # The customer sees who acted as them; another customer of the organization does not.
    mine = await history(gql, end_user, ticket["number"])
    assert {"id": admin.id} in [e["impersonator"] for e in mine]
    assert all(e["impersonator"] is None for e in await history(gql, colleague, ticket["number"]))
    stored = await TicketEvent.filter(impersonator_id=admin.row.pk).count()
    assert stored == len([e for e in events if e["impersonator"]])


async def test_the_users_own_actions_carry_no_impersonator(gql, end_user, agent):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, end_user, ticket["id"], "Hello?")
    assert all(e["impersonator"] is None for e in await history(gql, agent, ticket["number"]))


async def test_admins_and_the_owner_cannot_be_impersonated(gql, owner, admin, make_person):
    other_admin = await make_person("Other Admin", "admin2@acme.test", Role.ADMIN)
    for as_, target in ((admin, owner), (admin, other_admin), (owner, admin)):
        payload = await impersonate(gql, as_, target.id)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("NOT_IMPERSONABLE", ["input", "userId"])
        ]
        assert payload["token"] is None
    assert not await Session.filter(impersonator_id__isnull=False).exists()


async def test_refusals_have_stable_codes_and_issue_no_token(gql, admin, end_user):
    await User.filter(id=end_user.row.pk).update(active=False)
    cases = [
        (admin.id, REASON, "CANNOT_IMPERSONATE_SELF"),
        (end_user.id, REASON, "USER_DEACTIVATED"),
        (ids.encode("User", 999_999), REASON, "NOT_FOUND"),
        ("garbage", REASON, "NOT_FOUND"),
        (end_user.id, "   ", "REQUIRED"),
        (end_user.id, "x" * 501, "TOO_LONG"),
    ]
    for user, reason, code in cases:
        payload = await impersonate(gql, admin, user, reason)
        assert [e["code"] for e in payload["errors"]] == [code], (user, reason)
        assert payload["token"] is None
    assert not await Session.filter(impersonator_id__isnull=False).exists()
    assert not await AuditEntry.exists()


async def test_staff_below_admin_and_customers_cannot_impersonate(
    gql, agent, light_agent, end_user, colleague
):
    for person in (agent, light_agent, end_user):
        result = await gql(IMPERSONATE, {"user": colleague.id, "reason": REASON}, as_=person)
        assert error_codes(result) == ["FORBIDDEN"]


async def test_an_impersonation_token_cannot_impersonate_change_the_password_or_transfer(
    gql, owner, admin, agent, end_user
):
    as_agent = await token_for(gql, owner, agent)
    again = await gql(IMPERSONATE, {"user": end_user.id, "reason": REASON}, as_=as_agent)
    assert error_codes(again) == ["FORBIDDEN"]
    change = await gql(
        'mutation { changePassword(input: {currentPassword: "correct horse battery",'
        ' newPassword: "a brand new password"}) { token errors { code } } }',
        as_=as_agent,
    )
    assert error_codes(change) == ["FORBIDDEN"]
    transfer = await gql(
        "mutation($to: ID!) { transferOwnership(input: {toUserId: $to}) { errors { code } } }",
        {"to": admin.id},
        as_=as_agent,
    )
    assert error_codes(transfer) == ["FORBIDDEN"]
    assert (await User.get(id=owner.row.pk)).role is Role.OWNER


async def test_an_impersonation_is_audited_with_its_reason(gql, admin, end_user):
    await token_for(gql, admin, end_user)
    entry = await AuditEntry.get(action="user.impersonated")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        admin.row.pk,
        "User",
        end_user.row.pk,
    )
    assert json.loads(entry.changes)["reason"] == REASON
    session = await Session.get(impersonator_id=admin.row.pk)
    assert (session.user_id, session.reason) == (end_user.row.pk, REASON)


async def test_the_impersonated_user_can_see_that_it_happened(
    gql, admin, agent, end_user, colleague
):
    token = await token_for(gql, admin, end_user)
    seen = await gql(IMPERSONATIONS, {"id": end_user.id}, as_=end_user)
    [entry] = seen["data"]["node"]["impersonations"]
    assert entry["impersonator"] == {"id": admin.id}
    assert entry["reason"] is None  # why is for admins
    assert entry["expiresAt"] > entry["startedAt"]
    # Seen through the impersonation itself too, and by admins with the reason.
    through = await gql(IMPERSONATIONS, {"id": end_user.id}, as_=token)
    assert through["data"]["node"]["impersonations"][0]["impersonator"] == {"id": admin.id}
    by_admin = await gql(IMPERSONATIONS, {"id": end_user.id}, as_=admin)
    assert by_admin["data"]["node"]["impersonations"][0]["reason"] == REASON
    # Nobody else: agents and other customers get null.
    for person in (agent, colleague):
        other = await gql(IMPERSONATIONS, {"id": end_user.id}, as_=person)
        node = other["data"]["node"]
        assert node is None or node["impersonations"] is None, person


async def test_an_impersonation_ends_when_its_admin_stops_being_an_active_admin(
    gql, app, admin, end_user, make_person
):
    token = await token_for(gql, admin, end_user)
    await User.filter(id=admin.row.pk).update(active=False)
    app.state.session_cache.clear()  # the remembered viewer ages out
    assert error_codes(await gql(ME, as_=token)) == ["UNAUTHENTICATED"]
    other = await make_person("Other Admin", "admin2@acme.test", Role.ADMIN)
    token = await token_for(gql, other, end_user)
    await User.filter(id=other.row.pk).update(role=Role.AGENT)
    app.state.session_cache.clear()
    assert error_codes(await gql(ME, as_=token)) == ["UNAUTHENTICATED"]
    # The customer's own sessions are untouched.
    assert (await gql(ME, as_=end_user))["data"]["me"]["id"] == end_user.id


async def test_live_history_carries_the_impersonator(gql, live_server, admin, agent, end_user):
    """The event pushed to a subscriber over a real websocket names the impersonator too."""
    ticket = await make_ticket(gql, end_user)
    created = (await TicketEvent.filter(kind="CREATED").first()).id
    live_history = (
        "subscription($id: ID!, $after: String) { ticketHistory(ticketId: $id, after: $after)"
        " { id kind actor { id } impersonator { id } } }"
    )
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        variables = {"id": ticket["id"], "after": ids.encode("TicketEvent", created - 1)}
        await send(
            ws,
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": live_history, "variables": variables},
            },
        )
        replayed = await receive(ws)  # the CREATED event: the subscription is live
        assert replayed["payload"]["data"]["ticketHistory"]["kind"] == "CREATED"
        as_customer = await token_for(gql, admin, end_user)
        await commented(gql, as_customer, ticket["id"], "Posted by the admin as Alice.")
        while True:
            event = (await receive(ws))["payload"]["data"]["ticketHistory"]
            if event["kind"] == "COMMENT_ADDED":
                break
        assert event["actor"] == {"id": end_user.id}
        assert event["impersonator"] == {"id": admin.id}
