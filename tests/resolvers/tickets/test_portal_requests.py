"""Staff in the portal and the customer's side of a request (resolvers/tickets/
portal_requests.py): `createTicket(portal: true)`, light agents filing requests, markSolved
for end users only, follow-ups of SOLVED requests, and who reads `ccEmails`."""

from __future__ import annotations

import pytest

from guichet.models.people import Role
from guichet.models.tickets import Comment, Ticket, TicketCc, TicketEvent
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.tickets import tickets
from tests.conftest import error_codes
from tests.resolvers.attachments_helpers import PNG, TICKET_ATTACHMENTS, ticket_with_files
from tests.resolvers.tickets_helpers import (
    CREATE_FOLLOW_UP,
    MARK_SOLVED,
    close,
    comments_of,
    create_ticket,
    get_ticket,
    make_custom_field,
    make_ticket,
    update_ticket,
    updated,
)

CC_EMAILS = "query($number: Int!) { ticket(number: $number) { ccEmails } }"


def codes(payload: dict) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# ---------------------------------------------------------------- createTicket(portal: true)


@pytest.mark.parametrize("role", ["AGENT", "ADMIN", "OWNER"])
async def test_staff_file_their_own_request_through_the_portal(gql, everyone, role):
    person = everyone[role]
    ticket = await make_ticket(gql, person, portal=True, type="QUESTION")
    assert ticket["requester"]["id"] == person.id
    assert ticket["submitter"]["id"] == person.id
    assert (ticket["via"], ticket["status"], ticket["type"]) == ("PORTAL", "NEW", "QUESTION")
    assert ticket["description"] == "It smokes."


async def test_without_portal_an_agent_keeps_the_agent_form(gql, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, priority="HIGH", tags=["vip"])
    assert (ticket["via"], ticket["priority"]) == ("WEB", "HIGH")
    assert ticket["requester"]["id"] == end_user.id


async def test_the_portal_form_refuses_staff_fields(gql, agent, end_user, group):
    payload = await create_ticket(
        gql, agent, portal=True, requesterId=end_user.id, priority="HIGH",
        assigneeId=agent.id, groupId=group.id, tags=["vip"],
    )  # fmt: skip
    assert payload["ticket"] is None
    assert sorted(codes(payload)) == sorted(
        ("NOT_ALLOWED", ["input", field])
        for field in ("requesterId", "priority", "assigneeId", "groupId", "tags")
    )
    assert await Ticket.all().count() == 0


async def test_the_portal_form_shows_staff_only_the_public_custom_fields(gql, admin, agent):
    await make_custom_field(gql, admin, key="serial", visibility="PUBLIC", requiredForEndUsers=True)
    await make_custom_field(gql, admin, key="cost", title="Cost", visibility="AGENTS_ONLY")
    missing = await create_ticket(gql, agent, portal=True)
    assert [e["code"] for e in missing["errors"]] == ["REQUIRED"]
    internal = await create_ticket(
        gql, agent, portal=True,
        customFields=[{"key": "serial", "value": "S1"}, {"key": "cost", "value": "12"}],
    )  # fmt: skip
    assert [e["code"] for e in internal["errors"]] == ["UNKNOWN_FIELD"]
    filed = await create_ticket(
        gql, agent, portal=True, customFields=[{"key": "serial", "value": "S1"}]
    )
    assert filed["errors"] == []
    # Without portal, the agent form requires nothing of the agent.
    assert (await create_ticket(gql, agent))["errors"] == []


async def test_a_customer_may_say_portal_too(gql, end_user, org):
    ticket = await make_ticket(gql, end_user, portal=True)
    assert (ticket["via"], ticket["requester"]["id"]) == ("PORTAL", end_user.id)
    refused = await create_ticket(gql, end_user, portal=True, priority="LOW")
    assert codes(refused) == [("NOT_ALLOWED", ["input", "priority"])]


# ---------------------------------------------------------------- light agents


async def test_a_light_agent_files_a_request_whose_description_is_an_internal_note(
    gql, light_agent, agent
):
    ticket = await make_ticket(
        gql, light_agent, portal=True, description="My badge is broken.", ccEmails=["x@acme.test"]
    )
    assert (ticket["requester"]["id"], ticket["via"]) == (light_agent.id, "PORTAL")
    assert ticket["description"] == ""
    note = await Comment.get(ticket__number=ticket["number"])
    assert (note.body, note.public, note.author_id) == (
        "My badge is broken.",
        False,
        light_agent.row.pk,
    )
    seen = await comments_of(gql, agent, ticket["number"])
    assert [(e["node"]["body"], e["node"]["public"]) for e in seen["edges"]] == [
        ("My badge is broken.", False)
    ]
    event = await TicketEvent.get(ticket__number=ticket["number"], kind="COMMENT_ADDED")
    assert event.public is False


