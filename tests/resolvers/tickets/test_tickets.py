"""Tickets: opening them, reading them, who sees which, idempotent retries and follow-ups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.people import Role, User
from guichet.models.tickets import (
    Comment,
    CustomFieldValue,
    IdempotencyKey,
    Ticket,
    TicketCc,
    TicketEvent,
    TicketTag,
)
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    CREATE_FOLLOW_UP,
    CREATE_TICKET,
    NODE_TICKET,
    add_comment,
    close,
    create_ticket,
    get_ticket,
    list_tickets,
    make_custom_field,
    make_ticket,
    numbers,
    update_ticket,
)

UNKNOWN_TICKET = ids.encode("Ticket", 999_999)


async def nothing_written() -> None:
    assert await Ticket.all().count() == 0
    assert await TicketEvent.all().count() == 0
    assert await TicketCc.all().count() == 0
    assert await TicketTag.all().count() == 0
    assert await CustomFieldValue.all().count() == 0
    assert await IdempotencyKey.all().count() == 0


# ---------------------------------------------------------------- opening tickets


async def test_end_user_opens_a_request_as_its_requester_via_portal(gql, end_user, org):
    ticket = await make_ticket(gql, end_user, subject="  VPN down  ", description="Since 9am.")
    assert ticket["subject"] == "VPN down"
    assert ticket["description"] == "Since 9am."
    assert ticket["status"] == "NEW"
    assert ticket["via"] == "PORTAL"
    assert ticket["requester"]["id"] == end_user.id
    assert ticket["submitter"]["id"] == end_user.id
    assert ticket["assignee"] is None
    assert ticket["organization"] == {"id": org.id, "name": "Acme"}
    assert ticket["solvedAt"] is None
    stored = await Ticket.get(number=ticket["number"])
    assert stored.requester_id == end_user.row.pk


async def test_agent_opens_a_ticket_on_behalf_of_a_requester_via_web(gql, agent, end_user, org):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id)
    assert ticket["via"] == "WEB"
    assert ticket["requester"]["id"] == end_user.id
    assert ticket["submitter"]["id"] == agent.id
    assert ticket["organization"]["id"] == org.id  # the requester's only organization


async def test_agent_opening_a_ticket_without_requester_is_its_requester(gql, agent):
    ticket = await make_ticket(gql, agent)
    assert ticket["requester"]["id"] == agent.id
    assert ticket["organization"] is None


async def test_agent_sets_every_property_when_opening(gql, agent, end_user, group):
    ticket = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        type="INCIDENT",
        priority="HIGH",
        groupId=group.id,
        assigneeId=agent.id,
        tags=["Billing", "vip", "billing"],
    )
    assert ticket["type"] == "INCIDENT"
    assert ticket["priority"] == "HIGH"
    assert ticket["group"] == {"id": group.id}
    assert ticket["assignee"] == {"id": agent.id}
    assert ticket["status"] == "OPEN"  # an agent is assigned from the start
    assert ticket["closeBlockers"] == []
    tags = await TicketTag.filter(ticket__number=ticket["number"]).values_list("tag", flat=True)
    assert sorted(tags) == ["billing", "vip"]


async def test_ticket_numbers_are_unique_and_increasing(gql, agent, end_user):
    made = [(await make_ticket(gql, who))["number"] for who in (end_user, agent, end_user, agent)]
    assert made == [1, 2, 3, 4]


async def test_tickets_opened_at_once_get_distinct_numbers(gql, agent, end_user, colleague):
    made = await asyncio.gather(
        *(make_ticket(gql, who) for who in (end_user, colleague, agent) * 4)
    )
    assert sorted(t["number"] for t in made) == list(range(1, 13))
    assert await Ticket.all().count() == 12


async def test_ticket_is_fetched_by_number_and_by_node_id(gql, end_user, agent):
    ticket = await make_ticket(gql, end_user, subject="Mouse")
    for person in (end_user, agent):
        by_number = await get_ticket(gql, person, ticket["number"])
        assert by_number["id"] == ticket["id"]
        node = (await gql(NODE_TICKET, {"id": ticket["id"]}, as_=person))["data"]["node"]
        assert node == {"id": ticket["id"], "number": ticket["number"], "subject": "Mouse"}


async def test_unknown_ticket_number_or_id_is_null(gql, agent):
    assert await get_ticket(gql, agent, 12345) is None
    for bogus in (UNKNOWN_TICKET, "bogus", ids.encode("Ticket", "x")):
        assert (await gql(NODE_TICKET, {"id": bogus}, as_=agent))["data"]["node"] is None


async def test_cc_emails_of_unknown_people_become_end_users(gql, agent, end_user, colleague):
    ticket = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        ccEmails=["  New.Person@Example.test ", colleague.email, end_user.email, colleague.email],
    )
    ccs = {cc["email"]: cc["role"] for cc in ticket["ccs"]}
    # The requester is never their own CC; the same person is copied once.
    assert ccs == {"new.person@example.test": "END_USER", colleague.email: "END_USER"}
    created = await User.get(email="new.person@example.test")
    assert created.role is Role.END_USER
    assert await User.filter(email=colleague.email).count() == 1


async def test_end_user_may_copy_people_on_a_request(gql, end_user):
    ticket = await make_ticket(gql, end_user, ccEmails=["boss@acme.test"])
    boss = await User.get(email="boss@acme.test")
    assert [cc["id"] for cc in ticket["ccs"]] == [ids.encode("User", boss.id)]
    assert [cc["email"] for cc in ticket["ccs"]] == [None]  # not theirs to read


async def test_end_user_cannot_set_agent_fields_when_opening(gql, end_user, agent, group):
    payload = await create_ticket(
        gql,
        end_user,
        requesterId=agent.id,
        assigneeId=agent.id,
        groupId=group.id,
        tags=["vip"],
    )
    assert payload["ticket"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_ALLOWED", ["input", "requesterId"]),
        ("NOT_ALLOWED", ["input", "assigneeId"]),
        ("NOT_ALLOWED", ["input", "groupId"]),
        ("NOT_ALLOWED", ["input", "tags"]),
    ]
    await nothing_written()


async def test_end_user_sets_type_priority_and_organization_of_a_request(
    gql, admin, end_user, other_org
):
    from tests.resolvers.people.test_people import MEMBERSHIP

    await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=admin)
    ticket = await make_ticket(
        gql, end_user, type="QUESTION", priority="LOW", organizationId=other_org.id
    )
    assert (ticket["type"], ticket["priority"]) == ("QUESTION", "LOW")
    assert ticket["organization"]["id"] == other_org.id


async def test_a_customer_of_several_organizations_opens_a_ticket_without_one(
    gql, admin, end_user, other_org
):
    from tests.resolvers.people.test_people import MEMBERSHIP

    await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=admin)
    ticket = await make_ticket(gql, end_user)
    assert ticket["organization"] is None


async def test_light_agent_cannot_open_a_ticket(gql, light_agent, end_user):
    result = await gql(
        CREATE_TICKET,
        {"input": {"subject": "x", "description": "y", "requesterId": end_user.id}},
        as_=light_agent,
    )
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    await nothing_written()


async def test_opening_a_ticket_needs_sign_in(gql):
    result = await gql(CREATE_TICKET, {"input": {"subject": "x", "description": "y"}})
    assert error_codes(result) == ["UNAUTHENTICATED"]
    await nothing_written()


async def test_subject_of_250_characters_and_body_of_64_kib_are_accepted(gql, end_user):
    ticket = await make_ticket(gql, end_user, subject="s" * 250, description="d" * 64 * 1024)
    assert len(ticket["subject"]) == 250
    assert len(ticket["description"]) == 64 * 1024


async def test_create_ticket_refuses_bad_input_with_codes_and_writes_nothing(
    gql, admin, agent, light_agent, end_user, other_customer, make_person, group
):
    outsider_agent = await make_person("Ozzie", "ozzie@guichet.test", Role.AGENT)
    await make_custom_field(gql, admin, key="serial", type="NUMBER")
    cases = [
        ({"subject": ""}, "REQUIRED", ["input", "subject"]),
        ({"subject": "   "}, "REQUIRED", ["input", "subject"]),
        ({"subject": "s" * 251}, "TOO_LONG", ["input", "subject"]),
        ({"description": " \n "}, "REQUIRED", ["input", "description"]),
        ({"description": "d" * (64 * 1024 + 1)}, "TOO_LONG", ["input", "description"]),
        ({"ccEmails": ["not an address"]}, "INVALID_EMAIL", ["input", "ccEmails", "0"]),
        ({"ccEmails": ["ok@x.test", "nope"]}, "INVALID_EMAIL", ["input", "ccEmails", "1"]),
        ({"ccEmails": [f"p{i}@x.test" for i in range(51)]}, "TOO_MANY", ["input", "ccEmails"]),
        ({"requesterId": "bogus"}, "NOT_FOUND", ["input", "requesterId"]),
        ({"requesterId": ids.encode("User", 9999)}, "NOT_FOUND", ["input", "requesterId"]),
        ({"requesterId": group.id}, "NOT_FOUND", ["input", "requesterId"]),
        ({"assigneeId": ids.encode("User", 9999)}, "NOT_FOUND", ["input", "assigneeId"]),
        ({"assigneeId": end_user.id}, "NOT_AN_AGENT", ["input", "assigneeId"]),
        ({"assigneeId": light_agent.id}, "NOT_AN_AGENT", ["input", "assigneeId"]),
        (
            {"assigneeId": outsider_agent.id, "groupId": group.id},
            "ASSIGNEE_NOT_IN_GROUP",
            ["input", "assigneeId"],
        ),
        ({"groupId": ids.encode("Group", 9999)}, "NOT_FOUND", ["input", "groupId"]),
        ({"groupId": "bogus"}, "NOT_FOUND", ["input", "groupId"]),
        (
            {"requesterId": other_customer.id, "organizationId": ids.encode("Organization", 1)},
            "NOT_A_MEMBER",
            ["input", "organizationId"],
        ),
        ({"organizationId": "bogus"}, "NOT_FOUND", ["input", "organizationId"]),
        ({"tags": ["ok", "two words"]}, "INVALID_TAG", ["input", "tags", "1"]),
        ({"tags": ["x" * 81]}, "INVALID_TAG", ["input", "tags", "0"]),
        ({"tags": [f"t{i}" for i in range(51)]}, "TOO_MANY", ["input", "tags"]),
        (
            {"customFields": [{"key": "nope", "value": 1}]},
            "UNKNOWN_FIELD",
            ["input", "customFields", "0", "key"],
        ),
        (
            {"customFields": [{"key": "serial", "value": "twelve"}]},
            "INVALID_VALUE",
            ["input", "customFields", "0", "value"],
        ),
        ({"idempotencyKey": "k" * 201}, "TOO_LONG", ["input", "idempotencyKey"]),
        # PostgreSQL text holds no NUL character: refused like any bad input, never a crash.
        ({"subject": "a\x00b"}, "INVALID", ["input", "subject"]),
        ({"description": "a\x00b"}, "INVALID", ["input", "description"]),
        ({"ccEmails": ["a\x00b@x.test"]}, "INVALID_EMAIL", ["input", "ccEmails", "0"]),
        ({"tags": ["a\x00b"]}, "INVALID_TAG", ["input", "tags", "0"]),
        ({"idempotencyKey": "k\x00"}, "INVALID", ["input", "idempotencyKey"]),
    ]
    users_before = await User.all().count()
    for extra, code, field in cases:
        payload = await create_ticket(gql, agent, **{"requesterId": end_user.id, **extra})
        assert payload["ticket"] is None, extra
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], extra
        assert payload["errors"][0]["message"], extra
    assert await User.all().count() == users_before  # no CC became a user
    await nothing_written()


async def test_a_refused_ticket_does_not_use_up_a_number(gql, end_user):
    await create_ticket(gql, end_user, subject="")
    assert (await make_ticket(gql, end_user))["number"] == 1


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "AGENT", "LIGHT_AGENT"])
async def test_staff_see_every_ticket(gql, everyone, other_customer, role):
    ticket = await make_ticket(gql, other_customer, subject="Globex secret")
    person = everyone[role]
    assert (await get_ticket(gql, person, ticket["number"]))["subject"] == "Globex secret"
    node = (await gql(NODE_TICKET, {"id": ticket["id"]}, as_=person))["data"]["node"]
    assert node["number"] == ticket["number"]
    listed = await list_tickets(gql, person)
    assert listed["totalCount"] == 1
    assert numbers(listed) == [ticket["number"]]


async def test_end_user_sees_own_cc_and_shared_organization_tickets(
    gql, agent, end_user, colleague, other_customer
):
    own = await make_ticket(gql, end_user, subject="own")
    colleagues = await make_ticket(gql, colleague, subject="colleague's (shared Acme)")
    copied = await make_ticket(gql, other_customer, subject="cc", ccEmails=[end_user.email])
    hidden = await make_ticket(gql, other_customer, subject="Globex only")
    staff = await make_ticket(gql, agent, subject="internal task")
    visible = {own["number"], colleagues["number"], copied["number"]}
    for ticket in (own, colleagues, copied):
        assert (await get_ticket(gql, end_user, ticket["number"]))["id"] == ticket["id"]
        node = (await gql(NODE_TICKET, {"id": ticket["id"]}, as_=end_user))["data"]["node"]
        assert node["id"] == ticket["id"]
    for ticket in (hidden, staff):
        assert await get_ticket(gql, end_user, ticket["number"]) is None
        assert (await gql(NODE_TICKET, {"id": ticket["id"]}, as_=end_user))["data"]["node"] is None
    listed = await list_tickets(gql, end_user)
    assert listed["totalCount"] == 3
    assert set(numbers(listed)) == visible


async def test_organization_that_does_not_share_keeps_requests_private(
    gql, make_person, other_org, other_customer
):
    coworker = await make_person(
        "Dan Globex", "dan@globex.test", Role.END_USER, organizations=[other_org]
    )
    ticket = await make_ticket(gql, other_customer)
    assert ticket["organization"]["id"] == other_org.id
    assert await get_ticket(gql, coworker, ticket["number"]) is None
    assert (await list_tickets(gql, coworker))["totalCount"] == 0


async def test_end_user_outside_the_organization_cannot_see_its_tickets(
    gql, end_user, other_customer
):
    ticket = await make_ticket(gql, end_user)
    assert await get_ticket(gql, other_customer, ticket["number"]) is None
    assert (await list_tickets(gql, other_customer))["totalCount"] == 0


async def test_every_write_on_an_invisible_ticket_is_not_found(
    gql, agent, end_user, other_customer
):
    ticket = await make_ticket(gql, other_customer)
    closed_id = (await close(gql, agent, await make_ticket(gql, other_customer)))["id"]
    writes = [
        ('updateTicket(input: {id: $id, addCcEmails: ["a@b.test"]})', ticket["id"]),
        ('addComment(input: {ticketId: $id, body: "hi"})', ticket["id"]),
        ("markSolved(ticketId: $id)", ticket["id"]),
        ('createFollowUp(input: {ticketId: $id, description: "again"})', closed_id),
    ]
    events_before = await TicketEvent.all().count()
    for mutation, target in writes:
        for target_id in (target, UNKNOWN_TICKET, "bogus"):
            result = await gql(
                f"mutation($id: ID!) {{ {mutation} {{ errors {{ code }} }} }}",
                {"id": target_id},
                as_=end_user,
            )
            assert result["data"] is None, (mutation, target_id)
            assert error_codes(result) == ["NOT_FOUND"], (mutation, target_id)
    assert await TicketEvent.all().count() == events_before
    assert await Ticket.all().count() == 2
    assert await Comment.all().count() == 0


async def test_agents_see_who_is_involved_but_end_users_not_their_addresses(
    gql, agent, end_user, colleague
):
    query = "query($n: Int!) { ticket(number: $n) { requester { name email } ccs { email } } }"
    ticket = await make_ticket(gql, colleague, ccEmails=["someone@acme.test"])
    seen = (await gql(query, {"n": ticket["number"]}, as_=end_user))["data"]["ticket"]
    assert seen == {
        "requester": {"name": colleague.row.name, "email": None},
        "ccs": [{"email": None}],
    }
    by_agent = (await gql(query, {"n": ticket["number"]}, as_=agent))["data"]["ticket"]
    assert by_agent["requester"]["email"] == colleague.email
    assert by_agent["ccs"] == [{"email": "someone@acme.test"}]


async def test_end_user_cannot_read_tags(gql, agent, end_user, light_agent):
    query = "query($n: Int!) { ticket(number: $n) { number tags } }"
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, tags=["vip", "angry"])
    result = await gql(query, {"n": ticket["number"]}, as_=end_user)
    assert result["data"]["ticket"] == {"number": ticket["number"], "tags": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["errors"][0]["path"] == ["ticket", "tags"]
    for person in (agent, light_agent):
        seen = (await gql(query, {"n": ticket["number"]}, as_=person))["data"]["ticket"]
        assert seen["tags"] == ["angry", "vip"]


async def test_end_user_does_not_see_the_group_of_a_ticket(
    gql, agent, light_agent, end_user, group
):
    query = "query($n: Int!) { ticket(number: $n) { group { id name } } }"
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, groupId=group.id)
    result = await gql(query, {"n": ticket["number"]}, as_=end_user)
    assert result == {"data": {"ticket": {"group": None}}}  # silently, like node(id:)
    for person in (agent, light_agent):
        seen = (await gql(query, {"n": ticket["number"]}, as_=person))["data"]["ticket"]
        assert seen["group"] == {"id": group.id, "name": "Tier 1"}


# ---------------------------------------------------------------- idempotent retries


async def test_retrying_create_ticket_with_the_same_key_returns_the_first_ticket(gql, end_user):
    first = await make_ticket(gql, end_user, subject="Once", idempotencyKey="retry-1")
    again = await make_ticket(gql, end_user, subject="Once", idempotencyKey="retry-1")
    assert again["id"] == first["id"]
    assert again["number"] == first["number"]
    assert await Ticket.all().count() == 1
    assert await TicketEvent.all().count() == 2  # CREATED, and one receipt mailed


async def test_concurrent_retries_with_the_same_key_open_one_ticket(gql, end_user):
    made = await asyncio.gather(
        *(make_ticket(gql, end_user, idempotencyKey="burst") for _ in range(6))
    )
    assert {t["id"] for t in made} == {made[0]["id"]}
    assert await Ticket.all().count() == 1
    assert await TicketEvent.all().count() == 2  # CREATED, and one receipt mailed


async def test_same_key_from_another_user_opens_another_ticket(gql, end_user, colleague):
    mine = await make_ticket(gql, end_user, idempotencyKey="shared-key")
    theirs = await make_ticket(gql, colleague, idempotencyKey="shared-key")
    assert mine["id"] != theirs["id"]
    assert theirs["requester"]["id"] == colleague.id
    assert await Ticket.all().count() == 2


async def test_a_different_key_opens_another_ticket(gql, end_user):
    one = await make_ticket(gql, end_user, idempotencyKey="a")
    two = await make_ticket(gql, end_user, idempotencyKey="b")
    three = await make_ticket(gql, end_user)
    assert len({one["id"], two["id"], three["id"]}) == 3


async def test_an_idempotency_key_is_forgotten_after_24_hours(gql, end_user):
    first = await make_ticket(gql, end_user, idempotencyKey="old")
    await IdempotencyKey.filter(key="old").update(
        created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1)
    )
    again = await make_ticket(gql, end_user, idempotencyKey="old")
    assert again["id"] != first["id"]
    assert await Ticket.all().count() == 2
    assert await IdempotencyKey.filter(key="old").count() == 1


async def test_a_refused_create_does_not_use_up_its_key(gql, end_user):
    refused = await create_ticket(gql, end_user, subject="", idempotencyKey="k1")
    assert refused["errors"][0]["code"] == "REQUIRED"
    refused = await create_ticket(gql, end_user, ccEmails=["bad"], idempotencyKey="k1")
    assert refused["errors"][0]["code"] == "INVALID_EMAIL"
    created = await make_ticket(gql, end_user, idempotencyKey="k1")
    assert created["number"] == 1


# ---------------------------------------------------------------- follow-ups


async def test_follow_up_links_a_new_ticket_to_a_closed_one(gql, agent, end_user, group, org):
    source = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        subject="Broken screen",
        type="PROBLEM",
        priority="URGENT",
        groupId=group.id,
        ccEmails=["cc@acme.test"],
    )
    await close(gql, agent, source)
    result = await gql(
        CREATE_FOLLOW_UP,
        {"input": {"ticketId": source["id"], "description": "It broke again."}},
        as_=agent,
    )
    payload = result["data"]["createFollowUp"]
    assert payload["errors"] == []
    follow_up = payload["ticket"]
    assert follow_up["number"] == source["number"] + 1
    assert follow_up["status"] == "NEW"
    assert follow_up["subject"] == "Broken screen"
    assert follow_up["description"] == "It broke again."
    assert (follow_up["type"], follow_up["priority"]) == ("PROBLEM", "URGENT")
    assert follow_up["requester"]["id"] == end_user.id
    assert follow_up["submitter"]["id"] == agent.id
    assert follow_up["group"]["id"] == group.id
    assert follow_up["organization"]["id"] == org.id
    assert follow_up["assignee"] is None
    assert [cc["email"] for cc in follow_up["ccs"]] == ["cc@acme.test"]
    assert follow_up["followUpOf"] == {"id": source["id"], "number": source["number"]}
    assert follow_up["via"] == "WEB"
    closed = await get_ticket(gql, end_user, source["number"])
    assert closed["status"] == "CLOSED"  # a closed ticket never reopens
    assert closed["followUps"] == [{"id": follow_up["id"], "number": follow_up["number"]}]


async def test_end_user_follows_up_on_their_own_closed_request(gql, agent, end_user):
    source = await make_ticket(gql, end_user)
    await close(gql, agent, source)
    result = await gql(
        CREATE_FOLLOW_UP,
        {"input": {"ticketId": source["id"], "subject": "Again", "description": "Still."}},
        as_=end_user,
    )
    follow_up = result["data"]["createFollowUp"]["ticket"]
    assert follow_up["subject"] == "Again"
    assert follow_up["via"] == "PORTAL"
    assert follow_up["requester"]["id"] == end_user.id
    assert follow_up["followUpOf"]["id"] == source["id"]


async def test_follow_up_of_a_ticket_that_is_not_solved_or_closed_is_refused(gql, agent, end_user):
    """Issue 13 allows follow-ups of SOLVED tickets too (was: CLOSED only)."""
    new = await make_ticket(gql, end_user)
    opened = await make_ticket(gql, end_user)
    await update_ticket(gql, agent, opened["id"], assigneeId=agent.id, status="PENDING")
    for ticket in (new, opened):
        result = await gql(
            CREATE_FOLLOW_UP, {"input": {"ticketId": ticket["id"], "description": "x"}}, as_=agent
        )
        payload = result["data"]["createFollowUp"]
        assert payload["ticket"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("NOT_CLOSED", ["input", "ticketId"])
        ]
    assert await Ticket.all().count() == 2


async def test_follow_up_refuses_bad_input_and_writes_nothing(gql, agent, end_user):
    source = await make_ticket(gql, end_user)
    await close(gql, agent, source)
    before = (await Ticket.all().count(), await TicketEvent.all().count())
    cases = [
        ({"description": ""}, "REQUIRED", ["input", "description"]),
        ({"description": "x" * (64 * 1024 + 1)}, "TOO_LONG", ["input", "description"]),
        ({"description": "x", "subject": " "}, "REQUIRED", ["input", "subject"]),
        ({"description": "x", "subject": "s" * 251}, "TOO_LONG", ["input", "subject"]),
    ]
    for extra, code, field in cases:
        result = await gql(
            CREATE_FOLLOW_UP, {"input": {"ticketId": source["id"], **extra}}, as_=agent
        )
        payload = result["data"]["createFollowUp"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], extra
    assert (await Ticket.all().count(), await TicketEvent.all().count()) == before


async def test_light_agent_cannot_create_a_follow_up(gql, agent, light_agent, end_user):
    source = await make_ticket(gql, end_user)
    await close(gql, agent, source)
    result = await gql(
        CREATE_FOLLOW_UP, {"input": {"ticketId": source["id"], "description": "x"}}, as_=light_agent
    )
    assert error_codes(result) == ["FORBIDDEN"]
    assert await Ticket.all().count() == 1


async def test_follow_ups_are_seen_by_whoever_sees_the_request(
    gql, agent, end_user, colleague, other_customer
):
    source = await make_ticket(gql, end_user)
    await close(gql, agent, source)
    result = await gql(
        CREATE_FOLLOW_UP, {"input": {"ticketId": source["id"], "description": "x"}}, as_=agent
    )
    follow_up = result["data"]["createFollowUp"]["ticket"]
    for person in (end_user, colleague):
        seen = await get_ticket(gql, person, source["number"])
        assert [f["id"] for f in seen["followUps"]] == [follow_up["id"]]
        assert (await get_ticket(gql, person, follow_up["number"]))["followUpOf"]["id"] == (
            source["id"]
        )
    assert await get_ticket(gql, other_customer, follow_up["number"]) is None
    assert await get_ticket(gql, other_customer, source["number"]) is None


# ---------------------------------------------------------------- close blockers


async def test_close_blockers_name_the_missing_assignee(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    assert ticket["closeBlockers"] == [{"code": "ASSIGNEE_REQUIRED", "field": None}]
    seen_by_agent = await get_ticket(gql, agent, ticket["number"])
    assert seen_by_agent["closeBlockers"] == [{"code": "ASSIGNEE_REQUIRED", "field": None}]
    assigned = (await update_ticket(gql, agent, ticket["id"], assigneeId=agent.id))["ticket"]
    assert assigned["closeBlockers"] == []


async def test_comment_on_a_ticket_via_a_cc_is_allowed(gql, agent, other_customer, end_user):
    ticket = await make_ticket(gql, other_customer, ccEmails=[end_user.email])
    payload = await add_comment(gql, end_user, ticket["id"], "Me too.")
    assert payload["errors"] == []
    assert payload["comment"]["public"] is True
