"""A ticket's history: every change is an event with its actor, channel and visibility,
listed oldest first, and end users never see (nor count) the internal ones."""

from __future__ import annotations

from guichet.models.tickets import TicketEvent
from guichet.resolvers import ids
from tests.resolvers.tickets_helpers import (
    CREATE_FOLLOW_UP,
    MARK_SOLVED,
    close,
    commented,
    history_of,
    make_custom_field,
    make_ticket,
    update_ticket,
    updated,
)

EVENT_NODE = "query($id: ID!) { node(id: $id) { id ... on TicketEvent { kind public } } }"


def changes(history: dict) -> list[dict]:
    """The events of the change itself: the mail it caused (NOTIFICATION_SENT, by the
    system) aside, tested in tests/resolvers/mail/test_ticket_mail.py."""
    return [e for e in history["edges"] if e["node"]["kind"] != "NOTIFICATION_SENT"]


def summary(history: dict) -> list[tuple]:
    """(kind, field, previous, new, public) of each event but the mail's."""
    return [
        (e["node"]["kind"], e["node"]["field"], e["node"]["previousValue"],
         e["node"]["newValue"], e["node"]["public"])
        for e in changes(history)
    ]  # fmt: skip


async def test_creation_is_recorded_with_its_actor_and_channel(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user, subject="Help")
    history = await history_of(gql, agent, ticket["number"])
    assert history["totalCount"] == 2  # and the receipt mailed to the requester
    created = history["edges"][0]["node"]
    assert created["kind"] == "CREATED"
    assert created["actor"] == {"id": end_user.id}
    assert created["via"] == "PORTAL"
    assert created["public"] is True
    assert created["data"] == {"number": ticket["number"], "subject": "Help", "status": "NEW"}
    assert created["ticket"] == {"number": ticket["number"]}
    assert created["createdAt"]


async def test_opening_with_ccs_tags_and_values_records_each(gql, admin, agent, end_user):
    await make_custom_field(gql, admin, key="plan", type="DROPDOWN", options=["Pro"])
    await make_custom_field(gql, admin, key="risk", visibility="AGENTS_ONLY")
    ticket = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        ccEmails=["cc@acme.test"],
        tags=["vip"],
        customFields=[{"key": "plan", "value": "Pro"}, {"key": "risk", "value": "high"}],
    )
    history = await history_of(gql, agent, ticket["number"])
    assert summary(history) == [
        ("CREATED", None, None, None, True),
        ("CC_ADDED", None, None, None, True),
        ("FIELD_CHANGED", "tags", [], ["vip"], False),
        ("FIELD_CHANGED", "customFields.plan", None, "Pro", True),
        ("FIELD_CHANGED", "customFields.risk", None, "high", False),
    ]
    assert all(e["node"]["via"] == "WEB" for e in changes(history))
    assert all(e["node"]["actor"] == {"id": agent.id} for e in changes(history))
    cc = await _user_id("cc@acme.test")
    assert history["edges"][1]["node"]["data"] == {"user": cc}


async def _user_id(email: str) -> str:
    from guichet.models.people import User

    return ids.encode("User", (await User.get(email=email)).id)


