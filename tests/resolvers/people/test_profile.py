"""The viewer's own profile (resolvers/people/profile.py): name, phone, default organization,
who reads them, and where a request with no organization chosen goes."""

from __future__ import annotations

from typing import Any

import pytest

from guichet.models.people import OrganizationMember, Role, User
from guichet.resolvers.context import Context
from guichet.resolvers.people import profile
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import make_ticket

UPDATE = """
mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    user { id name phone defaultOrganization { id name } }
    errors { code field message }
  }
}
"""
ME = "{ me { id name phone defaultOrganization { id } } }"
USER = """
query($id: ID!) { node(id: $id) { ... on User { name phone defaultOrganization { id } } } }
"""


async def update(gql, person, **fields: Any) -> dict:
    result = await gql(UPDATE, {"input": fields}, as_=person)
    assert "errors" not in result, result
    return result["data"]["updateProfile"]


def codes(payload: dict) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def stored(person) -> tuple:
    user = await User.get(id=person.row.pk)
    return user.name, user.phone, user.default_organization_id


async def test_a_customer_sets_their_name_phone_and_default_organization(gql, end_user, org):
    payload = await update(
        gql,
        end_user,
        name="  Alice Martin ",
        phone="+41 79 123 45 67",
        defaultOrganizationId=org.id,
    )
    assert payload["errors"] == []
    assert payload["user"] == {
        "id": end_user.id,
        "name": "Alice Martin",
        "phone": "+41791234567",
        "defaultOrganization": {"id": org.id, "name": "Acme"},
    }
    me = (await gql(ME, as_=end_user))["data"]["me"]
    assert (me["phone"], me["defaultOrganization"]) == ("+41791234567", {"id": org.id})


async def test_only_the_fields_given_change_and_null_clears(gql, end_user, org):
    await update(gql, end_user, phone="+33612345678", defaultOrganizationId=org.id)
    assert (await update(gql, end_user, name="Alice B"))["errors"] == []
    assert await stored(end_user) == ("Alice B", "+33612345678", org.pk)
    assert (await update(gql, end_user, phone=None, defaultOrganizationId=None))["errors"] == []
    assert await stored(end_user) == ("Alice B", None, None)
    await update(gql, end_user, phone="+33612345678")
    assert (await update(gql, end_user, phone="  "))["errors"] == []
    assert (await stored(end_user))[1] is None


@pytest.mark.parametrize(
    "phone",
    ["0791234567", "+0791234567", "+4179", "+41 79 123 45 67 89 01 2", "call me", "+41a791234567"],
)
async def test_a_phone_that_is_not_e164_is_refused_and_nothing_changes(gql, end_user, phone):
    await update(gql, end_user, phone="+41791234567")
    payload = await update(gql, end_user, name="Changed", phone=phone)
    assert payload["user"] is None
    assert codes(payload) == [("INVALID_PHONE", ["input", "phone"])]
    assert await stored(end_user) == ("Alice Customer", "+41791234567", None)


@pytest.mark.parametrize(
    ("name", "code"), [(None, "REQUIRED"), (" ", "REQUIRED"), ("x" * 201, "TOO_LONG")]
)
async def test_a_name_follows_the_same_rules_as_elsewhere(gql, end_user, name, code):
    payload = await update(gql, end_user, name=name)
    assert codes(payload) == [(code, ["input", "name"])]
    assert (await stored(end_user))[0] == "Alice Customer"


async def test_a_customer_cannot_default_to_an_organization_they_do_not_see(
    gql, end_user, other_org
):
    for bad in (other_org.id, "T3JnYW5pemF0aW9uOjk5OQ", "garbage"):
        payload = await update(gql, end_user, defaultOrganizationId=bad)
        assert codes(payload) == [("NOT_FOUND", ["input", "defaultOrganizationId"])], bad
    assert (await stored(end_user))[2] is None


async def test_staff_default_only_to_an_organization_they_belong_to(gql, agent, org, other_org):
    payload = await update(gql, agent, defaultOrganizationId=org.id)
    assert codes(payload) == [("NOT_A_MEMBER", ["input", "defaultOrganizationId"])]
    await OrganizationMember.create(organization_id=org.pk, user_id=agent.row.pk)
    payload = await update(gql, agent, defaultOrganizationId=org.id, phone="+41791234567")
    assert payload["errors"] == []
    assert payload["user"]["defaultOrganization"]["id"] == org.id


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER", "END_USER"])
async def test_every_role_edits_only_their_own_profile(gql, everyone, end_user, role):
    person = everyone[role]
    payload = await update(gql, person, name=f"New {role}", phone="+41791234567")
    assert payload["errors"] == []
    assert payload["user"]["id"] == person.id
    assert (await stored(person))[:2] == (f"New {role}", "+41791234567")
    if person is not end_user:
        assert (await stored(end_user))[:2] == ("Alice Customer", None)


