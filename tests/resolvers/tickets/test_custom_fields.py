"""Custom ticket fields: admins define them, values are checked against their field, and
end users see and set the PUBLIC ones only."""

from __future__ import annotations

import pytest

from guichet.models.tickets import CustomField, CustomFieldValue, Ticket, TicketEvent
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    CREATE_CUSTOM_FIELD,
    create_ticket,
    get_ticket,
    history_of,
    make_custom_field,
    make_ticket,
    update_ticket,
    updated,
)

CUSTOM_FIELDS = "{ customFields { key title type visibility options requiredForEndUsers } }"
TICKET_VALUES = "query($n: Int!) { ticket(number: $n) { customFields { field { key } value } } }"
FIELD_NODE = "query($id: ID!) { node(id: $id) { id ... on CustomField { key visibility } } }"


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def values_seen(gql, person, number: int) -> dict:
    result = await gql(TICKET_VALUES, {"n": number}, as_=person)
    assert "errors" not in result, result
    return {v["field"]["key"]: v["value"] for v in result["data"]["ticket"]["customFields"]}


@pytest.fixture
async def fields(gql, admin) -> dict[str, dict]:
    """One field of each type; `internal` is agents-only."""
    made = {}
    for key, extra in {
        "serial": {"type": "TEXT"},
        "seats": {"type": "NUMBER"},
        "urgent_ok": {"type": "CHECKBOX"},
        "plan": {"type": "DROPDOWN", "options": ["Free", "Pro", "Enterprise"]},
        "since": {"type": "DATE"},
        "internal": {"type": "TEXT", "visibility": "AGENTS_ONLY"},
    }.items():
        made[key] = await make_custom_field(gql, admin, key=key, title=key.title(), **extra)
    return made


# ---------------------------------------------------------------- defining fields


@pytest.mark.parametrize(
    ("type_", "options"),
    [
        ("TEXT", None),
        ("NUMBER", None),
        ("CHECKBOX", None),
        ("DROPDOWN", [" a ", "b"]),
        ("DATE", None),
    ],
)
async def test_admin_creates_a_field_of_each_type(gql, admin, type_, options):
    field = await make_custom_field(
        gql,
        admin,
        key="order_no",
        title="  Order number ",
        type=type_,
        options=options,
        visibility="PUBLIC",
        requiredForEndUsers=True,
    )
    assert field["key"] == "order_no"
    assert field["title"] == "Order number"
    assert field["type"] == type_
    assert field["visibility"] == "PUBLIC"
    assert field["options"] == (["a", "b"] if options else None)
    assert field["requiredForEndUsers"] is True
    assert await CustomField.filter(key="order_no").count() == 1


async def test_owner_creates_an_agents_only_field(gql, owner):
    field = await make_custom_field(gql, owner, key="risk", visibility="AGENTS_ONLY")
    assert (field["visibility"], field["requiredForEndUsers"]) == ("AGENTS_ONLY", False)


@pytest.mark.parametrize("role", ["AGENT", "LIGHT_AGENT", "END_USER"])
async def test_only_admins_create_custom_fields(gql, everyone, role):
    request = {"key": "k", "title": "K", "type": "TEXT", "visibility": "PUBLIC"}
    result = await gql(CREATE_CUSTOM_FIELD, {"input": request}, as_=everyone[role])
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert await CustomField.all().count() == 0


async def test_create_custom_field_refuses_bad_definitions(gql, admin):
    await make_custom_field(gql, admin, key="taken")
    cases = [
        ({"key": ""}, "INVALID_KEY", ["input", "key"]),
        ({"key": "Has Caps"}, "INVALID_KEY", ["input", "key"]),
        ({"key": "1st"}, "INVALID_KEY", ["input", "key"]),
        ({"key": "k" * 65}, "INVALID_KEY", ["input", "key"]),
        ({"key": "taken"}, "KEY_TAKEN", ["input", "key"]),
        ({"title": "  "}, "REQUIRED", ["input", "title"]),
        ({"title": "t" * 201}, "TOO_LONG", ["input", "title"]),
        ({"title": "t\x00"}, "INVALID", ["input", "title"]),
        ({"type": "DROPDOWN", "options": ["a\x00"]}, "INVALID_OPTIONS", ["input", "options"]),
        ({"type": "DROPDOWN"}, "INVALID_OPTIONS", ["input", "options"]),
        ({"type": "DROPDOWN", "options": []}, "INVALID_OPTIONS", ["input", "options"]),
        ({"type": "DROPDOWN", "options": ["a", " a"]}, "INVALID_OPTIONS", ["input", "options"]),
        ({"type": "DROPDOWN", "options": ["a", " "]}, "INVALID_OPTIONS", ["input", "options"]),
        ({"type": "TEXT", "options": ["a"]}, "INVALID_OPTIONS", ["input", "options"]),
        (
            {"visibility": "AGENTS_ONLY", "requiredForEndUsers": True},
            "INVALID_OPTIONS",
            ["input", "requiredForEndUsers"],
        ),
    ]
    for extra, code, field in cases:
        request = {"key": "fresh", "title": "T", "type": "TEXT", "visibility": "PUBLIC", **extra}
        payload = (await gql(CREATE_CUSTOM_FIELD, {"input": request}, as_=admin))["data"][
            "createCustomField"
        ]
        assert payload["customField"] is None, extra
        assert codes(payload) == [(code, field)], extra
    assert await CustomField.all().count() == 1