async def test_each_field_change_records_previous_and_new_values(
    gql, admin, agent, end_user, group, other_org
):
    from tests.resolvers.people.test_people import MEMBERSHIP

    await gql(MEMBERSHIP, {"org": other_org.id, "user": end_user.id}, as_=admin)
    ticket = await make_ticket(gql, end_user, subject="Old", organizationId=other_org.id)
    await updated(
        gql, agent, ticket["id"], subject="New", type="TASK", priority="HIGH", groupId=group.id,
        assigneeId=agent.id, tags=["a"],
    )  # fmt: skip
    org = (await gql("{ me { organizations { id name } } }", as_=end_user))["data"]["me"]
    acme = next(o["id"] for o in org["organizations"] if o["name"] == "Acme")
    await updated(gql, agent, ticket["id"], organizationId=acme, priority=None, tags=["b", "a"])
    await updated(gql, agent, ticket["id"], status="SOLVED")
    history = await history_of(gql, agent, ticket["number"])
    assert summary(history)[1:] == [
        ("FIELD_CHANGED", "subject", "Old", "New", True),
        ("FIELD_CHANGED", "type", None, "TASK", True),
        ("FIELD_CHANGED", "priority", None, "HIGH", True),
        ("FIELD_CHANGED", "group", None, group.id, False),
        ("FIELD_CHANGED", "assignee", None, agent.id, True),
        ("FIELD_CHANGED", "status", "NEW", "OPEN", True),
        ("FIELD_CHANGED", "tags", [], ["a"], False),
        ("FIELD_CHANGED", "priority", "HIGH", None, True),
        ("FIELD_CHANGED", "organization", other_org.id, acme, True),
        ("FIELD_CHANGED", "tags", ["a"], ["a", "b"], False),
        ("FIELD_CHANGED", "status", "OPEN", "SOLVED", True),
    ]
    assert {e["node"]["actor"]["id"] for e in changes(history)[1:]} == {agent.id}
    assert {e["node"]["via"] for e in changes(history)[1:]} == {"WEB"}