async def test_phone_and_default_organization_are_for_the_user_themself_and_staff(
    gql, everyone, end_user, colleague, org
):
    await update(gql, end_user, phone="+41791234567", defaultOrganizationId=org.id)
    for role, person in everyone.items():
        seen = (await gql(USER, {"id": end_user.id}, as_=person))["data"]["node"]
        assert (seen["phone"], seen["defaultOrganization"]) == ("+41791234567", {"id": org.id}), (
            role
        )
    # A colleague of a sharing organization sees Alice, not her phone or default.
    seen = (await gql(USER, {"id": end_user.id}, as_=colleague))["data"]["node"]
    assert seen == {"name": "Alice Customer", "phone": None, "defaultOrganization": None}


async def test_updating_a_profile_needs_sign_in(gql):
    result = await gql(UPDATE, {"input": {"name": "x"}})
    assert error_codes(result) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- where a request goes


async def test_a_request_without_organization_goes_to_the_default_one(
    gql, make_person, org, other_org
):
    both = await make_person(
        "Dana", "dana@acme.test", Role.END_USER, organizations=[org, other_org]
    )
    assert (await make_ticket(gql, both))["organization"] is None  # two, no default: none
    await update(gql, both, defaultOrganizationId=other_org.id)
    assert (await make_ticket(gql, both))["organization"]["id"] == other_org.id
    # A chosen organization still wins.
    chosen = await make_ticket(gql, both, organizationId=org.id)
    assert chosen["organization"]["id"] == org.id


async def test_a_request_goes_to_the_only_organization_without_a_default(gql, end_user, org):
    assert (await make_ticket(gql, end_user))["organization"]["id"] == org.id


async def test_an_agent_opening_for_a_requester_uses_the_requesters_default(
    gql, agent, make_person, org, other_org
):
    both = await make_person(
        "Dana", "dana@acme.test", Role.END_USER, organizations=[org, other_org]
    )
    await update(gql, both, defaultOrganizationId=org.id)
    ticket = await make_ticket(gql, agent, requesterId=both.id)
    assert ticket["organization"]["id"] == org.id


async def test_a_default_the_requester_left_is_ignored(gql, make_person, org, other_org):
    both = await make_person(
        "Dana", "dana@acme.test", Role.END_USER, organizations=[org, other_org]
    )
    await update(gql, both, defaultOrganizationId=other_org.id)
    await OrganizationMember.filter(organization_id=other_org.pk, user_id=both.row.pk).delete()
    # Only Acme is left: the request goes there, not to Globex.
    assert (await make_ticket(gql, both))["organization"]["id"] == org.id


# ---------------------------------------------------------------- the SQL reads


async def test_phones_and_default_organizations_match_the_orm(app, agent, end_user, org):
    customers = [await make_person_row(i, org) for i in range(6)]
    keys = [end_user.row.pk, *customers, 999_999]
    context = Context(app.state.settings, agent.viewer, app.state.bus)
    phones = await profile.phones_by_user_id(context, keys)
    defaults = await profile.default_organizations_by_user_id(context, keys)
    for key, phone, default in zip(keys, phones, defaults, strict=True):
        user = await User.get_or_none(id=key)
        assert phone == (user.phone if user else None)
        expected = user.default_organization_id if user else None
        assert (default.pk if default else None) == expected
    # A customer reads only their own.
    mine = Context(app.state.settings, end_user.viewer, app.state.bus)
    assert await profile.phones_by_user_id(mine, keys[:3]) == [None, None, None]


async def make_person_row(i: int, org) -> int:
    user = await User.create(
        name=f"C{i}", email=f"c{i}@acme.test", role=Role.END_USER, phone=f"+4179000000{i}"
    )
    if i % 2:
        await OrganizationMember.create(organization_id=org.pk, user_id=user.id)
        await User.filter(id=user.id).update(default_organization_id=org.pk)
    return user.id