async def test_a_customer_copied_on_a_light_agents_request_never_reads_its_description(
    gql, light_agent, make_person
):
    copied = await make_person("Cc", "cc@acme.test", Role.END_USER)
    ticket = await make_ticket(
        gql, light_agent, portal=True, description="Secret detail.", ccEmails=["cc@acme.test"]
    )
    seen = await get_ticket(gql, copied, ticket["number"])
    assert seen["description"] == ""
    conversation = await comments_of(gql, copied, ticket["number"])
    assert (conversation["totalCount"], conversation["edges"]) == (0, [])
    history = await gql(
        "query($n: Int!) { ticket(number: $n) { history { edges { node { kind data } } } } }",
        {"n": ticket["number"]},
        as_=copied,
    )
    kinds = [e["node"]["kind"] for e in history["data"]["ticket"]["history"]["edges"]]
    assert "COMMENT_ADDED" not in kinds


async def test_a_light_agents_files_go_with_the_internal_note(gql, light_agent, make_person):
    copied = await make_person("Cc", "cc@acme.test", Role.END_USER)
    payload = await ticket_with_files(
        gql, light_agent, [("badge.png", PNG, "image/png")], portal=True, ccEmails=["cc@acme.test"]
    )
    assert payload["errors"] == []
    note = await Comment.get(ticket__number=payload["ticket"]["number"])
    [attached] = payload["ticket"]["attachments"]
    assert attached["comment"] == {"id": ids.encode("Comment", note.id)}
    seen = await gql(TICKET_ATTACHMENTS, {"number": payload["ticket"]["number"]}, as_=copied)
    assert seen["data"]["ticket"]["attachments"] == []


async def test_a_light_agent_without_portal_is_still_refused(gql, light_agent, end_user):
    result = await gql(
        'mutation { createTicket(input: {subject: "s", description: "d"}) { errors { code } } }',
        as_=light_agent,
    )
    assert error_codes(result) == ["FORBIDDEN"]
    assert "portal: true" in result["errors"][0]["message"]
    assert await Ticket.all().count() == 0


# ---------------------------------------------------------------- markSolved


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_staff_solve_through_update_ticket(gql, everyone, agent, role):
    person = everyone[role]
    # Even their own request, filed through the portal: staff solve with updateTicket.
    own = await make_ticket(gql, person, portal=True)
    await updated(gql, agent, own["id"], assigneeId=agent.id)
    result = await gql(MARK_SOLVED, {"id": own["id"]}, as_=person)
    assert error_codes(result) == ["FORBIDDEN"]
    assert "updateTicket" in result["errors"][0]["message"]
    assert (await Ticket.get(number=own["number"])).status == "OPEN"


async def test_the_requester_still_marks_their_request_solved(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    result = await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=end_user)
    assert result["data"]["markSolved"]["ticket"]["status"] == "SOLVED"


# ---------------------------------------------------------------- follow-ups


async def follow_up(gql, person, source: dict) -> dict:
    result = await gql(
        CREATE_FOLLOW_UP, {"input": {"ticketId": source["id"], "description": "Again."}}, as_=person
    )
    assert "errors" not in result, result
    return result["data"]["createFollowUp"]


async def solved(gql, agent, ticket: dict) -> dict:
    return await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")


async def test_a_follow_up_can_be_made_from_a_solved_request(gql, agent, end_user):
    source = await make_ticket(gql, end_user, ccEmails=["cc@acme.test"])
    await solved(gql, agent, source)
    made = await follow_up(gql, end_user, source)
    assert made["errors"] == []
    ticket = made["ticket"]
    assert (ticket["followUpOf"]["id"], ticket["status"]) == (source["id"], "NEW")
    assert ticket["requester"]["id"] == end_user.id
    assert await cc_emails(gql, end_user, ticket["number"]) == ["cc@acme.test"]
    assert (await Ticket.get(number=source["number"])).status == "SOLVED"  # unchanged


async def test_the_customer_asking_is_the_follow_ups_requester(
    gql, agent, end_user, colleague, org
):
    source = await make_ticket(gql, end_user)
    await close(gql, agent, source)
    ticket = (await follow_up(gql, colleague, source))["ticket"]
    assert ticket["requester"]["id"] == colleague.id
    assert ticket["organization"]["id"] == org.id
    # Alice, who asked first, stays in the loop as a CC.
    assert [c["id"] for c in ticket["ccs"]] == [end_user.id]
    assert await get_ticket(gql, end_user, ticket["number"]) is not None