async def test_comments_are_recorded_and_internal_notes_are_not_public(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    reply = await commented(gql, end_user, ticket["id"], "Hello")
    note = await commented(gql, agent, ticket["id"], "Psst", public=False)
    history = await history_of(gql, agent, ticket["number"])
    comments = [e["node"] for e in history["edges"] if e["node"]["kind"] == "COMMENT_ADDED"]
    assert [(c["data"], c["public"], c["via"], c["actor"]["id"]) for c in comments] == [
        ({"comment": reply["id"], "public": True}, True, "PORTAL", end_user.id),
        ({"comment": note["id"], "public": False}, False, "WEB", agent.id),
    ]


async def test_cc_added_later_is_recorded(gql, agent, end_user, colleague):
    ticket = await make_ticket(gql, end_user)
    await updated(gql, end_user, ticket["id"], addCcEmails=[colleague.email])
    history = await history_of(gql, end_user, ticket["number"])
    added = history["edges"][-1]["node"]
    assert (added["kind"], added["data"], added["public"], added["via"]) == (
        "CC_ADDED",
        {"user": colleague.id},
        True,
        "PORTAL",
    )
    assert added["actor"] == {"id": end_user.id}


async def test_a_follow_up_is_recorded_on_the_closed_ticket(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    await close(gql, agent, ticket)
    result = await gql(
        CREATE_FOLLOW_UP,
        {"input": {"ticketId": ticket["id"], "description": "Again"}},
        as_=end_user,
    )
    follow_up = result["data"]["createFollowUp"]["ticket"]
    history = await history_of(gql, end_user, ticket["number"])
    last = history["edges"][-1]["node"]
    assert (last["kind"], last["public"], last["via"], last["actor"]) == (
        "FOLLOW_UP_CREATED",
        True,
        "PORTAL",
        {"id": end_user.id},
    )
    assert last["data"] == {"ticket": follow_up["id"], "number": follow_up["number"]}
    new_history = await history_of(gql, end_user, follow_up["number"])
    assert [e["node"]["kind"] for e in new_history["edges"]] == ["CREATED", "NOTIFICATION_SENT"]


async def test_status_changes_by_rules_are_recorded(gql, agent, end_user):
    """NEW -> OPEN by a public reply; SOLVED -> OPEN by the customer's reply; markSolved."""
    ticket = await make_ticket(gql, end_user)
    await commented(gql, agent, ticket["id"], "On it")
    await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    await commented(gql, end_user, ticket["id"], "Not fixed")
    await gql(MARK_SOLVED, {"id": ticket["id"]}, as_=end_user)
    history = await history_of(gql, agent, ticket["number"])
    statuses = [
        (
            e["node"]["previousValue"],
            e["node"]["newValue"],
            e["node"]["actor"]["id"],
            e["node"]["via"],
        )
        for e in history["edges"]
        if e["node"]["field"] == "status"
    ]
    assert statuses == [
        ("NEW", "OPEN", agent.id, "WEB"),
        ("OPEN", "SOLVED", agent.id, "WEB"),
        ("SOLVED", "OPEN", end_user.id, "PORTAL"),
        ("OPEN", "SOLVED", end_user.id, "PORTAL"),
    ]


async def test_a_refused_change_records_nothing(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user)
    before = await TicketEvent.all().count()
    payload = await update_ticket(
        gql, agent, ticket["id"], subject="Changed", priority="HIGH", status="SOLVED"
    )
    assert payload["errors"][0]["code"] == "ASSIGNEE_REQUIRED"
    assert await TicketEvent.all().count() == before


# ---------------------------------------------------------------- who sees which events


async def busy_ticket(gql, admin, agent, light_agent, end_user, group) -> dict:
    """A ticket whose history mixes public and internal events."""
    await make_custom_field(gql, admin, key="risk", visibility="AGENTS_ONLY")
    await make_custom_field(gql, admin, key="serial")
    ticket = await make_ticket(gql, end_user)  # CREATED (public)
    await updated(
        gql, agent, ticket["id"], groupId=group.id, tags=["vip"],  # both internal
        customFields=[{"key": "risk", "value": "low"}, {"key": "serial", "value": "S1"}],
    )  # fmt: skip
    await commented(gql, agent, ticket["id"], "internal", public=False)  # internal
    await commented(gql, light_agent, ticket["id"], "light note")  # internal
    await commented(gql, agent, ticket["id"], "public reply")  # public, and NEW -> OPEN
    return ticket


async def test_end_user_history_hides_internal_events_and_does_not_count_them(
    gql, admin, agent, light_agent, end_user, colleague, group
):
    ticket = await busy_ticket(gql, admin, agent, light_agent, end_user, group)
    for person in (end_user, colleague):
        history = await history_of(gql, person, ticket["number"])
        assert history["totalCount"] == 6  # and the two mails to the requester
        assert summary(history) == [
            ("CREATED", None, None, None, True),
            ("FIELD_CHANGED", "customFields.serial", None, "S1", True),
            ("COMMENT_ADDED", None, None, None, True),
            ("FIELD_CHANGED", "status", "NEW", "OPEN", True),
        ]


async def test_staff_see_every_event(gql, everyone, admin, agent, light_agent, end_user, group):
    ticket = await busy_ticket(gql, admin, agent, light_agent, end_user, group)
    for role in ("OWNER", "ADMIN", "AGENT", "LIGHT_AGENT"):
        history = await history_of(gql, everyone[role], ticket["number"])
        assert history["totalCount"] == 11
        assert [e["node"]["public"] for e in history["edges"]] == [
            True, True, False, False, False, True, False, False, True, True, True,
        ]  # fmt: skip


async def test_end_user_history_pages_skip_internal_events(
    gql, admin, agent, light_agent, end_user, group
):
    ticket = await busy_ticket(gql, admin, agent, light_agent, end_user, group)
    first = await history_of(gql, end_user, ticket["number"], first=3)
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (6, True)
    assert first["pageInfo"]["hasPreviousPage"] is False
    second = await history_of(
        gql, end_user, ticket["number"], first=3, after=first["pageInfo"]["endCursor"]
    )
    assert (second["totalCount"], second["pageInfo"]["hasNextPage"]) == (6, False)
    assert second["pageInfo"]["hasPreviousPage"] is True
    kinds = [e["node"]["kind"] for e in first["edges"] + second["edges"]]
    assert kinds == [
        "CREATED", "NOTIFICATION_SENT", "FIELD_CHANGED",
        "COMMENT_ADDED", "FIELD_CHANGED", "NOTIFICATION_SENT",
    ]  # fmt: skip
    assert all(e["node"]["public"] for e in first["edges"] + second["edges"])
    empty = await history_of(
        gql, end_user, ticket["number"], first=2, after=second["pageInfo"]["endCursor"]
    )
    assert (empty["totalCount"], empty["edges"]) == (6, [])
    counted = await history_of(gql, end_user, ticket["number"], first=0)
    assert (counted["totalCount"], counted["edges"]) == (6, [])


async def test_an_internal_event_is_not_found_by_id_for_end_users(
    gql, agent, light_agent, end_user, other_customer
):
    ticket = await make_ticket(gql, end_user)
    await commented(gql, agent, ticket["id"], "note", public=False)
    events = changes(await history_of(gql, agent, ticket["number"]))
    created, note = events[0]["node"]["id"], events[1]["node"]["id"]
    assert (await gql(EVENT_NODE, {"id": note}, as_=end_user))["data"]["node"] is None
    assert (await gql(EVENT_NODE, {"id": created}, as_=end_user))["data"]["node"] == {
        "id": created,
        "kind": "CREATED",
        "public": True,
    }
    assert (await gql(EVENT_NODE, {"id": created}, as_=other_customer))["data"]["node"] is None
    assert (await gql(EVENT_NODE, {"id": note}, as_=light_agent))["data"]["node"]["public"] is False


async def test_history_of_a_hidden_ticket_is_unreachable(gql, agent, end_user, other_customer):
    ticket = await make_ticket(gql, other_customer)
    result = await gql(
        "query($n: Int!) { ticket(number: $n) { history { totalCount } } }",
        {"n": ticket["number"]},
        as_=end_user,
    )
    assert result["data"]["ticket"] is None


LIST_HISTORIES = """
query($n: Int!, $after: String) {
  tickets(first: $n) { edges { node { number history(first: 2, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage } edges { cursor node { kind public } }
  } } } }
}
"""


async def test_the_histories_of_a_ticket_list_take_no_query_per_ticket(
    gql, agent, end_user, count_statements
):
    for _ in range(6):
        ticket = await make_ticket(gql, end_user)
        await commented(gql, agent, ticket["id"], "Looking into it.", public=False)
        await commented(gql, agent, ticket["id"], "Fixed, I think.")
    with count_statements() as few:
        small = await gql(LIST_HISTORIES, {"n": 2}, as_=agent)
    with count_statements() as many:
        large = await gql(LIST_HISTORIES, {"n": 6}, as_=agent)
    assert few.count == many.count
    histories = [e["node"]["history"] for e in large["data"]["tickets"]["edges"]]
    assert len(histories) == 6
    assert len({h["totalCount"] for h in histories}) == 1  # the same events on each
    assert histories[0]["totalCount"] >= 3
    assert all(h["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False} for h in histories)
    assert small["data"]["tickets"]["edges"] == large["data"]["tickets"]["edges"][:2]


async def test_history_pages_of_a_list_after_a_cursor_count_every_event(gql, agent, end_user):
    for _ in range(2):
        ticket = await make_ticket(gql, end_user)
        await commented(gql, agent, ticket["id"], "An internal look.", public=False)
    first = await gql(LIST_HISTORIES, {"n": 2}, as_=agent)
    cursor = first["data"]["tickets"]["edges"][0]["node"]["history"]["edges"][0]["cursor"]
    later = await gql(LIST_HISTORIES, {"n": 2, "after": cursor}, as_=agent)
    as_customer = await gql(LIST_HISTORIES, {"n": 2}, as_=end_user)
    pairs = zip(
        first["data"]["tickets"]["edges"],
        later["data"]["tickets"]["edges"],
        as_customer["data"]["tickets"]["edges"],
        strict=True,
    )
    for whole, after, customer in pairs:
        # A page after a cursor still counts the whole history...
        assert after["node"]["history"]["totalCount"] == whole["node"]["history"]["totalCount"]
        assert after["node"]["history"]["pageInfo"]["hasPreviousPage"] is True
        # ...and the requester's counts no internal note.
        internal = customer["node"]["history"]["totalCount"]
        assert internal == whole["node"]["history"]["totalCount"] - 1
