"""transferOwnership: the owner hands the help desk to an active admin and becomes an admin;
there is exactly one owner at every moment, concurrent transfers included."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from guichet.models.admin import AuditEntry
from guichet.models.people import Role, User
from guichet.resolvers import ids
from guichet.resolvers.admin import ownership
from guichet.resolvers.context import Context
from guichet.resolvers.errors import Refused
from tests.conftest import error_codes

TRANSFER = """
mutation($to: ID!) {
  transferOwnership(input: {toUserId: $to}) { user { id role } errors { code field } }
}
"""
ME = "{ me { id role } }"


async def transfer(gql, as_, to: str) -> dict:
    result = await gql(TRANSFER, {"to": to}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["transferOwnership"]


async def owners() -> list[int]:
    return [u.id for u in await User.filter(role=Role.OWNER)]


async def test_owner_hands_ownership_to_an_active_admin_and_becomes_an_admin(
    gql, app, owner, admin
):
    payload = await transfer(gql, owner, admin.id)
    assert payload == {"user": {"id": admin.id, "role": "OWNER"}, "errors": []}
    assert await owners() == [admin.row.pk]
    assert (await User.get(id=owner.row.pk)).role is Role.ADMIN
    # Once the remembered viewers age out (server/session_cache.py), the roles apply.
    app.state.session_cache.clear()
    assert (await gql(ME, as_=owner))["data"]["me"]["role"] == "ADMIN"
    assert (await gql(ME, as_=admin))["data"]["me"]["role"] == "OWNER"
    # The new owner may hand it back; the old one may not hand it anywhere any more.
    refused = await gql(TRANSFER, {"to": owner.id}, as_=owner)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert (await transfer(gql, admin, owner.id))["errors"] == []
    assert await owners() == [owner.row.pk]


async def test_a_transfer_is_audited(gql, owner, admin):
    await transfer(gql, owner, admin.id)
    entry = await AuditEntry.get(action="ownership.transferred")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        owner.row.pk,
        "User",
        admin.row.pk,
    )
    assert json.loads(entry.changes)["owner"] == [owner.row.pk, admin.row.pk]


async def test_ownership_goes_to_an_admin_only(gql, owner, agent, light_agent, end_user):
    for person in (agent, light_agent, end_user):
        payload = await transfer(gql, owner, person.id)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("NOT_AN_ADMIN", ["input", "toUserId"])
        ]
        assert payload["user"] is None
    assert await owners() == [owner.row.pk]
    assert not await AuditEntry.exists()


async def test_a_deactivated_admin_cannot_become_the_owner(gql, owner, admin):
    await User.filter(id=admin.row.pk).update(active=False)
    payload = await transfer(gql, owner, admin.id)
    assert [e["code"] for e in payload["errors"]] == ["USER_DEACTIVATED"]
    assert await owners() == [owner.row.pk]
    assert (await User.get(id=admin.row.pk)).role is Role.ADMIN


async def test_unknown_malformed_and_own_ids_change_nothing(gql, owner, admin):
    for to, code in (
        (ids.encode("User", 999_999), "NOT_FOUND"),
        ("not an id", "NOT_FOUND"),
        (ids.encode("Ticket", admin.row.pk), "NOT_FOUND"),
        (owner.id, "ALREADY_OWNER"),
    ):
        payload = await transfer(gql, owner, to)
        assert [e["code"] for e in payload["errors"]] == [code], to
    assert await owners() == [owner.row.pk]
    assert (await User.get(id=admin.row.pk)).role is Role.ADMIN


async def test_only_the_owner_may_transfer(gql, owner, admin, agent, end_user):
    for person in (admin, agent, end_user):
        result = await gql(TRANSFER, {"to": admin.id}, as_=person)
        assert error_codes(result) == ["FORBIDDEN"]
    assert await owners() == [owner.row.pk]


async def test_concurrent_transfers_leave_exactly_one_owner(app, owner, make_person):
    admins = [await make_person(f"Admin {i}", f"admin{i}@acme.test", Role.ADMIN) for i in range(4)]
    context = Context(app.state.settings, owner.viewer, None)
    results = await asyncio.gather(
        *(ownership.transfer_ownership(context, to_user_id=a.id) for a in admins),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, Refused) for r in lost), lost
    assert {r.errors[0].code for r in lost} == {"NOT_OWNER"}
    assert await owners() == [won[0].pk]
    assert await User.filter(role=Role.ADMIN).count() == 4  # the old owner + 3 admins
    assert await AuditEntry.filter(action="ownership.transferred").count() == 1


async def test_the_new_owner_and_the_old_one_transferring_at_once_leave_one_owner(
    app, owner, admin, make_person
):
    """The new owner hands it on while the old owner (still remembered as the owner by its
    session) tries again: whatever the order, one owner."""
    third = await make_person("Third", "third@acme.test", Role.ADMIN)
    old = Context(app.state.settings, owner.viewer, None)
    await ownership.transfer_ownership(old, to_user_id=admin.id)
    new = Context(app.state.settings, replace(admin.viewer, role=Role.OWNER), None)
    results = await asyncio.gather(
        ownership.transfer_ownership(new, to_user_id=third.id),
        ownership.transfer_ownership(old, to_user_id=third.id),
        return_exceptions=True,
    )
    assert not isinstance(results[0], BaseException), results[0]
    assert isinstance(results[1], Refused) and results[1].errors[0].code == "NOT_OWNER"
    assert await owners() == [third.row.pk]
