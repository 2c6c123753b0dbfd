"""Changing tickets: properties, the status rules and who may change what."""

from __future__ import annotations

import pytest

from guichet.models.people import Role, User
from guichet.models.tickets import Ticket, TicketCc, TicketEvent, TicketTag
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    MARK_SOLVED,
    UPDATE_TICKET,
    close,
    get_ticket,
    make_ticket,
    update_ticket,
    updated,
)


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def mark_solved(gql, as_, ticket_id: str) -> dict:
    result = await gql(MARK_SOLVED, {"id": ticket_id}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["markSolved"]


async def snapshot(number: int) -> tuple:
    """What a refused change must leave as it was."""
    ticket = await Ticket.get(number=number)
    return (
        ticket.subject, ticket.status, ticket.type, ticket.priority, ticket.assignee_id,
        ticket.group_id, ticket.organization_id, ticket.updated_at,
        await TicketEvent.filter(ticket_id=ticket.id).count(),
        sorted(await TicketTag.filter(ticket_id=ticket.id).values_list("tag", flat=True)),
        await TicketCc.filter(ticket_id=ticket.id).count(),
        await User.all().count(),
    )  # fmt: skip


# ---------------------------------------------------------------- agents change properties


async def test_agent_changes_every_property(gql, agent, end_user, group):
    ticket = await make_ticket(gql, end_user)
    changed = await updated(
        gql,
        agent,
        ticket["id"],
        subject="  Printer fixed?  ",
        type="TASK",
        priority="URGENT",
        groupId=group.id,
        assigneeId=agent.id,
        tags=["Hardware", "hardware", "floor-2"],
        addCcEmails=["facilities@acme.test"],
    )
    assert changed["subject"] == "Printer fixed?"
    assert (changed["type"], changed["priority"]) == ("TASK", "URGENT")
    assert changed["group"] == {"id": group.id}
    assert changed["assignee"] == {"id": agent.id}
    assert [cc["email"] for cc in changed["ccs"]] == ["facilities@acme.test"]
    assert changed["description"] == ticket["description"]
    assert changed["updatedAt"] > ticket["updatedAt"]
    tags = await TicketTag.filter(ticket__number=ticket["number"]).values_list("tag", flat=True)
    assert sorted(tags) == ["floor-2", "hardware"]


async def test_only_given_fields_change_and_null_clears(gql, agent, end_user, group):
    ticket = await make_ticket(
        gql, agent, requesterId=end_user.id, type="INCIDENT", priority="HIGH", groupId=group.id
    )
    same = await updated(gql, agent, ticket["id"], priority="LOW")
    assert (same["type"], same["priority"], same["group"]) == ("INCIDENT", "LOW", {"id": group.id})
    cleared = await updated(gql, agent, ticket["id"], type=None, priority=None, groupId=None)
    assert (cleared["type"], cleared["priority"], cleared["group"]) == (None, None, None)
    assert cleared["subject"] == ticket["subject"]


async def test_tags_are_replaced_as_a_whole(gql, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, tags=["a", "b"])
    await updated(gql, agent, ticket["id"], tags=["b", "c"])
    tags = await TicketTag.filter(ticket__number=ticket["number"]).values_list("tag", flat=True)
    assert sorted(tags) == ["b", "c"]
    await updated(gql, agent, ticket["id"], tags=[])
    assert not await TicketTag.filter(ticket__number=ticket["number"]).exists()


async def test_an_update_that_changes_nothing_records_nothing(gql, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, priority="LOW", tags=["x"])
    events = await TicketEvent.all().count()
    same = await updated(
        gql, agent, ticket["id"], priority="LOW", tags=["X"], addCcEmails=[end_user.email]
    )
    assert await TicketEvent.all().count() == events
    assert same["updatedAt"] == ticket["updatedAt"]


async def test_adding_a_cc_twice_copies_them_once(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user, ccEmails=["boss@acme.test"])
    again = await updated(gql, agent, ticket["id"], addCcEmails=["BOSS@acme.test", "new@acme.test"])
    assert sorted(cc["email"] for cc in again["ccs"]) == ["boss@acme.test", "new@acme.test"]
    assert await TicketCc.all().count() == 2


async def test_agent_moves_a_ticket_to_another_organization_of_the_requester(
    gql, admin, agent, end_user, other_org
):
    from tests.resolvers.people.test_people import MEMBERSHIP

    ticket = await make_ticket(gql, end_user)
    await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=admin)
    moved = await updated(gql, agent, ticket["id"], organizationId=other_org.id)
    assert moved["organization"]["id"] == other_org.id


