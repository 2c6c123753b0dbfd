"""Changing organizations, groups and custom fields, and deactivating them: kept on old
tickets, gone from forms; admins only; every change audited; nothing half-changed."""

from __future__ import annotations

import json

import pytest

from guichet.models.admin import AuditEntry
from guichet.models.people import Organization, OrganizationDomain
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    create_ticket,
    make_custom_field,
    make_ticket,
    update_ticket,
)

UPDATE_ORG = """
mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    organization { name sharedTickets domains active } errors { code field }
  }
}
"""
DEACTIVATE_ORG = """
mutation($input: OrganizationIdInput!) {
  deactivateOrganization(input: $input) { organization { name active } errors { code } }
}
"""
UPDATE_GROUP = """
mutation($input: UpdateGroupInput!) {
  updateGroup(input: $input) { group { name active } errors { code field } }
}
"""
DEACTIVATE_GROUP = """
mutation($input: GroupIdInput!) {
  deactivateGroup(input: $input) { group { name active } errors { code } }
}
"""
UPDATE_FIELD = """
mutation($input: UpdateCustomFieldInput!) {
  updateCustomField(input: $input) {
    customField { title type visibility options requiredForEndUsers position active }
    errors { code field }
  }
}
"""
DEACTIVATE_FIELD = """
mutation($input: CustomFieldIdInput!) {
  deactivateCustomField(input: $input) { customField { active } errors { code } }
}
"""


async def test_admin_renames_shares_and_sets_domains(gql, admin, org):
    result = await gql(
        UPDATE_ORG,
        {
            "input": {
                "id": org.id,
                "name": "Acme Corp",
                "sharedTickets": False,
                "domains": ["ACME.test", "@acme-corp.test", "acme.test"],
            }
        },
        as_=admin,
    )
    assert result["data"]["updateOrganization"] == {
        "organization": {
            "name": "Acme Corp",
            "sharedTickets": False,
            "domains": ["acme-corp.test", "acme.test"],
            "active": True,
        },
        "errors": [],
    }
    entry = await AuditEntry.get(action="organization.updated")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        admin.row.pk,
        "Organization",
        org.pk,
    )
    assert json.loads(entry.changes) == {
        "name": ["Acme", "Acme Corp"],
        "shared_tickets": [True, False],
        "domains": [[], ["acme-corp.test", "acme.test"]],
    }
    cleared = await gql(UPDATE_ORG, {"input": {"id": org.id, "domains": []}}, as_=admin)
    assert cleared["data"]["updateOrganization"]["organization"]["domains"] == []


@pytest.mark.parametrize(
    "domain", ["not a domain", "localhost", "1.2.3.4", "-acme.test", "acme..test", "a@b.test", ""]
)
async def test_what_is_not_a_domain_is_refused_and_nothing_changes(gql, admin, org, domain):
    result = await gql(
        UPDATE_ORG,
        {"input": {"id": org.id, "name": "Renamed", "domains": ["ok.test", domain]}},
        as_=admin,
    )
    assert result["data"]["updateOrganization"]["errors"] == [
        {"code": "INVALID_DOMAIN", "field": ["input", "domains", "1"]}
    ]
    assert (await Organization.get(id=org.pk)).name == "Acme"
    assert not await OrganizationDomain.exists()


async def test_a_domain_belongs_to_one_organization(gql, admin, org, other_org):
    await OrganizationDomain.create(organization_id=other_org.pk, domain="shared.test")
    result = await gql(
        UPDATE_ORG, {"input": {"id": org.id, "name": "X", "domains": ["Shared.test"]}}, as_=admin
    )
    assert [e["code"] for e in result["data"]["updateOrganization"]["errors"]] == ["DOMAIN_TAKEN"]
    assert (await Organization.get(id=org.pk)).name == "Acme"


async def test_an_organization_name_stays_unique(gql, admin, org, other_org):
    result = await gql(UPDATE_ORG, {"input": {"id": org.id, "name": "Globex"}}, as_=admin)
    assert result["data"]["updateOrganization"]["errors"] == [
        {"code": "NAME_TAKEN", "field": ["input", "name"]}
    ]


async def test_unknown_ids_are_not_found(gql, admin):
    for document, type_name, field in (
        (UPDATE_ORG, "Organization", "updateOrganization"),
        (DEACTIVATE_GROUP, "Group", "deactivateGroup"),
        (UPDATE_FIELD, "CustomField", "updateCustomField"),
    ):
        result = await gql(document, {"input": {"id": ids.encode(type_name, 999)}}, as_=admin)
        assert [e["code"] for e in result["data"][field]["errors"]] == ["NOT_FOUND"]


async def test_agents_change_no_organization_group_or_field(gql, agent, org, group, admin):
    field = await make_custom_field(gql, admin)
    for document, value in (
        (UPDATE_ORG, org.id),
        (DEACTIVATE_ORG, org.id),
        (UPDATE_GROUP, group.id),
        (DEACTIVATE_GROUP, group.id),
        (UPDATE_FIELD, field["id"]),
        (DEACTIVATE_FIELD, field["id"]),
    ):
        assert error_codes(await gql(document, {"input": {"id": value}}, as_=agent)) == [
            "FORBIDDEN"
        ]
    assert not await AuditEntry.exists()