async def test_the_custom_fields_each_role_may_see(gql, everyone, fields):
    for role, person in everyone.items():
        seen = (await gql(CUSTOM_FIELDS, as_=person))["data"]["customFields"]
        keys = [f["key"] for f in seen]
        if role == "END_USER":
            assert keys == ["serial", "seats", "urgent_ok", "plan", "since"]
            assert all(f["visibility"] == "PUBLIC" for f in seen)
        else:
            assert keys == ["serial", "seats", "urgent_ok", "plan", "since", "internal"]
    plan = next(
        f
        for f in (await gql(CUSTOM_FIELDS, as_=everyone["END_USER"]))["data"]["customFields"]
        if f["key"] == "plan"
    )
    assert plan["options"] == ["Free", "Pro", "Enterprise"]


async def test_an_agents_only_field_is_not_found_by_id_for_end_users(
    gql, end_user, light_agent, fields
):
    internal, public = fields["internal"]["id"], fields["serial"]["id"]
    assert (await gql(FIELD_NODE, {"id": internal}, as_=end_user))["data"]["node"] is None
    assert (await gql(FIELD_NODE, {"id": public}, as_=end_user))["data"]["node"]["key"] == "serial"
    seen = (await gql(FIELD_NODE, {"id": internal}, as_=light_agent))["data"]["node"]
    assert seen["visibility"] == "AGENTS_ONLY"


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("key", "good", "stored", "bad"),
    [
        ("serial", "SN-123", "SN-123", [12, True, ["x"], "x" * 10_001, "nul\x00"]),
        ("serial", "123", "123", [{"a": 1}]),  # text that looks like a number stays text
        ("serial", "", "", []),
        ("seats", 25, 25, ["25", True, [1], 2**53, -(2**63)]),
        ("seats", 2**53 - 1, 2**53 - 1, []),
        ("seats", 2.5, 2.5, [{"n": 1}]),
        ("urgent_ok", True, True, ["true", 1, 0]),
        ("urgent_ok", False, False, []),
        ("plan", "Pro", "Pro", ["pro", "Gold", 1, ["Pro"]]),
        ("since", "2026-02-28", "2026-02-28", ["2026-02-30", "28/02/2026", "2026-2-28", 20260228]),
    ],
)
async def test_values_are_checked_against_their_field(
    gql, agent, end_user, fields, key, good, stored, bad
):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id)
    for value in bad:
        payload = await update_ticket(
            gql, agent, ticket["id"], customFields=[{"key": key, "value": value}]
        )
        assert codes(payload) == [("INVALID_VALUE", ["input", "customFields", "0", "value"])], value
        assert key in payload["errors"][0]["message"]
    assert await CustomFieldValue.all().count() == 0
    await updated(gql, agent, ticket["id"], customFields=[{"key": key, "value": good}])
    assert await values_seen(gql, agent, ticket["number"]) == {key: stored}
    assert await values_seen(gql, end_user, ticket["number"]) == {key: stored}


async def test_a_whole_number_beyond_64_bits_written_in_the_query_is_invalid(gql, agent, fields):
    # As a literal it reaches the rule as a Python int of any size; it was "Unexpected
    # error." (the value could not be stored as JSON).
    document = """mutation { createTicket(input: {subject: "S", description: "D",
      customFields: [{key: "seats", value: 1000000000000000000000000000000}]}) {
      ticket { id } errors { code field } } }"""
    result = await gql(document, as_=agent)
    assert result["data"]["createTicket"] == {
        "ticket": None,
        "errors": [{"code": "INVALID_VALUE", "field": ["input", "customFields", "0", "value"]}],
    }


async def test_values_are_set_when_opening_and_seen_per_role(
    gql, everyone, agent, light_agent, end_user, colleague, fields
):
    ticket = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        customFields=[
            {"key": "serial", "value": "SN-1"},
            {"key": "plan", "value": "Enterprise"},
            {"key": "internal", "value": "Churn risk"},
        ],
    )
    everything = {"serial": "SN-1", "plan": "Enterprise", "internal": "Churn risk"}
    for role in ("OWNER", "ADMIN", "AGENT", "LIGHT_AGENT"):
        assert await values_seen(gql, everyone[role], ticket["number"]) == everything
    for person in (end_user, colleague):
        assert await values_seen(gql, person, ticket["number"]) == {
            "serial": "SN-1",
            "plan": "Enterprise",
        }


