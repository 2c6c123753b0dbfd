"""The directory: agents find people and organizations, staff read groups, everyone reads
the custom fields they may fill."""

from __future__ import annotations

from guichet.models.people import Organization, OrganizationDomain, Role, User
from guichet.models.tickets import CustomField
from guichet.resolvers import ids
from tests.conftest import PASSWORD, error_codes

USERS = """
query($filter: UserFilter, $first: Int, $after: String) {
  users(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { name email role active lastSignInAt organizations { name } } }
  }
}
"""
ORGANIZATIONS = """
query($query: String, $first: Int, $after: String) {
  organizations(query: $query, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name active domains } }
  }
}
"""
GROUPS = "{ groups { name active } }"
CUSTOM_FIELDS = "{ customFields { key active position } }"


def names(result: dict, field: str = "users") -> list[str]:
    return [e["node"]["name"] for e in result["data"][field]["edges"]]


async def test_agent_lists_everyone_by_name(gql, everyone):
    result = await gql(USERS, as_=everyone["AGENT"])
    assert result["data"]["users"]["totalCount"] == 5
    assert names(result) == sorted(names(result), key=str.lower)


async def test_query_matches_name_email_and_phone_case_insensitively(gql, agent, end_user):
    await User.filter(id=end_user.row.pk).update(phone="+41791234567")
    for query in ("alice", "ALICE", "acme.TEST", "+41 79 123", "79123"):
        result = await gql(USERS, {"filter": {"query": query}}, as_=agent)
        assert names(result) == ["Alice Customer"], query
    result = await gql(USERS, {"filter": {"query": "nobody-matches"}}, as_=agent)
    assert result["data"]["users"]["totalCount"] == 0


async def test_query_takes_percent_and_underscore_literally(gql, agent, end_user):
    result = await gql(USERS, {"filter": {"query": "%"}}, as_=agent)
    assert result["data"]["users"]["totalCount"] == 0


async def test_filters_by_role_organization_group_and_active(
    gql, agent, light_agent, end_user, colleague, other_customer, org, group
):
    by = {
        "role": ({"role": ["AGENT", "LIGHT_AGENT"]}, ["Agnès Agent", "Louise Light"]),
        "organization": ({"organizationId": org.id}, ["Alice Customer", "Bob Colleague"]),
        "group": ({"groupId": group.id}, ["Agnès Agent", "Louise Light"]),
        "both": ({"organizationId": org.id, "query": "bob"}, ["Bob Colleague"]),
        "no role": ({"role": []}, []),
    }
    for label, (filter, expected) in by.items():
        assert names(await gql(USERS, {"filter": filter}, as_=agent)) == expected, label
    await User.filter(id=colleague.row.pk).update(active=False)
    inactive = await gql(USERS, {"filter": {"active": False}}, as_=agent)
    assert names(inactive) == ["Bob Colleague"]
    assert inactive["data"]["users"]["edges"][0]["node"]["active"] is False
    active = await gql(USERS, {"filter": {"active": True, "organizationId": org.id}}, as_=agent)
    assert names(active) == ["Alice Customer"]


async def test_pages_follow_each_other_without_gaps(gql, agent, make_person):
    for i in range(7):
        await make_person(f"Person {i}", f"p{i}@example.test", Role.END_USER)
    seen, after = [], None
    while True:
        page = await gql(
            USERS, {"filter": {"query": "person"}, "first": 3, "after": after}, as_=agent
        )
        users = page["data"]["users"]
        assert users["totalCount"] == 7
        seen += names(page)
        if not users["pageInfo"]["hasNextPage"]:
            break
        after = users["pageInfo"]["endCursor"]
    assert seen == [f"Person {i}" for i in range(7)]
    past = await gql(USERS, {"filter": {"query": "person"}, "after": after, "first": 50}, as_=agent)
    assert past["data"]["users"]["totalCount"] == 7


async def test_a_malformed_organization_id_is_a_bad_request(gql, agent):
    result = await gql(USERS, {"filter": {"organizationId": "nope"}}, as_=agent)
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_light_agent_and_end_user_cannot_list_users(gql, light_agent, end_user):
    for person in (light_agent, end_user):
        result = await gql(USERS, as_=person)
        assert result["data"] == {"users": None}
        assert error_codes(result) == ["FORBIDDEN"]


async def test_users_page_costs_the_same_statements_for_one_or_many(
    gql, agent, make_person, org, count_statements
):
    query = (
        "{ users(first: 50) { edges { node { name organizations { name } groups { name } } } } }"
    )
    await gql(query, as_=agent)  # what a process reads once (the settings) is read
    with count_statements() as few:
        await gql(query, as_=agent)
    for i in range(12):
        await make_person(f"Many {i}", f"m{i}@example.test", Role.END_USER, organizations=[org])
    with count_statements() as many:
        await gql(query, as_=agent)
    assert many.count == few.count