async def test_a_deactivated_organization_stays_on_old_tickets_not_on_new_ones(
    gql, admin, agent, end_user, org
):
    old = await make_ticket(gql, end_user, organizationId=org.id)
    result = await gql(DEACTIVATE_ORG, {"input": {"id": org.id}}, as_=admin)
    assert result["data"]["deactivateOrganization"] == {
        "organization": {"name": "Acme", "active": False},
        "errors": [],
    }
    refused = await create_ticket(gql, end_user, organizationId=org.id)
    assert refused["errors"] == [
        {
            "code": "INACTIVE",
            "field": ["input", "organizationId"],
            "message": "That organization was deactivated.",
        }
    ]
    # Without naming one, a new request simply goes to no organization.
    fresh = await make_ticket(gql, end_user)
    assert fresh["organization"] is None
    query = (
        f'{{ node(id: "{old["id"]}") {{ ... on Ticket {{ organization {{ name active }} }} }} }}'
    )
    assert (await gql(query, as_=agent))["data"]["node"]["organization"] == {
        "name": "Acme",
        "active": False,
    }


async def test_a_deactivated_group_stays_on_old_tickets_not_on_new_ones(
    gql, admin, agent, end_user, group
):
    old = await make_ticket(gql, agent, groupId=group.id)
    renamed = await gql(UPDATE_GROUP, {"input": {"id": group.id, "name": "Tier One"}}, as_=admin)
    assert renamed["data"]["updateGroup"] == {
        "group": {"name": "Tier One", "active": True},
        "errors": [],
    }
    await gql(DEACTIVATE_GROUP, {"input": {"id": group.id}}, as_=admin)
    refused = await create_ticket(gql, agent, groupId=group.id)
    assert [e["code"] for e in refused["errors"]] == ["INACTIVE"]
    # The old ticket keeps it, and can still be assigned within it.
    kept = await update_ticket(gql, agent, old["id"], assigneeId=agent.row.id)
    assert kept["errors"] == []
    assert kept["ticket"]["group"] == {"id": group.id}
    actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
    assert actions == ["group.updated", "group.deactivated"]


async def test_a_group_name_is_required(gql, admin, group):
    result = await gql(UPDATE_GROUP, {"input": {"id": group.id, "name": " "}}, as_=admin)
    assert [e["code"] for e in result["data"]["updateGroup"]["errors"]] == ["REQUIRED"]


async def test_admin_changes_a_custom_field_but_never_its_type(gql, admin):
    field = await make_custom_field(gql, admin, type="DROPDOWN", options=["a", "b"])
    result = await gql(
        UPDATE_FIELD,
        {
            "input": {
                "id": field["id"],
                "title": "Model",
                "options": [" a ", "c"],
                "visibility": "AGENTS_ONLY",
                "position": 3,
            }
        },
        as_=admin,
    )
    assert result["data"]["updateCustomField"] == {
        "customField": {
            "title": "Model",
            "type": "DROPDOWN",
            "visibility": "AGENTS_ONLY",
            "options": ["a", "c"],
            "requiredForEndUsers": False,
            "position": 3,
            "active": True,
        },
        "errors": [],
    }
    assert json.loads((await AuditEntry.get()).changes)["options"] == [["a", "b"], ["a", "c"]]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"options": []}, "INVALID_OPTIONS"),
        ({"visibility": "AGENTS_ONLY", "requiredForEndUsers": True}, "INVALID_OPTIONS"),
        ({"position": -1}, "INVALID"),
        ({"title": ""}, "REQUIRED"),
    ],
)
async def test_bad_custom_field_changes_are_refused(gql, admin, changes, code):
    field = await make_custom_field(gql, admin, type="DROPDOWN", options=["a"])
    result = await gql(UPDATE_FIELD, {"input": {"id": field["id"], **changes}}, as_=admin)
    assert [e["code"] for e in result["data"]["updateCustomField"]["errors"]] == [code]
    assert not await AuditEntry.exists()


async def test_a_text_field_gets_no_options(gql, admin):
    field = await make_custom_field(gql, admin)
    result = await gql(UPDATE_FIELD, {"input": {"id": field["id"], "options": ["x"]}}, as_=admin)
    assert [e["code"] for e in result["data"]["updateCustomField"]["errors"]] == ["INVALID_OPTIONS"]


async def test_a_deactivated_custom_field_keeps_its_values_and_leaves_forms(
    gql, admin, agent, end_user
):
    field = await make_custom_field(gql, admin, requiredForEndUsers=True)
    old = await make_ticket(gql, end_user, customFields=[{"key": "serial", "value": "X1"}])
    result = await gql(DEACTIVATE_FIELD, {"input": {"id": field["id"]}}, as_=admin)
    assert result["data"]["deactivateCustomField"] == {
        "customField": {"active": False},
        "errors": [],
    }
    assert (await gql("{ customFields { key } }", as_=end_user))["data"]["customFields"] == []
    # No longer required, and no longer accepted.
    assert (await create_ticket(gql, end_user))["errors"] == []
    refused = await create_ticket(gql, end_user, customFields=[{"key": "serial", "value": "X"}])
    assert [e["code"] for e in refused["errors"]] == ["FIELD_INACTIVE"]
    query = f'{{ node(id: "{old["id"]}") {{ ... on Ticket {{ customFields {{ value }} }} }} }}'
    assert (await gql(query, as_=agent))["data"]["node"]["customFields"] == [{"value": "X1"}]