async def test_a_cc_outside_the_organization_follows_up_in_their_own(
    gql, agent, end_user, other_customer, other_org
):
    source = await make_ticket(gql, end_user, ccEmails=["carol@globex.test"])
    await solved(gql, agent, source)
    ticket = (await follow_up(gql, other_customer, source))["ticket"]
    assert ticket["requester"]["id"] == other_customer.id
    assert ticket["organization"]["id"] == other_org.id  # Carol is not in Acme
    assert [c["id"] for c in ticket["ccs"]] == [end_user.id]


async def test_staff_follow_ups_keep_the_requester(gql, agent, end_user):
    source = await make_ticket(gql, end_user)
    await solved(gql, agent, source)
    ticket = (await follow_up(gql, agent, source))["ticket"]
    assert (ticket["requester"]["id"], ticket["submitter"]["id"]) == (end_user.id, agent.id)
    assert ticket["ccs"] == []


async def test_a_customer_who_does_not_take_part_cannot_follow_up(
    gql, agent, end_user, other_customer
):
    source = await make_ticket(gql, end_user)
    await solved(gql, agent, source)
    result = await gql(
        CREATE_FOLLOW_UP,
        {"input": {"ticketId": source["id"], "description": "x"}},
        as_=other_customer,
    )
    assert error_codes(result) == ["NOT_FOUND"]
    assert await Ticket.all().count() == 1


# ---------------------------------------------------------------- ccEmails


async def cc_emails(gql, person, number: int) -> list[str] | None:
    result = await gql(CC_EMAILS, {"number": number}, as_=person)
    assert "errors" not in result, result
    ticket = result["data"]["ticket"]
    return None if ticket is None else ticket["ccEmails"]


async def test_cc_emails_list_every_address_copied(gql, agent, end_user, colleague, light_agent):
    ticket = await make_ticket(gql, end_user, ccEmails=["New.Person@Example.com", "bob@acme.test"])
    await updated(gql, end_user, ticket["id"], addCcEmails=["later@example.com"])
    expected = ["new.person@example.com", "bob@acme.test", "later@example.com"]
    for person in (end_user, colleague, agent, light_agent):
        assert await cc_emails(gql, person, ticket["number"]) == expected


async def test_cc_emails_are_hidden_from_who_cannot_see_the_ticket_or_only_decides(
    gql, agent, end_user, other_customer
):
    ticket = await make_ticket(gql, end_user, ccEmails=["bob@acme.test"])
    assert await cc_emails(gql, other_customer, ticket["number"]) is None
    asked = await gql(
        "mutation($input: RequestApprovalInput!) { requestApproval(input: $input) { errors { code } } }",
        {
            "input": {
                "ticketId": ticket["id"],
                "approverIds": [other_customer.id],
                "subject": "s",
                "message": "m",
            }
        },
        as_=agent,
    )
    assert asked["data"]["requestApproval"]["errors"] == []
    # Carol now reads the ticket to decide, and still not who is copied.
    assert await cc_emails(gql, other_customer, ticket["number"]) == []


async def test_the_requester_adds_ccs_and_bad_addresses_are_refused(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    refused = await update_ticket(
        gql, end_user, ticket["id"], addCcEmails=["ok@x.test", "not an address"]
    )
    assert codes(refused) == [("INVALID_EMAIL", ["input", "addCcEmails", "1"])]
    assert await cc_emails(gql, end_user, ticket["number"]) == []
    assert (await update_ticket(gql, end_user, ticket["id"], addCcEmails=["ok@x.test"]))[
        "errors"
    ] == []
    assert await cc_emails(gql, end_user, ticket["number"]) == ["ok@x.test"]


async def test_bad_cc_addresses_refuse_a_new_request(gql, end_user):
    payload = await create_ticket(gql, end_user, ccEmails=["a@b.test", "@nope", "x\x00@y.test"])
    assert codes(payload) == [("INVALID_EMAIL", ["input", "ccEmails", "1"])]
    assert await Ticket.all().count() == 0


async def test_cc_emails_match_the_orm(app, gql, agent, end_user, other_customer):
    made = [
        await make_ticket(gql, end_user, ccEmails=[f"p{j}@x.test" for j in range(i)])
        for i in range(4)
    ]
    keys = [ids.decode_as(t["id"], "Ticket") for t in made] + [999_999]
    for person, sees in ((agent, True), (end_user, True), (other_customer, False)):
        context = Context(app.state.settings, person.viewer, app.state.bus)
        found = await tickets.cc_emails_by_ticket(context, keys)
        for key, emails in zip(keys, found, strict=True):
            ccs = await TicketCc.filter(ticket_id=key).order_by("id").prefetch_related("user")
            assert emails == ([cc.user.email for cc in ccs] if sees else [])
