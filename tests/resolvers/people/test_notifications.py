"""The bell menu: notifications are stored for their user, listed newest first, counted,
marked read, and never shown to anyone else.

Live delivery and replay (`after:`) over a websocket: tests/subscriptions/test_notifications.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from guichet.models.activities import Activity
from guichet.models.approvals import ApprovalApprover, ApprovalRequest
from guichet.models.notifications import Notification
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.people import notifications
from guichet.resolvers.people.notifications import NewNotification
from guichet.resolvers.tickets.history import Changes
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import make_ticket, updated
from tests.seed import seed_people, seed_tickets

LIST = """
query($first: Int, $after: String, $unreadOnly: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    totalCount unreadCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id kind message readAt ticket { number } } }
  }
}
"""
MARK = """
mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { unreadCount errors { code field message } }
}
"""
NODE = """
query($id: ID!) { node(id: $id) { id ... on Notification { kind message readAt } } }
"""


async def tell(person, kind: str, **fields: Any) -> str:
    """A stored notification for `person`; returns its global id."""
    pk = await notifications.store(NewNotification(person.row.pk, kind, kind.lower(), **fields))
    return ids.encode("Notification", pk)


async def listed(gql, person, **args: Any) -> dict:
    response = await gql(LIST, args, as_=person)
    assert "errors" not in response, response
    return response["data"]["notifications"]


def kinds(page: dict) -> list[str]:
    return [edge["node"]["kind"] for edge in page["edges"]]


async def mark(gql, person, notification_ids: list[str] | None = None) -> dict:
    given = {} if notification_ids is None else {"ids": notification_ids}
    response = await gql(MARK, {"input": given}, as_=person)
    assert "errors" not in response, response
    return response["data"]["markNotificationsRead"]


# ---------------------------------------------------------------- the list


async def test_the_bell_menu_lists_the_viewers_notifications_newest_first(gql, agent):
    for kind in ("FIRST", "SECOND", "THIRD"):
        await tell(agent, kind)
    page = await listed(gql, agent)
    assert kinds(page) == ["THIRD", "SECOND", "FIRST"]
    assert (page["totalCount"], page["unreadCount"]) == (3, 3)
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "endCursor": page["edges"][-1]["cursor"],
    }
    assert all(edge["node"]["readAt"] is None for edge in page["edges"])


async def test_pages_follow_each_other_without_gaps_or_repeats(gql, agent):
    for n in range(7):
        await tell(agent, f"N{n}")
    seen, after = [], None
    while True:
        page = await listed(gql, agent, first=3, after=after)
        assert page["totalCount"] == 7
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += kinds(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"N{n}" for n in reversed(range(7))]
    # A notification's id is a cursor too.
    first_two = (await listed(gql, agent, first=2))["edges"]
    by_id = await listed(gql, agent, first=2, after=first_two[1]["node"]["id"])
    assert kinds(by_id) == ["N4", "N3"]


async def test_a_notification_is_kept_while_nobody_listens(gql, agent, admin, end_user):
    ticket = await make_ticket(gql, admin, requesterId=end_user.id)
    await updated(gql, admin, ticket["id"], assigneeId=agent.id)
    [edge] = (await listed(gql, agent))["edges"]
    assert edge["node"]["kind"] == "TICKET_ASSIGNED"
    assert edge["node"]["ticket"] == {"number": ticket["number"]}
    assert f"#{ticket['number']}" in edge["node"]["message"]
    assert (await listed(gql, admin))["edges"] == []


async def test_unread_only_lists_the_unread_and_counts_them(gql, agent):
    read = [await tell(agent, f"READ{n}") for n in range(2)]
    for n in range(3):
        await tell(agent, f"UNREAD{n}")
    await mark(gql, agent, read)
    unread = await listed(gql, agent, unreadOnly=True)
    assert kinds(unread) == ["UNREAD2", "UNREAD1", "UNREAD0"]
    assert (unread["totalCount"], unread["unreadCount"]) == (3, 3)
    everything = await listed(gql, agent, unreadOnly=False)
    assert (everything["totalCount"], everything["unreadCount"]) == (5, 3)


async def test_page_size_and_cursors_are_checked(gql, agent):
    await tell(agent, "ONE")
    for args in ({"first": 101}, {"first": -1}, {"after": "garbage"}, {"after": agent.id}):
        assert error_codes(await gql(LIST, args, as_=agent)) == ["BAD_USER_INPUT"], args
    assert error_codes(await gql(LIST, {})) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- marking read


async def test_marking_some_read_sets_read_at_once_and_lowers_the_unread_count(gql, agent):
    first, second, third = [await tell(agent, kind) for kind in ("A", "B", "C")]
    assert await mark(gql, agent, [first, third]) == {"unreadCount": 1, "errors": []}
    nodes = {e["node"]["kind"]: e["node"] for e in (await listed(gql, agent))["edges"]}
    assert nodes["B"]["readAt"] is None
    read_at = nodes["A"]["readAt"]
    assert read_at is not None and nodes["C"]["readAt"] is not None
    # Marking again keeps the first time it was read.
    assert (await mark(gql, agent, [first, second]))["unreadCount"] == 0
    again = (await gql(NODE, {"id": first}, as_=agent))["data"]["node"]
    assert again["readAt"] == read_at
    assert await mark(gql, agent, []) == {"unreadCount": 0, "errors": []}


async def test_marking_without_ids_marks_all_of_the_viewers_and_no_one_elses(
    gql, agent, light_agent
):
    for kind in ("A", "B"):
        await tell(agent, kind)
        await tell(light_agent, kind)
    assert await mark(gql, agent) == {"unreadCount": 0, "errors": []}
    assert (await listed(gql, agent, unreadOnly=True))["edges"] == []
    assert (await listed(gql, light_agent))["unreadCount"] == 2


async def test_an_id_that_is_not_one_of_the_viewers_notifications_marks_nothing(gql, agent):
    mine = await tell(agent, "MINE")
    for wrong in ("garbage", agent.id, ids.encode("Notification", 999_999)):
        payload = await mark(gql, agent, [mine, wrong])
        assert payload["unreadCount"] == 1
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("NOT_FOUND", ["input", "ids", "1"])
        ]
    assert (await listed(gql, agent))["edges"][0]["node"]["readAt"] is None


async def test_users_never_see_each_others_notifications(
    gql, agent, light_agent, admin, owner, end_user
):
    theirs = await tell(light_agent, "FOR_LOUISE")
    mine = await tell(agent, "FOR_AGNES")
    for person in (agent, admin, owner, end_user):
        page = await listed(gql, person)
        assert theirs not in [e["node"]["id"] for e in page["edges"]], person.row.role
        assert (await gql(NODE, {"id": theirs}, as_=person))["data"] == {"node": None}
        payload = await mark(gql, person, [theirs])
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    # Not even counted, and still unread for its user.
    assert (await listed(gql, owner))["totalCount"] == 0
    assert (await listed(gql, agent))["totalCount"] == 1
    louise = await listed(gql, light_agent)
    assert [e["node"]["id"] for e in louise["edges"]] == [theirs]
    assert louise["unreadCount"] == 1
    assert (await gql(NODE, {"id": mine}, as_=agent))["data"]["node"]["kind"] == "FOR_AGNES"


# ---------------------------------------------------------------- written with the change


async def test_a_notification_is_written_with_its_change_or_not_at_all(agent):
    """Awaited inside the rule's transaction, the row is written there: it commits with
    the change and rolls back with it."""
    changes = Changes()
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await changes.notify(agent.row.pk, "ROLLED_BACK", "never told")
            assert await Notification.filter(user_id=agent.row.pk).count() == 1
            raise RuntimeError("the rule failed after telling")
    assert await Notification.filter(user_id=agent.row.pk).count() == 0

    changes = Changes()
    async with in_transaction():
        await changes.notify(agent.row.pk, "COMMITTED", "told")
    # Committed before anything is published: a crash now loses nothing.
    assert await Notification.filter(user_id=agent.row.pk).values_list("kind", flat=True) == [
        "COMMITTED"
    ]
    await changes.publish(Context(None, None, None))  # type: ignore[arg-type]
    assert await Notification.filter(user_id=agent.row.pk).count() == 1


# ---------------------------------------------------------------- cost


async def _tell_many(agent, count: int) -> None:
    """`count` notifications about different tickets, approval requests and activities."""
    customers, agents = await seed_people(customers=count, agents=count)
    tickets = await seed_tickets(
        requesters=customers, agents=agents, tickets=count, comments_per_ticket=0
    )
    now = datetime.now(UTC)
    for n, ticket in enumerate(tickets):
        request = await ApprovalRequest.create(
            ticket_id=ticket.id, subject=f"Refund {n}", message="May I?", created_by_id=agents[n].id
        )
        await ApprovalApprover.create(request_id=request.id, user_id=agent.row.pk)
        activity = await Activity.create(
            ticket_id=ticket.id, kind="TASK", subject=f"Call {n}", owner_id=agents[n].id,
            created_by_id=agents[n].id, due_at=now + timedelta(days=1),
        )  # fmt: skip
        await notifications.store(
            NewNotification(
                agent.row.pk, "APPROVAL_REQUESTED", f"Approve {n}", ticket.id, request.id,
                activity.id,
            )
        )  # fmt: skip


BELL = """
query($n: Int!) {
  notifications(first: $n) {
    totalCount unreadCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id kind message createdAt readAt
      ticket { number subject requester { name } }
      approvalRequest { subject status createdBy { name } }
      activity { subject owner { name } }
    } }
  }
}
"""


async def test_the_list_costs_the_same_statements_for_50_notifications_as_for_5(
    gql, agent, count_statements
):
    await _tell_many(agent, 55)
    results = {}
    for n in (5, 50):
        with count_statements() as counter:
            response = await gql(BELL, {"n": n}, as_=agent)
        assert "errors" not in response, response
        edges = response["data"]["notifications"]["edges"]
        assert len(edges) == n
        assert all(e["node"]["ticket"] and e["node"]["activity"] for e in edges)
        assert all(e["node"]["approvalRequest"]["status"] == "PENDING" for e in edges)
        results[n] = counter.count
    # Relations load per level, not per row: the count is bounded whatever the page size
    # (per-row loading would take 50 or more for 50). The loaders may split a level in two
    # when its keys arrive over several loop turns, so the two counts may differ by one or
    # two either way, depending on timing.
    assert results[5] <= 10
    assert results[50] <= 10
