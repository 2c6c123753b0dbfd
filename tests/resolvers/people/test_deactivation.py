"""Deactivating a person: no sign-in, every session and websocket ended within seconds,
history kept; the owner, oneself and the last active admin cannot be deactivated."""

from __future__ import annotations

import asyncio
import json

from guichet.models.admin import AuditEntry
from guichet.models.auth import Session
from guichet.models.outbox import OutboxMessage
from guichet.models.people import Role, User
from guichet.resolvers import ids
from tests.conftest import PASSWORD, error_codes
from tests.resolvers.tickets_helpers import make_ticket, update_ticket
from tests.server.test_websocket import receive, send, signed_in, until_closed, websocket

DEACTIVATE = """
mutation($input: UserIdInput!) {
  deactivateUser(input: $input) { user { name active } errors { code field } }
}
"""
REACTIVATE = """
mutation($input: UserIdInput!) {
  reactivateUser(input: $input) { user { active } errors { code } }
}
"""
LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { token errors { code message } } }
"""
ME = "{ me { name } }"
WITHIN = 5.0  # what the issue allows


def target(person) -> dict:
    return {"input": {"id": ids.encode("User", person.row.pk)}}


def login(person, password: str = PASSWORD) -> dict:
    return {"input": {"email": person.row.email_address, "password": password}}


async def test_a_deactivated_user_cannot_sign_in_nor_use_their_token(gql, admin, agent):
    result = await gql(DEACTIVATE, target(agent), as_=admin)
    assert result["data"]["deactivateUser"] == {
        "user": {"name": "Agnès Agent", "active": False},
        "errors": [],
    }
    assert error_codes(await gql(ME, as_=agent)) == ["UNAUTHENTICATED"]
    assert not await Session.filter(user_id=agent.row.pk, revoked_at__isnull=True).exists()
    refused = (await gql(LOGIN, login(agent)))["data"]["login"]
    wrong = (await gql(LOGIN, login(agent, "a wrong password")))["data"]["login"]
    # The same answer as a wrong password: nobody learns the account's state by trying.
    assert refused == wrong
    assert refused["token"] is None
    assert [e["code"] for e in refused["errors"]] == ["INVALID_CREDENTIALS"]


async def test_reactivated_they_sign_in_again_and_sign_in_time_is_kept(gql, admin, agent):
    await gql(DEACTIVATE, target(agent), as_=admin)
    result = await gql(REACTIVATE, target(agent), as_=admin)
    assert result["data"]["reactivateUser"] == {"user": {"active": True}, "errors": []}
    signed_in_again = (await gql(LOGIN, login(agent)))["data"]["login"]
    assert signed_in_again["token"]
    query = (
        f'{{ node(id: "{ids.encode("User", agent.row.pk)}") {{ ... on User {{ lastSignInAt }} }} }}'
    )
    assert (await gql(query, as_=admin))["data"]["node"]["lastSignInAt"] is not None
    actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
    assert actions == ["user.deactivated", "user.reactivated"]


async def test_deactivation_is_audited_with_who_and_what(gql, admin, end_user):
    await gql(DEACTIVATE, target(end_user), as_=admin)
    entry = await AuditEntry.get()
    assert (entry.actor_id, entry.action, entry.target_type, entry.target_id) == (
        admin.row.pk,
        "user.deactivated",
        "User",
        end_user.row.pk,
    )
    assert json.loads(entry.changes) == {"active": [True, False]}
    assert entry.created_at is not None


async def test_nobody_deactivates_themself_nor_the_owner(gql, admin, owner):
    mine = await gql(DEACTIVATE, target(admin), as_=admin)
    assert mine["data"]["deactivateUser"]["errors"] == [
        {"code": "OWN_ACCOUNT", "field": ["input", "id"]}
    ]
    owners = await gql(DEACTIVATE, target(owner), as_=admin)
    assert owners["data"]["deactivateUser"]["errors"] == [
        {"code": "OWNER", "field": ["input", "id"]}
    ]
    assert await User.filter(active=False).count() == 0


async def test_two_admins_deactivating_each_other_at_once_leave_one_admin(gql, make_person):
    first = await make_person("First Admin", "first@guichet.test", Role.ADMIN)
    second = await make_person("Second Admin", "second@guichet.test", Role.ADMIN)
    results = await asyncio.gather(
        gql(DEACTIVATE, target(second), as_=first), gql(DEACTIVATE, target(first), as_=second)
    )
    outcomes = sorted(
        json.dumps(r.get("data") and r["data"]["deactivateUser"] and
                   [e["code"] for e in r["data"]["deactivateUser"]["errors"]])
        for r in results
    )  # fmt: skip
    # One wins; the other is refused (LAST_ADMIN, or signed out already by the first).
    assert outcomes.count("[]") == 1, outcomes
    assert await User.filter(role=Role.ADMIN, active=True).count() == 1


async def test_agents_and_below_deactivate_nobody(gql, agent, light_agent, end_user, colleague):
    for person in (agent, light_agent, end_user):
        result = await gql(DEACTIVATE, target(colleague), as_=person)
        assert error_codes(result) == ["FORBIDDEN"]
    assert (await User.get(id=colleague.row.pk)).active


async def test_unknown_user_is_not_found(gql, admin):
    result = await gql(DEACTIVATE, {"input": {"id": ids.encode("User", 999)}}, as_=admin)
    assert result["data"]["deactivateUser"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["input", "id"]}
    ]


async def test_their_history_stays(gql, admin, end_user):
    ticket = await make_ticket(gql, end_user)
    await gql(DEACTIVATE, target(end_user), as_=admin)
    query = (
        f'{{ node(id: "{ticket["id"]}") {{ ... on Ticket {{ requester {{ name active }} }} }} }}'
    )
    result = await gql(query, as_=admin)
    assert result["data"]["node"]["requester"] == {"name": "Alice Customer", "active": False}


async def test_a_deactivated_agent_is_not_assigned_anew(gql, admin, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await gql(DEACTIVATE, target(agent), as_=admin)
    payload = await update_ticket(gql, admin, ticket["id"], assigneeId=agent.row.id)
    assert [e["code"] for e in payload["errors"]] == ["INACTIVE"]


async def test_a_deactivated_agents_open_websocket_closes_within_seconds(
    gql, live_server, admin, agent
):
    async with websocket(live_server) as ws:
        await signed_in(ws, agent)
        await send(
            ws,
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { notifications { kind } }"},
            },
        )
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"
        assert (await gql(DEACTIVATE, target(agent), as_=admin))["data"]["deactivateUser"][
            "errors"
        ] == []
        code, messages = await until_closed(ws, within=WITHIN)
    assert code == 4401
    assert messages == []
    # A new socket with the old token is refused too.
    async with websocket(live_server) as ws:
        await send(
            ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {agent.token}"}}
        )
        code, _ = await until_closed(ws, within=WITHIN)
    assert code in (4401, 4403)


async def test_a_deactivated_user_gets_no_password_reset_link(gql, admin, end_user):
    await gql(DEACTIVATE, target(end_user), as_=admin)
    result = await gql(
        "mutation($email: String!) { requestPasswordReset(input: {email: $email}) { accepted } }",
        {"email": end_user.row.email_address},
    )
    assert result["data"]["requestPasswordReset"]["accepted"] is True
    assert not await OutboxMessage.filter(recipient=end_user.row.email_address).exists()
