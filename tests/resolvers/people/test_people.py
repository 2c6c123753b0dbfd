"""People: creating users, organizations and groups, memberships, who sees whose e-mail."""

from __future__ import annotations

import pytest

from guichet.models.people import GroupMember, OrganizationMember, User
from tests.conftest import error_codes

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id name email role } errors { code field message } }
}
"""
CREATE_ORG = """
mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id name sharedTickets } errors { code field } }
}
"""
CREATE_GROUP = """
mutation($input: CreateGroupInput!) {
  createGroup(input: $input) { group { id name agents { name } } errors { code field } }
}
"""


def new_user(role: str, **extra) -> dict:
    return {"input": {"name": "New Person", "email": "new@example.test", "role": role, **extra}}


async def test_agent_creates_an_end_user_in_an_organization(gql, agent, org):
    result = await gql(CREATE_USER, new_user("END_USER", organizationIds=[org.id]), as_=agent)
    payload = result["data"]["createUser"]
    assert payload["errors"] == []
    assert payload["user"]["role"] == "END_USER"
    assert payload["user"]["email"] == "new@example.test"
    created = await User.get(email="new@example.test")
    assert await OrganizationMember.filter(user_id=created.id).count() == 1


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN"])
async def test_agent_cannot_create_staff(gql, agent, role):
    result = await gql(CREATE_USER, new_user(role), as_=agent)
    assert result["data"] == {"createUser": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert not await User.filter(email="new@example.test").exists()


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT", "AGENT", "ADMIN"])
async def test_admin_creates_any_role_but_owner(gql, admin, role):
    result = await gql(CREATE_USER, new_user(role), as_=admin)
    assert result["data"]["createUser"]["user"]["role"] == role


async def test_nobody_creates_an_owner_through_the_api(gql, admin):
    result = await gql(CREATE_USER, new_user("OWNER"), as_=admin)
    assert "data" not in result  # OWNER is not a UserRoleInput value
    assert not await User.filter(email="new@example.test").exists()


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT"])
async def test_customers_and_light_agents_cannot_create_users(gql, everyone, role):
    person = everyone[role]
    result = await gql(CREATE_USER, new_user("END_USER"), as_=person)
    assert error_codes(result) == ["FORBIDDEN"]


async def test_create_user_refuses_bad_input_with_codes(gql, admin, agent, org):
    cases = [
        ({"email": "not-an-address"}, "INVALID_EMAIL", ["input", "email"]),
        ({"email": agent.email.upper()}, "EMAIL_TAKEN", ["input", "email"]),
        ({"name": "   "}, "REQUIRED", ["input", "name"]),
        ({"name": "x" * 201}, "TOO_LONG", ["input", "name"]),
        ({"password": "short"}, "WEAK_PASSWORD", ["input", "password"]),
        ({"organizationIds": ["bogus"]}, "NOT_FOUND", ["input", "organizationIds", "0"]),
        ({"organizationIds": [agent.id]}, "NOT_FOUND", ["input", "organizationIds", "0"]),
        ({"groupIds": ["R3JvdXA6OTk5"]}, "NOT_FOUND", ["input", "groupIds", "0"]),
    ]
    for extra, code, field in cases:
        variables = new_user("AGENT")
        variables["input"].update(extra)
        payload = (await gql(CREATE_USER, variables, as_=admin))["data"]["createUser"]
        assert payload["user"] is None, extra
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], extra
    assert await User.filter(name="New Person").count() == 0


async def test_only_agents_join_groups(gql, admin, group):
    result = await gql(CREATE_USER, new_user("END_USER", groupIds=[group.id]), as_=admin)
    assert result["data"]["createUser"]["errors"][0]["code"] == "NOT_AN_AGENT"


async def test_admin_creates_organizations_and_groups(gql, admin, agent):
    org = await gql(CREATE_ORG, {"input": {"name": "Initech", "sharedTickets": True}}, as_=admin)
    assert org["data"]["createOrganization"]["organization"]["sharedTickets"] is True
    group = await gql(
        CREATE_GROUP, {"input": {"name": "Billing", "agentIds": [agent.id]}}, as_=admin
    )
    assert group["data"]["createGroup"]["group"]["agents"] == [{"name": agent.row.name}]


async def test_names_of_organizations_and_groups_are_unique(gql, admin, org, group):
    org_again = await gql(CREATE_ORG, {"input": {"name": org.name}}, as_=admin)
    assert org_again["data"]["createOrganization"]["errors"] == [
        {"code": "NAME_TAKEN", "field": ["input", "name"]}
    ]
    group_again = await gql(CREATE_GROUP, {"input": {"name": group.name}}, as_=admin)
    assert group_again["data"]["createGroup"]["errors"] == [
        {"code": "NAME_TAKEN", "field": ["input", "name"]}
    ]


async def test_a_group_holds_agents_only(gql, admin, end_user):
    result = await gql(
        CREATE_GROUP, {"input": {"name": "Billing", "agentIds": [end_user.id]}}, as_=admin
    )
    assert result["data"]["createGroup"]["errors"][0]["code"] == "NOT_AN_AGENT"


@pytest.mark.parametrize("role", ["AGENT", "LIGHT_AGENT", "END_USER"])
async def test_only_admins_create_organizations_and_groups(gql, everyone, role):
    person = everyone[role]
    assert error_codes(await gql(CREATE_ORG, {"input": {"name": "X"}}, as_=person)) == ["FORBIDDEN"]
    assert error_codes(await gql(CREATE_GROUP, {"input": {"name": "X"}}, as_=person)) == [
        "FORBIDDEN"
    ]


MEMBERSHIP = """
mutation($org: ID!, $user: ID!) {
  addOrganizationMember(input: {organizationId: $org, userId: $user}) { organization { name } errors { code field } }
}
"""
GROUP_MEMBERSHIP = """
mutation($group: ID!, $user: ID!) {
  addGroupMember(input: {groupId: $group, userId: $user}) { group { name } errors { code field } }
  removeGroupMember(input: {groupId: $group, userId: $user}) { errors { code } }
}
"""


async def test_agents_manage_organization_membership(gql, agent, other_org, end_user):
    added = await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=agent)
    assert added["data"]["addOrganizationMember"]["errors"] == []
    again = await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=agent)
    assert again["data"]["addOrganizationMember"]["errors"] == []
    assert await OrganizationMember.filter(user_id=end_user.row.pk).count() == 2
    removed = await gql(
        "mutation($org: ID!, $user: ID!) { removeOrganizationMember(input: {organizationId: $org, userId: $user}) { errors { code } } }",
        {"org": other_org.id, "user": end_user.id},
        as_=agent,
    )
    assert removed["data"]["removeOrganizationMember"]["errors"] == []
    assert await OrganizationMember.filter(user_id=end_user.row.pk).count() == 1


async def test_membership_refuses_unknown_ids(gql, agent, other_org):
    result = await gql(MEMBERSHIP, {"org": other_org.id, "user": "bogus"}, as_=agent)
    assert result["data"]["addOrganizationMember"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["input", "userId"]}
    ]
    result = await gql(MEMBERSHIP, {"org": agent.id, "user": agent.id}, as_=agent)
    assert result["data"]["addOrganizationMember"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["input", "organizationId"]}
    ]


async def test_end_users_cannot_change_memberships(gql, end_user, other_org):
    result = await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=end_user)
    assert error_codes(result) == ["FORBIDDEN"]
    assert await OrganizationMember.filter(user_id=end_user.row.pk).count() == 1


async def test_admins_put_agents_in_groups_and_agents_cannot(gql, admin, agent, group, make_person):
    from guichet.models.people import Role

    newcomer = await make_person("Nina New", "nina@guichet.test", Role.AGENT)
    result = await gql(GROUP_MEMBERSHIP, {"group": group.id, "user": newcomer.id}, as_=admin)
    assert result["data"]["addGroupMember"]["errors"] == []
    assert result["data"]["removeGroupMember"]["errors"] == []
    assert not await GroupMember.filter(user_id=newcomer.row.pk).exists()
    refused = await gql(GROUP_MEMBERSHIP, {"group": group.id, "user": newcomer.id}, as_=agent)
    # The document is refused whole, each refused mutation with its own FORBIDDEN; nothing ran.
    assert refused["data"] is None
    assert error_codes(refused) == ["FORBIDDEN", "FORBIDDEN"]
    assert [e["path"] for e in refused["errors"]] == [["addGroupMember"], ["removeGroupMember"]]


async def test_an_end_user_cannot_join_a_group(gql, admin, group, end_user):
    result = await gql(GROUP_MEMBERSHIP, {"group": group.id, "user": end_user.id}, as_=admin)
    assert result["data"]["addGroupMember"]["errors"] == [
        {"code": "NOT_AN_AGENT", "field": ["input", "userId"]}
    ]


ME = "{ me { id name email role organizations { name } } }"


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "AGENT", "LIGHT_AGENT", "END_USER"])
async def test_everyone_sees_themself_as_me(gql, everyone, role):
    person = everyone[role]
    me = (await gql(ME, as_=person))["data"]["me"]
    assert me["id"] == person.id
    assert me["email"] == person.email
    assert me["role"] == role


USER_BY_ID = (
    "query($id: ID!) { node(id: $id) { ... on User { name email organizations { name } } } }"
)


async def test_email_is_visible_to_agents_and_the_user_only(gql, end_user, colleague, light_agent):
    seen_by_colleague = (await gql(USER_BY_ID, {"id": end_user.id}, as_=colleague))["data"]["node"]
    assert seen_by_colleague["name"] == end_user.row.name
    assert seen_by_colleague["email"] is None
    seen_by_staff = (await gql(USER_BY_ID, {"id": end_user.id}, as_=light_agent))["data"]["node"]
    assert seen_by_staff["email"] == end_user.email


async def test_an_end_user_cannot_look_up_other_customers(gql, end_user, other_customer, agent):
    assert (await gql(USER_BY_ID, {"id": other_customer.id}, as_=end_user))["data"]["node"] is None
    assert (await gql(USER_BY_ID, {"id": agent.id}, as_=end_user))["data"]["node"] is None


async def test_an_end_user_sees_only_their_own_organizations_of_a_colleague(
    gql, admin, end_user, colleague, other_org
):
    await gql(MEMBERSHIP, {"org": other_org.id, "user": colleague.id}, as_=admin)
    seen = (await gql(USER_BY_ID, {"id": colleague.id}, as_=end_user))["data"]["node"]
    assert seen["organizations"] == [{"name": "Acme"}]
    by_staff = (await gql(USER_BY_ID, {"id": colleague.id}, as_=admin))["data"]["node"]
    assert sorted(o["name"] for o in by_staff["organizations"]) == ["Acme", "Globex"]


async def test_organization_members_are_listed_to_agents_page_by_page(
    gql, agent, end_user, colleague, org
):
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on Organization {
      members(first: 1, after: $after) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } } } }"""
    first = (await gql(query, {"id": org.id}, as_=agent))["data"]["node"]["members"]
    assert first["totalCount"] == 2
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await gql(query, {"id": org.id, "after": first["pageInfo"]["endCursor"]}, as_=agent))[
        "data"
    ]["node"]["members"]
    assert second["pageInfo"]["hasNextPage"] is False
    names = [e["node"]["name"] for e in first["edges"] + second["edges"]]
    assert sorted(names) == sorted([end_user.row.name, colleague.row.name])


async def test_an_end_user_cannot_list_organization_members(gql, end_user, org):
    query = (
        "query($id: ID!) { node(id: $id) { ... on Organization { name members { totalCount } } } }"
    )
    result = await gql(query, {"id": org.id}, as_=end_user)
    assert result["data"]["node"] == {"name": "Acme", "members": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["node", "members"]


async def test_groups_are_hidden_from_end_users(gql, end_user, light_agent, group, agent):
    query = "query($id: ID!) { node(id: $id) { ... on Group { name agents { name } } } }"
    assert (await gql(query, {"id": group.id}, as_=end_user))["data"]["node"] is None
    seen = (await gql(query, {"id": group.id}, as_=light_agent))["data"]["node"]
    assert seen["name"] == group.name
    assert sorted(a["name"] for a in seen["agents"]) == sorted(
        [agent.row.name, light_agent.row.name]
    )