# ---------------------------------------------------------------- status rules


async def test_assigning_an_agent_opens_a_new_ticket(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    assert ticket["status"] == "NEW"
    assigned = await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    assert assigned["status"] == "OPEN"


async def test_setting_a_group_alone_keeps_a_ticket_new(gql, agent, end_user, group):
    ticket = await make_ticket(gql, end_user)
    assert (await updated(gql, agent, ticket["id"], groupId=group.id))["status"] == "NEW"


async def test_assigning_with_an_explicit_status_keeps_that_status(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    pending = await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="PENDING")
    assert pending["status"] == "PENDING"


async def test_solved_needs_an_assignee(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    before = await snapshot(ticket["number"])
    payload = await update_ticket(gql, agent, ticket["id"], status="SOLVED")
    assert payload["ticket"] is None
    assert codes(payload) == [("ASSIGNEE_REQUIRED", ["input", "status"])]
    assert await snapshot(ticket["number"]) == before


async def test_agent_solves_an_assigned_ticket_and_reopens_it(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    solved = await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    assert solved["status"] == "SOLVED"
    assert solved["solvedAt"] is not None
    assert solved["closeBlockers"] == []
    reopened = await updated(gql, agent, ticket["id"], status="OPEN")
    assert reopened["status"] == "OPEN"
    assert reopened["solvedAt"] is None


async def test_a_solved_ticket_cannot_lose_its_assignee(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    before = await snapshot(ticket["number"])
    payload = await update_ticket(gql, agent, ticket["id"], assigneeId=None)
    assert codes(payload) == [("ASSIGNEE_REQUIRED", ["input", "assigneeId"])]
    assert await snapshot(ticket["number"]) == before
    # Reopening while unassigning is fine.
    reopened = await updated(gql, agent, ticket["id"], assigneeId=None, status="OPEN")
    assert (reopened["status"], reopened["assignee"]) == ("OPEN", None)


@pytest.mark.parametrize(
    ("path", "target", "code"),
    [
        ([], "CLOSED", "INVALID_TRANSITION"),  # NEW -> CLOSED skips SOLVED
        (["OPEN"], "NEW", "INVALID_TRANSITION"),  # NEW is only ever the first status
        (["PENDING"], "NEW", "INVALID_TRANSITION"),
        (["ON_HOLD"], "CLOSED", "INVALID_TRANSITION"),
        (["SOLVED", "CLOSED"], "OPEN", "TICKET_CLOSED"),
    ],
)
async def test_status_transitions_that_are_refused(gql, agent, end_user, path, target, code):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    for status in path:
        await updated(gql, agent, ticket["id"], status=status)
    before = await snapshot(ticket["number"])
    payload = await update_ticket(gql, agent, ticket["id"], status=target)
    expected_field = ["input", "id"] if code == "TICKET_CLOSED" else ["input", "status"]
    assert codes(payload) == [(code, expected_field)]
    assert payload["errors"][0]["message"]
    assert await snapshot(ticket["number"]) == before


@pytest.mark.parametrize(
    "path", [["OPEN"], ["PENDING"], ["ON_HOLD"], ["PENDING", "OPEN"], ["SOLVED", "CLOSED"]]
)
async def test_status_transitions_that_are_allowed(gql, agent, end_user, path):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id, assigneeId=agent.id)
    for status in path:
        assert (await updated(gql, agent, ticket["id"], status=status))["status"] == status


async def test_a_closed_ticket_is_final(gql, agent, end_user, group):
    ticket = await make_ticket(gql, end_user)
    closed = await close(gql, agent, ticket)
    assert closed["status"] == "CLOSED"
    assert closed["solvedAt"] is not None  # closing keeps when it was solved
    before = await snapshot(ticket["number"])
    for change in (
        {"subject": "New subject"},
        {"priority": "LOW"},
        {"groupId": group.id},
        {"tags": ["late"]},
        {"addCcEmails": ["late@acme.test"]},
        {"status": "CLOSED"},
    ):
        payload = await update_ticket(gql, agent, ticket["id"], **change)
        assert codes(payload) == [("TICKET_CLOSED", ["input", "id"])], change
    assert await snapshot(ticket["number"]) == before


# ---------------------------------------------------------------- who may change what


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Mine now"),
        ("status", "PENDING"),
        ("type", "TASK"),
        ("priority", "URGENT"),
        ("groupId", None),
        ("assigneeId", None),
        ("tags", ["vip"]),
    ],
)
async def test_end_user_cannot_change_agent_fields(gql, end_user, field, value):
    ticket = await make_ticket(gql, end_user)
    before = await snapshot(ticket["number"])
    payload = await update_ticket(gql, end_user, ticket["id"], **{field: value})
    assert codes(payload) == [("NOT_ALLOWED", ["input", field])]
    assert await snapshot(ticket["number"]) == before


async def test_end_user_adds_ccs_to_their_request(gql, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    changed = await updated(gql, end_user, ticket["id"], addCcEmails=[colleague.email])
    assert [cc["id"] for cc in changed["ccs"]] == [colleague.id]


async def test_a_colleague_adds_ccs_to_a_shared_request(gql, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    changed = await updated(gql, colleague, ticket["id"], addCcEmails=["x@acme.test"])
    assert len(changed["ccs"]) == 1


async def test_light_agent_cannot_update_tickets(gql, light_agent, end_user):
    ticket = await make_ticket(gql, end_user)
    before = await snapshot(ticket["number"])
    result = await gql(
        UPDATE_TICKET, {"input": {"id": ticket["id"], "priority": "HIGH"}}, as_=light_agent
    )
    assert result["data"] is None
    assert error_codes(result) == ["FORBIDDEN"]
    assert await snapshot(ticket["number"]) == before


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "AGENT"])
async def test_agents_and_above_update_any_ticket(gql, everyone, other_customer, role):
    ticket = await make_ticket(gql, other_customer)
    changed = await updated(gql, everyone[role], ticket["id"], priority="HIGH")
    assert changed["priority"] == "HIGH"


async def test_update_of_an_invisible_or_unknown_ticket_is_not_found(
    gql, agent, end_user, other_customer
):
    ticket = await make_ticket(gql, other_customer)
    before = await snapshot(ticket["number"])
    for who, target in (
        (end_user, ticket["id"]),
        (agent, ids.encode("Ticket", 999)),
        (agent, "bogus"),
        (agent, end_user.id),  # an id of another type
    ):
        result = await gql(UPDATE_TICKET, {"input": {"id": target, "addCcEmails": []}}, as_=who)
        assert error_codes(result) == ["NOT_FOUND"], target
    assert await snapshot(ticket["number"]) == before


async def test_update_refuses_bad_input_with_codes_and_writes_nothing(
    gql, agent, light_agent, end_user, other_customer, make_person, group, other_org
):
    ticket = await make_ticket(gql, end_user)
    outsider_agent = await make_person("Ozzie", "ozzie@guichet.test", Role.AGENT)
    cases = [
        ({"subject": ""}, "REQUIRED", ["input", "subject"]),
        ({"subject": None}, "REQUIRED", ["input", "subject"]),
        ({"subject": "s" * 251}, "TOO_LONG", ["input", "subject"]),
        ({"subject": "\x00"}, "INVALID", ["input", "subject"]),
        (
            {"addCcEmails": ["fine@x.test", "not-mail"]},
            "INVALID_EMAIL",
            ["input", "addCcEmails", "1"],
        ),
        ({"groupId": ids.encode("Group", 999)}, "NOT_FOUND", ["input", "groupId"]),
        ({"groupId": "bogus"}, "NOT_FOUND", ["input", "groupId"]),
        ({"assigneeId": "bogus"}, "NOT_FOUND", ["input", "assigneeId"]),
        ({"assigneeId": ids.encode("User", 999)}, "NOT_FOUND", ["input", "assigneeId"]),
        ({"assigneeId": other_customer.id}, "NOT_AN_AGENT", ["input", "assigneeId"]),
        ({"assigneeId": light_agent.id}, "NOT_AN_AGENT", ["input", "assigneeId"]),
        (
            {"groupId": group.id, "assigneeId": outsider_agent.id},
            "ASSIGNEE_NOT_IN_GROUP",
            ["input", "assigneeId"],
        ),
        ({"organizationId": other_org.id}, "NOT_A_MEMBER", ["input", "organizationId"]),
        ({"organizationId": "bogus"}, "NOT_FOUND", ["input", "organizationId"]),
        ({"tags": ["two words"]}, "INVALID_TAG", ["input", "tags", "0"]),
        (
            {"customFields": [{"key": "nope", "value": "x"}]},
            "UNKNOWN_FIELD",
            ["input", "customFields", "0", "key"],
        ),
        # A valid change alongside an invalid one is not applied either.
        (
            {"priority": "HIGH", "subject": "ok", "addCcEmails": ["bad"]},
            "INVALID_EMAIL",
            ["input", "addCcEmails", "0"],
        ),
        ({"priority": "HIGH", "status": "CLOSED"}, "INVALID_TRANSITION", ["input", "status"]),
    ]
    before = await snapshot(ticket["number"])
    for change, code, field in cases:
        payload = await update_ticket(gql, agent, ticket["id"], **change)
        assert payload["ticket"] is None, change
        assert codes(payload) == [(code, field)], change
        assert await snapshot(ticket["number"]) == before, change


# ---------------------------------------------------------------- markSolved


async def test_end_user_marks_their_assigned_request_solved(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    payload = await mark_solved(gql, end_user, ticket["id"])
    assert payload["errors"] == []
    assert payload["ticket"]["status"] == "SOLVED"
    assert payload["ticket"]["solvedAt"] is not None
    event = await TicketEvent.filter(field="status").order_by("-id").first()
    assert (event.actor_id, event.via, event.public) == (end_user.row.pk, "PORTAL", True)


async def test_end_user_cannot_mark_an_unassigned_request_solved(gql, end_user):
    ticket = await make_ticket(gql, end_user)
    before = await snapshot(ticket["number"])
    payload = await mark_solved(gql, end_user, ticket["id"])
    assert payload["ticket"] is None
    assert codes(payload) == [("ASSIGNEE_REQUIRED", ["ticketId"])]
    assert await snapshot(ticket["number"]) == before


async def test_only_the_requester_marks_a_request_solved(gql, agent, end_user, colleague):
    """Staff are refused before this (issue 13: see test_staff_solve_through_update_ticket)."""
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    before = await snapshot(ticket["number"])
    payload = await mark_solved(gql, colleague, ticket["id"])
    assert codes(payload) == [("NOT_REQUESTER", ["ticketId"])]
    assert await snapshot(ticket["number"]) == before


async def test_marking_someone_elses_hidden_request_solved_is_not_found(
    gql, agent, end_user, other_customer
):
    ticket = await make_ticket(gql, other_customer)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    result = await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=end_user)
    assert error_codes(result) == ["NOT_FOUND"]
    assert (await get_ticket(gql, agent, ticket["number"]))["status"] == "OPEN"


async def test_a_closed_request_cannot_be_marked_solved(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await close(gql, agent, ticket)
    payload = await mark_solved(gql, end_user, ticket["id"])
    assert codes(payload) == [("TICKET_CLOSED", ["ticketId"])]


async def test_marking_a_solved_request_solved_again_changes_nothing(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    events = await TicketEvent.all().count()
    payload = await mark_solved(gql, end_user, ticket["id"])
    assert payload["errors"] == []
    assert payload["ticket"]["status"] == "SOLVED"
    assert await TicketEvent.all().count() == events