async def test_organizations_by_name_or_domain(gql, agent, org, other_org):
    await OrganizationDomain.create(organization_id=org.pk, domain="acme.test")
    every = await gql(ORGANIZATIONS, as_=agent)
    assert names(every, "organizations") == ["Acme", "Globex"]
    assert every["data"]["organizations"]["edges"][0]["node"]["domains"] == ["acme.test"]
    assert names(await gql(ORGANIZATIONS, {"query": "GLOB"}, as_=agent), "organizations") == [
        "Globex"
    ]
    assert names(await gql(ORGANIZATIONS, {"query": "acme.t"}, as_=agent), "organizations") == [
        "Acme"
    ]
    first = await gql(ORGANIZATIONS, {"first": 1}, as_=agent)
    assert first["data"]["organizations"]["pageInfo"]["hasNextPage"] is True


async def test_light_agent_and_end_user_cannot_list_organizations(gql, light_agent, end_user):
    for person in (light_agent, end_user):
        assert error_codes(await gql(ORGANIZATIONS, as_=person)) == ["FORBIDDEN"]


async def test_end_user_never_reads_domains_or_last_sign_in(gql, end_user, org):
    query = f'{{ node(id: "{org.id}") {{ ... on Organization {{ name domains }} }} me {{ lastSignInAt }} }}'
    result = await gql(query, as_=end_user)
    assert result["data"]["node"] == {"name": "Acme", "domains": None}
    assert result["data"]["me"] == {"lastSignInAt": None}
    assert set(error_codes(result)) == {"FORBIDDEN"}


async def test_light_agents_read_groups_end_users_do_not(gql, light_agent, end_user, group):
    assert (await gql(GROUPS, as_=light_agent))["data"]["groups"] == [
        {"name": "Tier 1", "active": True}
    ]
    result = await gql(GROUPS, as_=end_user)
    assert result["data"] == {"groups": None}
    assert error_codes(result) == ["FORBIDDEN"]


async def _field(key: str, **values) -> CustomField:
    return await CustomField.create(key=key, title=key.title(), type="TEXT", **values)


async def test_custom_fields_are_the_active_ones_the_viewer_may_fill_by_position(
    gql, agent, end_user
):
    await _field("b_public", visibility="PUBLIC", position=2)
    await _field("a_public", visibility="PUBLIC", position=1)
    await _field("internal", visibility="AGENTS_ONLY", position=0)
    await _field("retired", visibility="PUBLIC", position=0, active=False)
    staff = await gql(CUSTOM_FIELDS, as_=agent)
    assert [f["key"] for f in staff["data"]["customFields"]] == ["internal", "a_public", "b_public"]
    customer = await gql(CUSTOM_FIELDS, as_=end_user)
    assert [f["key"] for f in customer["data"]["customFields"]] == ["a_public", "b_public"]
    assert customer["data"]["customFields"][0] == {"key": "a_public", "active": True, "position": 1}


async def test_a_deactivated_user_is_still_found_by_id(gql, agent, end_user):
    await User.filter(id=end_user.row.pk).update(active=False)
    query = (
        f'{{ node(id: "{ids.encode("User", end_user.row.pk)}") {{ ... on User {{ active }} }} }}'
    )
    assert (await gql(query, as_=agent))["data"]["node"] == {"active": False}


async def test_me_answers_active_and_last_sign_in_in_sql_as_in_python(gql, agent):
    signed_in = await gql(
        "mutation($input: LoginInput!) { login(input: $input) { token } }",
        {"input": {"email": "agent@guichet.test", "password": PASSWORD}},
    )
    token = signed_in["data"]["login"]["token"]
    me = await gql("{ me { active lastSignInAt organizations { active } } }", as_=token)
    assert me["data"]["me"]["active"] is True
    assert me["data"]["me"]["lastSignInAt"] is not None


async def test_organizations_page_costs_the_same_statements_for_one_or_many(
    gql, agent, org, count_statements
):
    query = "{ organizations(first: 50) { edges { node { name domains active } } } }"
    await gql(query, as_=agent)  # what a process reads once (the settings) is read
    with count_statements() as few:
        await gql(query, as_=agent)
    for i in range(12):
        created = await Organization.create(name=f"Org {i}")
        await OrganizationDomain.create(organization_id=created.id, domain=f"org{i}.test")
    with count_statements() as many:
        await gql(query, as_=agent)
    assert many.count == few.count == 3  # the session, the page, the domains
