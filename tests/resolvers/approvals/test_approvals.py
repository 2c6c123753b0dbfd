"""Approval requests from every role's side: asking, answering, withdrawing, who sees
them, how they block solving and closing, what they write in the ticket's history and
in the outbox.

Delivery of the outbox (SMTP, retries) is in tests/server/test_outbox.py; the live feeds
in tests/subscriptions/test_approval_requests.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from guichet.models.approvals import ApprovalApprover, ApprovalComment, ApprovalRequest
from guichet.models.outbox import OutboxMessage, OutboxStatus
from guichet.models.people import Role
from guichet.models.tickets import TicketEvent
from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    add_comment,
    close,
    commented,
    comments_of,
    get_ticket,
    history_of,
    make_ticket,
    update_ticket,
    updated,
)

APPROVAL_FIELDS = """
  id subject message status createdAt decidedAt
  ticket { id number }
  createdBy { id }
  approvers { id }
  comments { author { id } body createdAt }
  decidedBy { id }
"""
PAYLOAD = f"approvalRequest {{ {APPROVAL_FIELDS} }} errors {{ code field message }}"

REQUEST_APPROVAL = f"""
mutation($input: RequestApprovalInput!) {{ requestApproval(input: $input) {{ {PAYLOAD} }} }}
"""
RESPOND = f"""
mutation($input: RespondToApprovalInput!) {{ respondToApproval(input: $input) {{ {PAYLOAD} }} }}
"""
WITHDRAW = f"mutation($id: ID!) {{ withdrawApproval(id: $id) {{ {PAYLOAD} }} }}"

MY_REQUESTS = """
query($status: [ApprovalStatus!], $first: Int, $after: String) {
  myApprovalRequests(status: $status, first: $first, after: $after) {
    totalCount
    edges { cursor node { id subject status } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
NODE = """
query($id: ID!) {
  node(id: $id) { id ... on ApprovalRequest { subject status ticket { number } } }
}
"""
TICKET_APPROVALS = """
query($number: Int!) {
  ticket(number: $number) {
    status
    approvalRequests { id status approvers { id } }
    closeBlockers { code field message }
  }
}
"""
MARK_SOLVED = """
mutation($id: ID!) {
  markSolved(ticketId: $id) { ticket { status } errors { code field message } }
}
"""

SUBJECT = "Refund 120 € to Acme"
MESSAGE = "The printer was delivered broken. May I refund the customer?"
APPROVAL_KINDS = {
    "APPROVAL_REQUESTED",
    "APPROVAL_COMMENTED",
    "APPROVAL_APPROVED",
    "APPROVAL_DENIED",
    "APPROVAL_WITHDRAWN",
}


# ---------------------------------------------------------------- helpers


async def request_approval(
    gql, as_, ticket: dict, approvers: list, *, subject: str = SUBJECT, message: str = MESSAGE
) -> dict:
    """The requestApproval payload, errors included; approvers are people or raw ids."""
    approver_ids = [a if isinstance(a, str) else a.id for a in approvers]
    result = await gql(
        REQUEST_APPROVAL,
        {
            "input": {
                "ticketId": ticket["id"],
                "approverIds": approver_ids,
                "subject": subject,
                "message": message,
            }
        },
        as_=as_,
    )
    assert "errors" not in result, result
    return result["data"]["requestApproval"]


async def requested(gql, as_, ticket: dict, approvers: list, **text: str) -> dict:
    payload = await request_approval(gql, as_, ticket, approvers, **text)
    assert payload["errors"] == [], payload["errors"]
    return payload["approvalRequest"]


async def respond(
    gql, as_, approval: dict | str, decision: str | None = None, comment: str | None = None
) -> dict:
    """The respondToApproval result (top-level errors included)."""
    approval_id = approval if isinstance(approval, str) else approval["id"]
    given: dict[str, Any] = {"id": approval_id}
    if decision is not None:
        given["decision"] = decision
    if comment is not None:
        given["comment"] = comment
    return await gql(RESPOND, {"input": given}, as_=as_)


async def responded(gql, as_, approval: dict, decision: str | None = None, comment=None) -> dict:
    result = await respond(gql, as_, approval, decision, comment)
    assert "errors" not in result, result
    payload = result["data"]["respondToApproval"]
    assert payload["errors"] == [], payload["errors"]
    return payload["approvalRequest"]


async def withdraw(gql, as_, approval: dict | str) -> dict:
    approval_id = approval if isinstance(approval, str) else approval["id"]
    return await gql(WITHDRAW, {"id": approval_id}, as_=as_)


async def withdrawn(gql, as_, approval: dict) -> dict:
    result = await withdraw(gql, as_, approval)
    assert "errors" not in result, result
    payload = result["data"]["withdrawApproval"]
    assert payload["errors"] == [], payload["errors"]
    return payload["approvalRequest"]


async def my_requests(gql, as_, **args: Any) -> dict:
    result = await gql(MY_REQUESTS, args, as_=as_)
    assert "errors" not in result, result
    return result["data"]["myApprovalRequests"]


async def node(gql, as_, approval_id: str) -> dict | None:
    result = await gql(NODE, {"id": approval_id}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["node"]


async def ticket_approvals(gql, as_, ticket: dict) -> dict | None:
    result = await gql(TICKET_APPROVALS, {"number": ticket["number"]}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["ticket"]


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def pk(approval: dict) -> int:
    found = ids.decode_as(approval["id"], "ApprovalRequest")
    assert found is not None
    return found


async def written() -> dict[str, int]:
    """How many rows approvals write, to prove a refusal wrote nothing."""
    return {
        "requests": await ApprovalRequest.all().count(),
        "approvers": await ApprovalApprover.all().count(),
        "comments": await ApprovalComment.all().count(),
        "events": await TicketEvent.filter(kind__in=sorted(APPROVAL_KINDS)).count(),
        "outbox": await OutboxMessage.exclude(subject__startswith="[#").count(),
    }


async def approval_events(gql, as_, ticket: dict) -> list[dict]:
    history = await history_of(gql, as_, ticket["number"], first=100)
    return [e["node"] for e in history["edges"] if e["node"]["kind"] in APPROVAL_KINDS]


async def mails_to(person) -> list[OutboxMessage]:
    # Not the ticket's own mail (receipt, solved notice...: subjects "[#n] ...").
    return (
        await OutboxMessage.filter(recipient=person.email)
        .exclude(subject__startswith="[#")
        .order_by("id")
    )


@pytest.fixture
async def ticket(gql, agent, end_user) -> dict:
    """Alice's request, assigned to Agnès (so only approvals can block solving it)."""
    return await make_ticket(
        gql, agent, requesterId=end_user.id, assigneeId=agent.id, subject="Broken printer"
    )


# ---------------------------------------------------------------- asking


async def test_an_agent_asks_an_end_user_to_approve(gql, agent, end_user, ticket):
    approval = await requested(gql, agent, ticket, [end_user], subject=f"  {SUBJECT} ")
    assert approval["id"] == ids.encode("ApprovalRequest", pk(approval))
    assert approval | {"id": None, "createdAt": None} == {
        "id": None,
        "subject": SUBJECT,  # trimmed
        "message": MESSAGE,
        "status": "PENDING",
        "createdAt": None,
        "decidedAt": None,
        "ticket": {"id": ticket["id"], "number": ticket["number"]},
        "createdBy": {"id": agent.id},
        "approvers": [{"id": end_user.id}],
        "comments": [],
        "decidedBy": None,
    }
    assert approval["createdAt"]
    # In the ticket's history, not public, naming the request.
    [event] = await approval_events(gql, agent, ticket)
    assert event["kind"] == "APPROVAL_REQUESTED"
    assert event["public"] is False
    assert event["actor"] == {"id": agent.id}
    assert event["via"] == "WEB"
    assert event["data"]["approvalRequest"] == approval["id"]
    assert event["data"]["approvers"] == [end_user.id]


async def test_the_approver_is_mailed_the_ticket_number_subject_message_and_a_link(
    app, gql, agent, end_user, ticket
):
    approval = await requested(gql, agent, ticket, [end_user])
    [mail] = await mails_to(end_user)
    assert mail.channel == "EMAIL"
    assert mail.status == OutboxStatus.PENDING
    assert mail.attempts == 0
    assert f"#{ticket['number']}" in mail.subject
    assert SUBJECT in mail.subject
    assert f"#{ticket['number']}" in mail.body
    assert SUBJECT in mail.body
    assert MESSAGE in mail.body
    public_url = app.state.settings.public_url
    assert f"{public_url}/approvals/{approval['id']}" in mail.body
    # Nobody else is mailed.
    assert await OutboxMessage.exclude(subject__startswith="[#").count() == 1


@pytest.mark.parametrize("role", ["AGENT", "ADMIN", "OWNER"])
async def test_agents_admins_and_the_owner_ask_for_approvals(gql, everyone, light_agent, role):
    asker = everyone[role]
    ticket = await make_ticket(gql, asker, requesterId=everyone["END_USER"].id)
    approval = await requested(gql, asker, ticket, [light_agent])
    assert approval["createdBy"] == {"id": asker.id}


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "END_USER"])
async def test_light_agents_and_end_users_may_not_ask(gql, everyone, agent, ticket, role):
    before = await written()
    result = await gql(
        REQUEST_APPROVAL,
        {
            "input": {
                "ticketId": ticket["id"],
                "approverIds": [agent.id],
                "subject": SUBJECT,
                "message": MESSAGE,
            }
        },
        as_=everyone[role],
    )
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["data"] is None
    assert await written() == before


@pytest.mark.parametrize("role", ["END_USER", "LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_approvers_of_every_role(gql, make_person, agent, ticket, role):
    approver = await make_person("Approver", f"approver-{role.lower()}@x.test", Role[role])
    approval = await requested(gql, agent, ticket, [approver])
    assert approval["approvers"] == [{"id": approver.id}]
    assert [e["node"]["id"] for e in (await my_requests(gql, approver))["edges"]] == [
        approval["id"]
    ]


async def test_several_approvers_keep_their_order(gql, agent, admin, light_agent, end_user, ticket):
    approval = await requested(gql, agent, ticket, [light_agent, end_user, admin])
    assert approval["approvers"] == [{"id": p.id} for p in (light_agent, end_user, admin)]
    assert {m.recipient for m in await OutboxMessage.exclude(subject__startswith="[#")} == {
        light_agent.email,
        end_user.email,
        admin.email,
    }


async def test_asking_about_an_unknown_or_malformed_ticket_is_not_found(gql, agent, end_user):
    for ticket_id in (ids.encode("Ticket", 999_999), "garbage", end_user.id):
        result = await gql(
            REQUEST_APPROVAL,
            {
                "input": {
                    "ticketId": ticket_id,
                    "approverIds": [end_user.id],
                    "subject": SUBJECT,
                    "message": MESSAGE,
                }
            },
            as_=agent,
        )
        assert error_codes(result) == ["NOT_FOUND"], ticket_id
    assert await ApprovalRequest.all().count() == 0


def _bad_requests(agent_id: str, approver_id: str, other_id: str) -> list:
    def input_(**given: Any) -> dict:
        return {"approvers": [approver_id], "subject": SUBJECT, "message": MESSAGE} | given

    return [
        (input_(approvers=[]), [("NO_APPROVERS", ["input", "approverIds"])]),
        (
            input_(approvers=[f"User{n}" for n in range(21)]),
            [("TOO_MANY_APPROVERS", ["input", "approverIds"])],
        ),
        (
            input_(approvers=[approver_id, other_id, approver_id]),
            [("DUPLICATE_APPROVER", ["input", "approverIds", "2"])],
        ),
        (
            input_(approvers=[approver_id, agent_id]),
            [("SELF_APPROVAL", ["input", "approverIds", "1"])],
        ),
        (
            input_(approvers=[approver_id, ids.encode("User", 999_999)]),
            [("UNKNOWN_APPROVER", ["input", "approverIds", "1"])],
        ),
        (input_(approvers=["garbage"]), [("UNKNOWN_APPROVER", ["input", "approverIds", "0"])]),
        (
            input_(approvers=[ids.encode("Ticket", 1)]),
            [("UNKNOWN_APPROVER", ["input", "approverIds", "0"])],
        ),
        (
            input_(approvers=[ids.encode("User", 10**17)]),
            [("UNKNOWN_APPROVER", ["input", "approverIds", "0"])],
        ),
        (input_(subject=""), [("REQUIRED", ["input", "subject"])]),
        (input_(subject=" \n "), [("REQUIRED", ["input", "subject"])]),
        (input_(subject="x" * 251), [("TOO_LONG", ["input", "subject"])]),
        (input_(subject="Re\x00fund"), [("INVALID", ["input", "subject"])]),
        (input_(message=""), [("REQUIRED", ["input", "message"])]),
        (input_(message="x" * (64 * 1024 + 1)), [("TOO_LONG", ["input", "message"])]),
        (input_(message="a\x00b"), [("INVALID", ["input", "message"])]),
        (
            input_(subject="", message=""),
            [("REQUIRED", ["input", "subject"]), ("REQUIRED", ["input", "message"])],
        ),
    ]


async def test_bad_requests_are_refused_with_codes_and_write_nothing(
    gql, agent, end_user, colleague, ticket
):
    before = await written()
    for given, expected in _bad_requests(agent.id, end_user.id, colleague.id):
        payload = await request_approval(
            gql,
            agent,
            ticket,
            given["approvers"],
            subject=given["subject"],
            message=given["message"],
        )
        assert payload["approvalRequest"] is None, given
        assert codes(payload) == expected, given
        assert all(e["message"] for e in payload["errors"])
    assert await written() == before


async def test_the_longest_subject_and_message_are_accepted(gql, agent, end_user, ticket):
    approval = await requested(
        gql, agent, ticket, [end_user], subject="s" * 250, message="m" * (64 * 1024)
    )
    assert (len(approval["subject"]), len(approval["message"])) == (250, 64 * 1024)


async def test_a_closed_ticket_takes_no_approval_request(gql, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id)
    await close(gql, agent, ticket)
    before = await written()
    payload = await request_approval(gql, agent, ticket, [end_user])
    assert codes(payload) == [("TICKET_CLOSED", ["input", "ticketId"])]
    assert await written() == before


# ---------------------------------------------------------------- answering


async def test_the_approver_approves(gql, agent, end_user, ticket):
    approval = await requested(gql, agent, ticket, [end_user])
    decided = await responded(gql, end_user, approval, "APPROVE")
    assert decided["status"] == "APPROVED"
    assert decided["decidedBy"] == {"id": end_user.id}
    assert decided["decidedAt"] >= approval["createdAt"]
    assert decided["comments"] == []
    # Read again, as the asking agent.
    assert (await node(gql, agent, approval["id"]))["status"] == "APPROVED"
    [_, event] = await approval_events(gql, agent, ticket)
    assert (event["kind"], event["public"], event["actor"], event["via"]) == (
        "APPROVAL_APPROVED",
        False,
        {"id": end_user.id},
        "PORTAL",
    )
    assert event["data"]["approvalRequest"] == approval["id"]
    # The asking agent is mailed the decision.
    [mail] = await mails_to(agent)
    assert "approved" in mail.subject
    assert SUBJECT in mail.subject
    assert f"#{ticket['number']}" in mail.subject
    assert approval["id"] in mail.body


async def test_the_approver_denies_with_a_reason(gql, agent, light_agent, ticket):
    approval = await requested(gql, agent, ticket, [light_agent])
    decided = await responded(gql, light_agent, approval, "DENY", "Not under warranty.")
    assert (decided["status"], decided["decidedBy"]) == ("DENIED", {"id": light_agent.id})
    assert [(c["author"], c["body"]) for c in decided["comments"]] == [
        ({"id": light_agent.id}, "Not under warranty.")
    ]
    events = await approval_events(gql, agent, ticket)
    assert [e["kind"] for e in events] == [
        "APPROVAL_REQUESTED",
        "APPROVAL_COMMENTED",
        "APPROVAL_DENIED",
    ]
    assert events[1]["data"]["comment"] == "Not under warranty."
    assert {e["data"]["approvalRequest"] for e in events} == {approval["id"]}
    [mail] = await mails_to(agent)
    assert "denied" in mail.subject
    assert "Not under warranty." in mail.body


async def test_a_comment_alone_asks_for_more_and_keeps_the_request_pending(
    gql, agent, end_user, ticket
):
    approval = await requested(gql, agent, ticket, [end_user])
    asked = await responded(gql, end_user, approval, comment="Which invoice is it?")
    assert asked["status"] == "PENDING"
    assert (asked["decidedBy"], asked["decidedAt"]) == (None, None)
    assert [(c["author"], c["body"]) for c in asked["comments"]] == [
        ({"id": end_user.id}, "Which invoice is it?")
    ]
    [mail] = await mails_to(agent)
    assert "commented" in mail.subject
    assert "Which invoice is it?" in mail.body
    # Then decides.
    await responded(gql, end_user, approval, comment="Found it.")
    decided = await responded(gql, end_user, approval, "APPROVE")
    assert decided["status"] == "APPROVED"
    assert [c["body"] for c in decided["comments"]] == ["Which invoice is it?", "Found it."]
    assert [e["kind"] for e in await approval_events(gql, agent, ticket)] == [
        "APPROVAL_REQUESTED",
        "APPROVAL_COMMENTED",
        "APPROVAL_COMMENTED",
        "APPROVAL_APPROVED",
    ]
    assert len(await mails_to(agent)) == 3


@pytest.mark.parametrize(
    ("decision", "comment", "expected"),
    [
        (None, None, [("EMPTY_RESPONSE", ["input"])]),
        (None, "", [("EMPTY_RESPONSE", ["input"])]),
        (None, "  \n", [("EMPTY_RESPONSE", ["input"])]),
        (None, "x" * (64 * 1024 + 1), [("TOO_LONG", ["input", "comment"])]),
        ("APPROVE", "x" * (64 * 1024 + 1), [("TOO_LONG", ["input", "comment"])]),
        (None, "a\x00b", [("INVALID", ["input", "comment"])]),
        ("DENY", "a\x00b", [("INVALID", ["input", "comment"])]),
    ],
)
async def test_bad_responses_are_refused_with_codes_and_write_nothing(
    gql, agent, end_user, ticket, decision, comment, expected
):
    approval = await requested(gql, agent, ticket, [end_user])
    before = await written()
    result = await respond(gql, end_user, approval, decision, comment)
    assert "errors" not in result, result
    payload = result["data"]["respondToApproval"]
    assert payload["approvalRequest"] is None
    assert codes(payload) == expected
    assert await written() == before
    assert (await node(gql, agent, approval["id"]))["status"] == "PENDING"


async def test_a_decision_with_a_blank_comment_records_only_the_decision(
    gql, agent, end_user, ticket
):
    approval = await requested(gql, agent, ticket, [end_user])
    decided = await responded(gql, end_user, approval, "APPROVE", "   ")
    assert (decided["status"], decided["comments"]) == ("APPROVED", [])
    assert [e["kind"] for e in await approval_events(gql, agent, ticket)] == [
        "APPROVAL_REQUESTED",
        "APPROVAL_APPROVED",
    ]


async def test_the_first_decision_decides(gql, agent, admin, end_user, light_agent, ticket):
    approval = await requested(gql, agent, ticket, [end_user, light_agent])
    await responded(gql, light_agent, approval, comment="Looks fine to me.")
    await responded(gql, end_user, approval, "DENY")
    before = await written()
    for person, decision, comment in (
        (light_agent, "APPROVE", None),
        (light_agent, None, "Too late?"),
        (end_user, "APPROVE", "Changed my mind."),
        (end_user, "DENY", None),
    ):
        result = await respond(gql, person, approval, decision, comment)
        payload = result["data"]["respondToApproval"]
        assert codes(payload) == [("ALREADY_DECIDED", ["input", "id"])]
    assert await written() == before
    final = await node(gql, admin, approval["id"])
    assert final["status"] == "DENIED"


async def test_two_approvers_deciding_at_once_one_decides(
    gql, agent, end_user, light_agent, ticket
):
    approval = await requested(gql, agent, ticket, [end_user, light_agent])
    results = await asyncio.gather(
        respond(gql, end_user, approval, "APPROVE"),
        respond(gql, light_agent, approval, "DENY"),
    )
    payloads = [r["data"]["respondToApproval"] for r in results]
    decided = [p for p in payloads if not p["errors"]]
    refused = [p for p in payloads if p["errors"]]
    assert len(decided) == 1 and len(refused) == 1, payloads
    assert codes(refused[0]) == [("ALREADY_DECIDED", ["input", "id"])]
    stored = await ApprovalRequest.get(id=pk(approval))
    assert stored.status == decided[0]["approvalRequest"]["status"]
    kinds = [e["kind"] for e in await approval_events(gql, agent, ticket)]
    assert kinds.count("APPROVAL_APPROVED") + kinds.count("APPROVAL_DENIED") == 1
    assert len(await mails_to(agent)) == 1


async def test_a_withdrawn_request_cannot_be_decided(gql, agent, end_user, ticket):
    approval = await requested(gql, agent, ticket, [end_user])
    await withdrawn(gql, agent, approval)
    for decision, comment in (("APPROVE", None), ("DENY", None), (None, "Hello?")):
        payload = (await respond(gql, end_user, approval, decision, comment))["data"][
            "respondToApproval"
        ]
        assert codes(payload) == [("ALREADY_DECIDED", ["input", "id"])]
    assert (await ApprovalRequest.get(id=pk(approval))).status == "WITHDRAWN"


@pytest.mark.parametrize(
    "who", ["asker", "AGENT", "ADMIN", "OWNER", "LIGHT_AGENT", "requester", "colleague", "outsider"]
)
async def test_only_an_approver_answers_anyone_else_gets_not_found(
    gql, make_person, everyone, agent, colleague, other_customer, ticket, who
):
    approver = await make_person("Manager", "manager@guichet.test", Role.LIGHT_AGENT)
    approval = await requested(gql, agent, ticket, [approver])
    person = {
        "asker": agent,
        "AGENT": await make_person("Other Agent", "other-agent@guichet.test", Role.AGENT),
        "ADMIN": everyone["ADMIN"],
        "OWNER": everyone["OWNER"],
        "LIGHT_AGENT": everyone["LIGHT_AGENT"],
        "requester": everyone["END_USER"],
        "colleague": colleague,
        "outsider": other_customer,
    }[who]
    before = await written()
    unknown = ids.encode("ApprovalRequest", 999_999)
    for decision, comment in (("APPROVE", None), ("DENY", "No."), (None, "Why?")):
        result = await respond(gql, person, approval, decision, comment)
        assert error_codes(result) == ["NOT_FOUND"]
        assert result["data"] is None
        # Exactly as for a request that does not exist.
        missing = await respond(gql, person, unknown, decision, comment)
        assert [e["message"] for e in missing["errors"]] == [e["message"] for e in result["errors"]]
    assert await written() == before


async def test_answering_a_malformed_or_huge_id_is_not_found(gql, end_user):
    for approval_id in ("garbage", ids.encode("Ticket", 1), ids.encode("ApprovalRequest", 10**17)):
        result = await respond(gql, end_user, approval_id, "APPROVE")
        assert error_codes(result) == ["NOT_FOUND"], approval_id
        result = await withdraw(gql, end_user, approval_id)
        assert error_codes(result) == ["NOT_FOUND"], approval_id
        assert await node(gql, end_user, approval_id) is None


# ---------------------------------------------------------------- withdrawing


async def test_the_asking_agent_withdraws(gql, agent, end_user, ticket):
    approval = await requested(gql, agent, ticket, [end_user])
    gone = await withdrawn(gql, agent, approval)
    assert gone["status"] == "WITHDRAWN"
    events = await approval_events(gql, agent, ticket)
    assert [(e["kind"], e["actor"], e["public"]) for e in events] == [
        ("APPROVAL_REQUESTED", {"id": agent.id}, False),
        ("APPROVAL_WITHDRAWN", {"id": agent.id}, False),
    ]
    assert events[1]["data"]["approvalRequest"] == approval["id"]
    # Withdrawn requests leave the approver's tasks, but are still theirs to read.
    assert (await my_requests(gql, end_user))["totalCount"] == 0
    assert (await node(gql, end_user, approval["id"]))["status"] == "WITHDRAWN"


@pytest.mark.parametrize("role", ["ADMIN", "OWNER"])
async def test_an_admin_withdraws_an_agents_request(gql, everyone, agent, end_user, ticket, role):
    approval = await requested(gql, agent, ticket, [end_user])
    assert (await withdrawn(gql, everyone[role], approval))["status"] == "WITHDRAWN"
    [_, event] = await approval_events(gql, agent, ticket)
    assert (event["kind"], event["actor"]) == ("APPROVAL_WITHDRAWN", {"id": everyone[role].id})


@pytest.mark.parametrize("who", ["AGENT", "LIGHT_AGENT", "approver", "requester", "outsider"])
async def test_nobody_else_withdraws(
    gql, make_person, everyone, agent, other_customer, ticket, who
):
    approver = await make_person("Manager", "manager@guichet.test", Role.AGENT)
    approval = await requested(gql, agent, ticket, [approver])
    person = {
        "AGENT": await make_person("Other Agent", "other-agent@guichet.test", Role.AGENT),
        "LIGHT_AGENT": everyone["LIGHT_AGENT"],
        "approver": approver,
        "requester": everyone["END_USER"],
        "outsider": other_customer,
    }[who]
    before = await written()
    result = await withdraw(gql, person, approval)
    assert error_codes(result) == ["NOT_FOUND"]
    missing = await withdraw(gql, person, ids.encode("ApprovalRequest", 999_999))
    assert [e["message"] for e in missing["errors"]] == [e["message"] for e in result["errors"]]
    assert await written() == before


async def test_a_decided_or_withdrawn_request_cannot_be_withdrawn(gql, agent, end_user, ticket):
    approved = await requested(gql, agent, ticket, [end_user])
    await responded(gql, end_user, approved, "APPROVE")
    gone = await requested(gql, agent, ticket, [end_user], subject="Second thoughts")
    await withdrawn(gql, agent, gone)
    before = await written()
    for approval, status in ((approved, "APPROVED"), (gone, "WITHDRAWN")):
        payload = (await withdraw(gql, agent, approval))["data"]["withdrawApproval"]
        assert codes(payload) == [("ALREADY_DECIDED", ["id"])]
        assert (await ApprovalRequest.get(id=pk(approval))).status == status
    assert await written() == before


# ---------------------------------------------------------------- who sees requests


async def test_my_approval_requests_lists_the_viewers_pending_ones_newest_first(
    gql, agent, admin, end_user, colleague, ticket
):
    first = await requested(gql, agent, ticket, [end_user], subject="First")
    await requested(gql, agent, ticket, [colleague], subject="Not hers")
    second = await requested(gql, admin, ticket, [end_user, colleague], subject="Second")
    third = await requested(gql, agent, ticket, [end_user], subject="Third")
    decided = await requested(gql, agent, ticket, [end_user], subject="Decided")
    await responded(gql, end_user, decided, "DENY")

    mine = await my_requests(gql, end_user)
    assert mine["totalCount"] == 3
    assert [e["node"]["subject"] for e in mine["edges"]] == ["Third", "Second", "First"]
    assert {e["node"]["status"] for e in mine["edges"]} == {"PENDING"}

    # Pages.
    page = await my_requests(gql, end_user, first=2)
    assert [e["node"]["id"] for e in page["edges"]] == [third["id"], second["id"]]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    rest = await my_requests(gql, end_user, first=2, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == [first["id"]]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["edges"][-1]["cursor"],
    }

    # By status.
    denied = await my_requests(gql, end_user, status=["DENIED"])
    assert [e["node"]["subject"] for e in denied["edges"]] == ["Decided"]
    every = await my_requests(gql, end_user, status=["PENDING", "DENIED", "APPROVED"])
    assert every["totalCount"] == 4
    assert (await my_requests(gql, colleague))["totalCount"] == 2
    # The asking agent decides none of them.
    assert (await my_requests(gql, agent))["totalCount"] == 0
    assert (await my_requests(gql, agent, status=["PENDING", "DENIED"]))["totalCount"] == 0


async def test_a_non_approver_end_user_never_learns_a_request_exists(
    gql, agent, light_agent, end_user, colleague, other_customer, ticket
):
    hers = await requested(gql, agent, ticket, [end_user], subject="Hers")
    bobs = await requested(gql, agent, ticket, [colleague], subject="Bob's")
    managers = await requested(gql, agent, ticket, [light_agent], subject="The manager's")

    # The approver reads hers, not the others, by id.
    assert await node(gql, end_user, hers["id"]) == {
        "id": hers["id"],
        "subject": "Hers",
        "status": "PENDING",
        "ticket": {"number": ticket["number"]},
    }
    for person, approval in (
        (end_user, bobs),
        (end_user, managers),
        (colleague, hers),
        (other_customer, hers),
    ):
        assert await node(gql, person, approval["id"]) is None
    # On the ticket, an end user sees only the requests they decide.
    assert [
        r["id"] for r in (await ticket_approvals(gql, end_user, ticket))["approvalRequests"]
    ] == [hers["id"]]
    assert [
        r["id"] for r in (await ticket_approvals(gql, colleague, ticket))["approvalRequests"]
    ] == [bobs["id"]]
    assert await ticket_approvals(gql, other_customer, ticket) is None
    # Staff see them all.
    for person in (agent, light_agent):
        seen = (await ticket_approvals(gql, person, ticket))["approvalRequests"]
        assert [r["id"] for r in seen] == [hers["id"], bobs["id"], managers["id"]]
        assert (await node(gql, person, bobs["id"]))["subject"] == "Bob's"


async def test_an_end_user_approver_reads_the_ticket_but_does_not_write_on_it(
    gql, agent, end_user, other_customer, ticket
):
    """Carol (Globex) may not see Alice's ticket, until she is asked to approve on it."""
    await commented(gql, agent, ticket["id"], "A technician comes tomorrow.")
    await commented(gql, agent, ticket["id"], "Internal: bill Acme for it.", public=False)
    assert await get_ticket(gql, other_customer, ticket["number"]) is None

    approval = await requested(gql, agent, ticket, [other_customer])
    seen = await get_ticket(gql, other_customer, ticket["number"])
    assert (seen["id"], seen["subject"]) == (ticket["id"], "Broken printer")
    comments = await comments_of(gql, other_customer, ticket["number"])
    assert [e["node"]["body"] for e in comments["edges"]] == ["A technician comes tomorrow."]

    # Read only.
    before = await written()
    for result in (
        await gql(
            "mutation($input: AddCommentInput!) { addComment(input: $input) { errors { code } } }",
            {"input": {"ticketId": ticket["id"], "body": "Approved, go ahead."}},
            as_=other_customer,
        ),
        await gql(
            "mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { errors { code } } }",
            {"input": {"id": ticket["id"], "addCcEmails": ["carol@globex.test"]}},
            as_=other_customer,
        ),
    ):
        assert error_codes(result) == ["FORBIDDEN"], result
    solved = await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=other_customer)
    assert [e["code"] for e in solved["data"]["markSolved"]["errors"]] == ["NOT_REQUESTER"]
    assert await written() == before
    assert (await get_ticket(gql, agent, ticket["number"]))["ccs"] == []

    # For as long as the request exists, decided or withdrawn.
    await responded(gql, other_customer, approval, "APPROVE")
    assert await get_ticket(gql, other_customer, ticket["number"]) is not None
    await withdrawn(gql, agent, await requested(gql, agent, ticket, [other_customer]))
    assert await get_ticket(gql, other_customer, ticket["number"]) is not None
    await ApprovalRequest.all().delete()
    assert await get_ticket(gql, other_customer, ticket["number"]) is None


async def test_an_end_user_approver_does_not_follow_up_on_the_closed_ticket(
    gql, agent, end_user, other_customer, ticket
):
    approval = await requested(gql, agent, ticket, [other_customer])
    await responded(gql, other_customer, approval, "APPROVE")
    await close(gql, agent, ticket)
    assert (await get_ticket(gql, other_customer, ticket["number"]))["status"] == "CLOSED"
    follow_up = """
    mutation($input: CreateFollowUpInput!) {
      createFollowUp(input: $input) { ticket { number } errors { code } }
    }
    """
    given = {"input": {"ticketId": ticket["id"], "description": "Also the scanner."}}
    result = await gql(follow_up, given, as_=other_customer)
    assert error_codes(result) == ["FORBIDDEN"], result
    # The requester may.
    result = await gql(follow_up, given, as_=end_user)
    assert result["data"]["createFollowUp"]["errors"] == []


async def test_the_requester_who_is_also_an_approver_still_writes(gql, agent, end_user, ticket):
    await requested(gql, agent, ticket, [end_user])
    payload = await add_comment(gql, end_user, ticket["id"], "Also, the toner leaks.")
    assert payload["errors"] == []


# ---------------------------------------------------------------- history visibility


async def test_approval_events_are_for_staff_and_for_each_requests_approvers(
    gql, agent, light_agent, end_user, colleague, ticket
):
    hers = await requested(gql, agent, ticket, [end_user], subject="Hers")
    await responded(gql, end_user, hers, comment="How much?")
    bobs = await requested(gql, agent, ticket, [colleague], subject="Bob's")
    await responded(gql, colleague, bobs, "DENY")
    managers = await requested(gql, agent, ticket, [light_agent], subject="Manager's")
    await withdrawn(gql, agent, managers)

    def about(events: list[dict]) -> list[tuple[str, str]]:
        return [(e["kind"], e["data"]["approvalRequest"]) for e in events]

    everything = [
        ("APPROVAL_REQUESTED", hers["id"]),
        ("APPROVAL_COMMENTED", hers["id"]),
        ("APPROVAL_REQUESTED", bobs["id"]),
        ("APPROVAL_DENIED", bobs["id"]),
        ("APPROVAL_REQUESTED", managers["id"]),
        ("APPROVAL_WITHDRAWN", managers["id"]),
    ]
    for person in (agent, light_agent):
        events = await approval_events(gql, person, ticket)
        assert about(events) == everything
        assert not any(e["public"] for e in events)
    # Both are Acme members and see the ticket; each only their own request's events.
    assert about(await approval_events(gql, end_user, ticket)) == everything[:2]
    assert about(await approval_events(gql, colleague, ticket)) == everything[2:4]
    # The total counts alike.
    history = await history_of(gql, end_user, ticket["number"], first=100)
    assert history["totalCount"] == len(history["edges"])


async def test_a_requester_who_is_no_approver_sees_no_approval_event(
    gql, agent, light_agent, end_user, ticket
):
    approval = await requested(gql, agent, ticket, [light_agent])
    await responded(gql, light_agent, approval, "APPROVE", "OK")
    assert await approval_events(gql, end_user, ticket) == []
    assert len(await approval_events(gql, agent, ticket)) == 3


# ---------------------------------------------------------------- blocking solve and close


async def test_a_pending_request_blocks_solving_whoever_tries(
    gql, admin, owner, agent, end_user, ticket
):
    approval = await requested(gql, agent, ticket, [end_user])
    seen = await ticket_approvals(gql, agent, ticket)
    assert [b["code"] for b in seen["closeBlockers"]] == ["APPROVAL_PENDING"]
    assert seen["closeBlockers"][0]["message"]
    before = await written()
    for person in (agent, admin, owner):
        payload = await update_ticket(gql, person, ticket["id"], status="SOLVED")
        assert payload["ticket"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("APPROVAL_PENDING", ["input", "status"])
        ]
    marked = (await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=end_user))["data"]["markSolved"]
    assert [(e["code"], e["field"]) for e in marked["errors"]] == [
        ("APPROVAL_PENDING", ["ticketId"])
    ]
    assert await written() == before
    assert (await get_ticket(gql, agent, ticket["number"]))["status"] == "OPEN"

    # Decided, it blocks no more.
    await responded(gql, end_user, approval, comment="One question first.")
    assert (await update_ticket(gql, agent, ticket["id"], status="SOLVED"))["errors"] != []
    await responded(gql, end_user, approval, "APPROVE")
    assert (await ticket_approvals(gql, agent, ticket))["closeBlockers"] == []
    assert (await updated(gql, agent, ticket["id"], status="SOLVED"))["status"] == "SOLVED"


@pytest.mark.parametrize("ending", ["DENY", "WITHDRAW"])
async def test_a_denied_or_withdrawn_request_blocks_no_more(gql, agent, end_user, ticket, ending):
    approval = await requested(gql, agent, ticket, [end_user])
    if ending == "DENY":
        await responded(gql, end_user, approval, "DENY")
    else:
        await withdrawn(gql, agent, approval)
    marked = (await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=end_user))["data"]["markSolved"]
    assert marked == {"ticket": {"status": "SOLVED"}, "errors": []}


async def test_every_pending_request_must_be_decided(gql, agent, end_user, light_agent, ticket):
    one = await requested(gql, agent, ticket, [end_user])
    other = await requested(gql, agent, ticket, [light_agent])
    await responded(gql, end_user, one, "APPROVE")
    payload = await update_ticket(gql, agent, ticket["id"], status="SOLVED")
    assert [e["code"] for e in payload["errors"]] == ["APPROVAL_PENDING"]
    await responded(gql, light_agent, other, "APPROVE")
    assert (await updated(gql, agent, ticket["id"], status="SOLVED"))["status"] == "SOLVED"


async def test_a_pending_request_on_a_solved_ticket_blocks_closing(gql, agent, end_user, ticket):
    await updated(gql, agent, ticket["id"], status="SOLVED")
    approval = await requested(gql, agent, ticket, [end_user])
    payload = await update_ticket(gql, agent, ticket["id"], status="CLOSED")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("APPROVAL_PENDING", ["input", "status"])
    ]
    assert (await get_ticket(gql, agent, ticket["number"]))["status"] == "SOLVED"
    await responded(gql, end_user, approval, "APPROVE")
    assert (await updated(gql, agent, ticket["id"], status="CLOSED"))["status"] == "CLOSED"


async def test_close_blockers_of_an_unassigned_ticket_with_a_pending_request(gql, agent, end_user):
    ticket = await make_ticket(gql, agent, requesterId=end_user.id)
    assert [b["code"] for b in (await ticket_approvals(gql, agent, ticket))["closeBlockers"]] == [
        "ASSIGNEE_REQUIRED"
    ]
    await requested(gql, agent, ticket, [end_user])
    blockers = (await ticket_approvals(gql, end_user, ticket))["closeBlockers"]
    assert sorted(b["code"] for b in blockers) == ["APPROVAL_PENDING", "ASSIGNEE_REQUIRED"]
    # Assigning in the same update as solving is still blocked by the request.
    payload = await update_ticket(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    assert [e["code"] for e in payload["errors"]] == ["APPROVAL_PENDING"]
    assert (await get_ticket(gql, agent, ticket["number"]))["assignee"] is None


async def test_other_changes_go_on_while_a_request_is_pending(gql, agent, end_user, ticket):
    await requested(gql, agent, ticket, [end_user])
    changed = await updated(gql, agent, ticket["id"], status="PENDING", priority="HIGH")
    assert (changed["status"], changed["priority"]) == ("PENDING", "HIGH")
    await commented(gql, agent, ticket["id"], "Waiting for your approval.")
