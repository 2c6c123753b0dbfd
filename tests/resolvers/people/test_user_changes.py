"""Changing a person: agents change customers' details; admins anyone below the owner,
role and groups included; nothing half-changed; every change audited."""

from __future__ import annotations

import json

import pytest

from guichet.models.admin import AuditEntry
from guichet.models.people import GroupMember, Organization, OrganizationMember, Role, User
from guichet.resolvers import ids
from tests.conftest import error_codes

UPDATE_USER = """
mutation($input: UpdateUserInput!) {
  updateUser(input: $input) {
    user { name email phone role organizations { name } groups { name } }
    errors { code field }
  }
}
"""


def update(person, **changes) -> dict:
    return {"input": {"id": ids.encode("User", person.row.pk), **changes}}


def codes(result: dict) -> list[str]:
    return [e["code"] for e in result["data"]["updateUser"]["errors"]]


async def test_agent_changes_a_customers_details_and_organizations(gql, agent, end_user, other_org):
    result = await gql(
        UPDATE_USER,
        update(
            end_user,
            name=" Alice C. ",
            email="ALICE@new.test",
            phone="+41 79 123 45 67",
            organizationIds=[other_org.id],
        ),
        as_=agent,
    )
    assert result["data"]["updateUser"] == {
        "user": {
            "name": "Alice C.",
            "email": "alice@new.test",
            "phone": "+41791234567",
            "role": "END_USER",
            "organizations": [{"name": "Globex"}],
            "groups": [],
        },
        "errors": [],
    }
    entry = await AuditEntry.get(action="user.updated")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        agent.row.pk,
        "User",
        end_user.row.pk,
    )
    changes = json.loads(entry.changes)
    assert changes["name"] == ["Alice Customer", "Alice C."]
    assert changes["email"] == ["alice@acme.test", "alice@new.test"]
    assert set(changes) == {"name", "email", "phone", "organizations"}


async def test_a_change_that_changes_nothing_is_not_audited(gql, agent, end_user):
    result = await gql(UPDATE_USER, update(end_user, name="Alice Customer"), as_=agent)
    assert result["data"]["updateUser"]["errors"] == []
    assert not await AuditEntry.exists()


@pytest.mark.parametrize("target", ["LIGHT_AGENT", "ADMIN", "OWNER"])
async def test_agent_cannot_change_staff(gql, everyone, target):
    person = everyone[target]
    result = await gql(UPDATE_USER, update(person, name="Renamed"), as_=everyone["AGENT"])
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert (await User.get(id=person.row.pk)).name != "Renamed"


@pytest.mark.parametrize("changes", [{"role": "AGENT"}, {"groupIds": []}])
async def test_agent_cannot_change_roles_or_groups(gql, agent, end_user, changes):
    result = await gql(UPDATE_USER, update(end_user, **changes), as_=agent)
    assert error_codes(result) == ["FORBIDDEN"]
    assert (await User.get(id=end_user.row.pk)).role is Role.END_USER


async def test_light_agent_and_end_user_change_nobody(gql, light_agent, end_user, colleague):
    for person in (light_agent, end_user):
        result = await gql(UPDATE_USER, update(colleague, name="X"), as_=person)
        assert error_codes(result) == ["FORBIDDEN"]


async def test_admin_promotes_a_customer_to_agent_in_a_group(gql, admin, end_user, group):
    result = await gql(UPDATE_USER, update(end_user, role="AGENT", groupIds=[group.id]), as_=admin)
    assert result["data"]["updateUser"]["errors"] == []
    assert result["data"]["updateUser"]["user"]["role"] == "AGENT"
    assert result["data"]["updateUser"]["user"]["groups"] == [{"name": "Tier 1"}]
    changes = json.loads((await AuditEntry.get(action="user.updated")).changes)
    assert changes["role"] == ["END_USER", "AGENT"]


async def test_admin_changes_another_admin(gql, admin, make_person):
    other = await make_person("Other Admin", "other@guichet.test", Role.ADMIN)
    result = await gql(UPDATE_USER, update(other, role="AGENT"), as_=admin)
    assert result["data"]["updateUser"]["user"]["role"] == "AGENT"


async def test_a_demoted_agent_leaves_every_group(gql, admin, agent):
    result = await gql(UPDATE_USER, update(agent, role="END_USER"), as_=admin)
    assert result["data"]["updateUser"]["user"]["role"] == "END_USER"
    assert not await GroupMember.filter(user_id=agent.row.pk).exists()


async def test_nobody_changes_their_own_role(gql, admin):
    result = await gql(UPDATE_USER, update(admin, role="AGENT"), as_=admin)
    assert result["data"]["updateUser"]["errors"] == [
        {"code": "OWN_ROLE", "field": ["input", "role"]}
    ]
    assert (await User.get(id=admin.row.pk)).role is Role.ADMIN


async def test_nobody_changes_the_owner_through_update_user(gql, admin, owner):
    result = await gql(UPDATE_USER, update(owner, name="X"), as_=admin)
    assert error_codes(result) == ["FORBIDDEN"]


async def test_nobody_is_made_owner(gql, admin, agent):
    result = await gql(UPDATE_USER, update(agent, role="OWNER"), as_=admin)
    assert "data" not in result  # OWNER is not a UserRoleInput value


async def test_email_stays_unique(gql, agent, end_user, colleague):
    result = await gql(UPDATE_USER, update(end_user, email="BOB@acme.test"), as_=agent)
    assert codes(result) == ["EMAIL_TAKEN"]
    assert (await User.get(id=end_user.row.pk)).email == "alice@acme.test"


async def test_bad_details_are_refused_together_and_nothing_changes(gql, agent, end_user):
    result = await gql(UPDATE_USER, update(end_user, name=" ", email="not-an-address"), as_=agent)
    assert sorted(codes(result)) == ["INVALID_EMAIL", "REQUIRED"]
    result = await gql(UPDATE_USER, update(end_user, phone="12"), as_=agent)
    assert codes(result) == ["INVALID_PHONE"]


async def test_unknown_organization_changes_nothing(gql, agent, end_user, other_org):
    missing = ids.encode("Organization", 999)
    result = await gql(
        UPDATE_USER,
        update(end_user, name="Changed", organizationIds=[other_org.id, missing]),
        as_=agent,
    )
    assert result["data"]["updateUser"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["input", "organizationIds", "1"]}
    ]
    user = await User.get(id=end_user.row.pk)
    assert user.name == "Alice Customer"
    assert await OrganizationMember.filter(user_id=user.id).count() == 1
    assert not await AuditEntry.exists()


async def test_unknown_user_is_not_found(gql, agent):
    result = await gql(
        UPDATE_USER, {"input": {"id": ids.encode("User", 999), "name": "X"}}, as_=agent
    )
    assert codes(result) == ["NOT_FOUND"]


async def test_a_deactivated_organization_is_not_joined_anew_but_kept(
    gql, agent, end_user, org, other_org
):
    await Organization.filter(id=other_org.pk).update(active=False)
    result = await gql(
        UPDATE_USER, update(end_user, organizationIds=[org.id, other_org.id]), as_=agent
    )
    assert codes(result) == ["INACTIVE"]
    await Organization.filter(id=org.pk).update(active=False)
    kept = await gql(UPDATE_USER, update(end_user, organizationIds=[org.id]), as_=agent)
    assert kept["data"]["updateUser"]["errors"] == []


async def test_customers_do_not_join_groups(gql, admin, end_user, group):
    result = await gql(UPDATE_USER, update(end_user, groupIds=[group.id]), as_=admin)
    assert codes(result) == ["NOT_AN_AGENT"]