async def test_end_user_sets_public_values_on_their_request(gql, agent, end_user, fields):
    ticket = await make_ticket(
        gql, end_user, customFields=[{"key": "seats", "value": 3}, {"key": "since", "value": None}]
    )
    assert await values_seen(gql, agent, ticket["number"]) == {"seats": 3}
    await updated(gql, end_user, ticket["id"], customFields=[{"key": "seats", "value": 4}])
    assert await values_seen(gql, end_user, ticket["number"]) == {"seats": 4}


async def test_end_user_cannot_set_an_agents_only_field(gql, end_user, fields):
    payload = await create_ticket(
        gql, end_user, customFields=[{"key": "internal", "value": "I know this exists"}]
    )
    # The field does not exist as far as a customer knows.
    assert codes(payload) == [("UNKNOWN_FIELD", ["input", "customFields", "0", "key"])]
    assert await Ticket.all().count() == 0
    ticket = await make_ticket(gql, end_user)
    payload = await update_ticket(
        gql, end_user, ticket["id"], customFields=[{"key": "internal", "value": "x"}]
    )
    assert codes(payload) == [("UNKNOWN_FIELD", ["input", "customFields", "0", "key"])]
    assert await CustomFieldValue.all().count() == 0


async def test_a_field_given_twice_is_refused(gql, agent, end_user, fields):
    payload = await create_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        customFields=[{"key": "seats", "value": 1}, {"key": "seats", "value": 2}],
    )
    assert codes(payload) == [("DUPLICATE", ["input", "customFields", "1", "key"])]
    assert await Ticket.all().count() == 0


async def test_end_users_must_fill_required_fields_and_agents_need_not(gql, admin, agent, end_user):
    await make_custom_field(gql, admin, key="order", title="Order", requiredForEndUsers=True)
    for missing in ([], [{"key": "order", "value": ""}], [{"key": "order", "value": None}]):
        payload = await create_ticket(gql, end_user, customFields=missing)
        assert codes(payload) == [("REQUIRED", ["input", "customFields"])], missing
    assert await Ticket.all().count() == 0
    ticket = await make_ticket(gql, end_user, customFields=[{"key": "order", "value": "A-1"}])
    assert await values_seen(gql, end_user, ticket["number"]) == {"order": "A-1"}
    assert (await make_ticket(gql, agent, requesterId=end_user.id))["number"] == 2


async def test_end_users_cannot_clear_a_required_field(gql, admin, agent, end_user):
    await make_custom_field(gql, admin, key="order", title="Order", requiredForEndUsers=True)
    ticket = await make_ticket(gql, end_user, customFields=[{"key": "order", "value": "A-1"}])
    for value in (None, ""):
        payload = await update_ticket(
            gql, end_user, ticket["id"], customFields=[{"key": "order", "value": value}]
        )
        assert codes(payload) == [("REQUIRED", ["input", "customFields"])], value
    assert await values_seen(gql, end_user, ticket["number"]) == {"order": "A-1"}
    await updated(gql, agent, ticket["id"], customFields=[{"key": "order", "value": None}])
    assert await values_seen(gql, agent, ticket["number"]) == {"order": None}


async def test_changing_a_value_records_its_history(gql, agent, end_user, fields):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id)
    await updated(gql, agent, ticket["id"], customFields=[{"key": "serial", "value": "A"}])
    await updated(gql, agent, ticket["id"], customFields=[{"key": "serial", "value": "A"}])
    await updated(gql, agent, ticket["id"], customFields=[{"key": "serial", "value": "B"}])
    await updated(gql, agent, ticket["id"], customFields=[{"key": "internal", "value": "x"}])
    history = await history_of(gql, agent, ticket["number"])
    changes = [
        (e["node"]["field"], e["node"]["previousValue"], e["node"]["newValue"], e["node"]["public"])
        for e in history["edges"]
        if e["node"]["field"]
    ]
    assert changes == [
        ("customFields.serial", None, "A", True),
        ("customFields.serial", "A", "B", True),
        ("customFields.internal", None, "x", False),
    ]
    seen_by_requester = await history_of(gql, end_user, ticket["number"])
    assert [e["node"]["field"] for e in seen_by_requester["edges"]] == [
        None,  # CREATED
        None,  # NOTIFICATION_SENT: the receipt mailed to the requester
        "customFields.serial",
        "customFields.serial",
    ]
    assert seen_by_requester["totalCount"] == 4
    assert await TicketEvent.filter(field="customFields.internal").count() == 1


async def test_custom_field_values_of_a_list_of_tickets(gql, agent, end_user, fields):
    for serial in ("one", "two"):
        await make_ticket(
            gql, agent, requesterId=end_user.id, customFields=[{"key": "serial", "value": serial}]
        )
    query = """{ tickets(sort: [{field: NUMBER, direction: ASC}]) { edges { node {
        number customFields { field { key } value } } } } }"""
    edges = (await gql(query, as_=end_user))["data"]["tickets"]["edges"]
    assert [e["node"]["customFields"] for e in edges] == [
        [{"field": {"key": "serial"}, "value": "one"}],
        [{"field": {"key": "serial"}, "value": "two"}],
    ]
    assert (await get_ticket(gql, end_user, 1))["number"] == 1
