"""Saved views: who sees, makes, changes and deletes which, and what a view counts."""

from __future__ import annotations

import pytest

from guichet.models.people import Role
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import make_ticket, updated
from tests.resolvers.views_helpers import (
    VIEW_TICKETS,
    by_name,
    codes,
    create_view,
    created_view,
    delete_view,
    list_views,
    ticket_total,
    update_view,
)

BUILT_IN_NAMES = [
    "My open tickets",
    "Unassigned",
    "Pending approval",
    "Recently solved",
    "Overdue activities",
]


async def test_staff_start_with_the_built_in_views_in_order(gql, agent, light_agent):
    for person in (agent, light_agent):
        views = await list_views(gql, person)
        assert [v["name"] for v in views] == BUILT_IN_NAMES
        assert all(v["builtIn"] and v["scope"] == "SHARED" and v["owner"] is None for v in views)
    mine = (await list_views(gql, agent))[0]
    assert mine["filter"] == {"query": "assignee:me status<solved"}
    assert mine["sort"] == [{"field": "UPDATED_AT", "direction": "DESC"}]
    assert "subject" in mine["columns"]


async def test_an_agent_makes_a_personal_view_only_they_see(gql, agent, admin, make_person, group):
    other = await make_person("Gus", "gus@guichet.test", Role.AGENT, groups=[group])
    view = await created_view(
        gql, agent, name="Urgent", filter={"query": "priority:urgent"},
        sort=[{"field": "NUMBER", "direction": "ASC"}], columns=["number", "subject"],
    )  # fmt: skip
    assert view["scope"] == "PERSONAL" and view["owner"] == {"id": agent.id}
    assert view["filter"] == {"query": "priority:urgent"}
    assert view["columns"] == ["number", "subject"]
    assert "Urgent" in await by_name(gql, agent)
    for stranger in (other, admin):
        assert "Urgent" not in await by_name(gql, stranger)
        found = await gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": view["id"]}, as_=stranger
        )
        assert found["data"]["node"] is None


async def test_group_views_are_for_the_group_and_admins(
    gql, agent, admin, light_agent, make_person
):
    outsider = await make_person("Otto", "otto@guichet.test", Role.AGENT)
    group_id = (await gql("{ me { groups { id } } }", as_=agent))["data"]["me"]["groups"][0]["id"]
    view = await created_view(gql, agent, name="Tier 1 queue", scope="GROUP", groupId=group_id)
    assert view["group"] == {"id": group_id}
    for member in (agent, light_agent, admin):
        assert "Tier 1 queue" in await by_name(gql, member)
    assert "Tier 1 queue" not in await by_name(gql, outsider)
    refused = await create_view(gql, outsider, name="Not mine", scope="GROUP", groupId=group_id)
    assert codes(refused) == ["NOT_ALLOWED"]
    assert codes(await create_view(gql, agent, scope="GROUP")) == ["GROUP_REQUIRED"]
    # An outsider may not change it either (they do not even see it).
    assert error_codes(await update_view_raw(gql, outsider, view["id"], name="x")) == ["NOT_FOUND"]


async def update_view_raw(gql, person, view_id, **fields):
    from tests.resolvers.views_helpers import UPDATE

    return await gql(UPDATE, {"input": {"id": view_id, **fields}}, as_=person)


async def test_only_admins_make_shared_views(gql, agent, admin, light_agent):
    assert codes(await create_view(gql, agent, name="All", scope="SHARED")) == ["NOT_ALLOWED"]
    view = await created_view(gql, admin, name="Everything", scope="SHARED")
    for person in (agent, light_agent):
        assert "Everything" in await by_name(gql, person)
    refused = await update_view(gql, agent, view["id"], name="Mine now")
    assert codes(refused) == ["NOT_ALLOWED"]
    assert codes((await delete_view(gql, agent, view["id"]))["data"]["deleteView"]) == [
        "NOT_ALLOWED"
    ]


async def test_light_agents_cannot_make_views_but_arrange_their_own_list(gql, light_agent, admin):
    assert error_codes(await gql(
        'mutation { createView(input: {name: "x", scope: PERSONAL, filter: {}}) { errors { code } } }',
        as_=light_agent,
    )) == ["FORBIDDEN"]  # fmt: skip
    shared = await created_view(gql, admin, name="Everything", scope="SHARED")
    assert codes(await update_view(gql, light_agent, shared["id"], name="Renamed")) == [
        "NOT_ALLOWED"
    ]
    hidden = await update_view(gql, light_agent, shared["id"], hidden=True, position=-100)
    assert hidden["errors"] == [] and hidden["view"]["hidden"] is True
    assert "Everything" not in await by_name(gql, light_agent)
    everything = await list_views(gql, light_agent, include_hidden=True)
    assert everything[0]["name"] == "Everything" and everything[0]["position"] == -100
    # Hiding is the light agent's own: the admin still sees it, where it was.
    assert (await by_name(gql, admin))["Everything"]["hidden"] is False


async def test_built_in_views_are_hidden_not_deleted_nor_changed(gql, agent, admin):
    unassigned = (await by_name(gql, admin))["Unassigned"]
    refused = (await delete_view(gql, admin, unassigned["id"]))["data"]["deleteView"]
    assert codes(refused) == ["BUILT_IN"]
    assert codes(await update_view(gql, admin, unassigned["id"], filter={"query": "x"})) == [
        "BUILT_IN"
    ]
    assert (await update_view(gql, agent, unassigned["id"], hidden=True))["errors"] == []
    assert "Unassigned" not in await by_name(gql, agent)
    assert (await update_view(gql, agent, unassigned["id"], hidden=False))["errors"] == []
    assert "Unassigned" in await by_name(gql, agent)


async def test_the_owner_changes_and_deletes_a_personal_view(gql, agent):
    view = await created_view(gql, agent, name="Mine")
    changed = await update_view(
        gql, agent, view["id"], name="Billing", filter={"tags": ["billing"]}, columns=["subject"]
    )
    assert changed["errors"] == []
    assert changed["view"]["name"] == "Billing" and changed["view"]["filter"] == {
        "tags": ["billing"]
    }
    deleted = (await delete_view(gql, agent, view["id"]))["data"]["deleteView"]
    assert deleted["errors"] == [] and deleted["view"]["name"] == "Billing"
    assert "Billing" not in await by_name(gql, agent)


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"filter": {"query": "status:nonsense"}}, "INVALID_FILTER", ["input", "filter", "query"]),
        (
            {"filter": {"query": 'group:"No such group"'}},
            "INVALID_FILTER",
            ["input", "filter", "query"],
        ),
        ({"filter": {"groupId": "R3JvdXA6OTk5"}}, "INVALID_FILTER", ["input", "filter", "groupId"]),
        (
            {"filter": {"query": "assignee:nobody@nowhere.test"}},
            "INVALID_FILTER",
            ["input", "filter", "query"],
        ),
        ({"columns": ["subject", "colour"]}, "UNKNOWN_COLUMN", ["input", "columns"]),
        ({"name": "  "}, "REQUIRED", ["input", "name"]),
    ],
)
async def test_a_view_that_would_not_work_is_refused(gql, agent, given, code, field):
    payload = await create_view(gql, agent, **given)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["view"] is None
    assert [v["name"] for v in await list_views(gql, agent)] == BUILT_IN_NAMES


async def test_a_view_naming_a_deactivated_group_is_refused(gql, admin, group):
    from guichet.models.people import Group

    assert codes(await create_view(gql, admin, filter={"query": 'group:"Tier 1"'})) == []
    await Group.filter(id=group.pk).update(active=False)
    payload = await create_view(gql, admin, filter={"query": 'group:"Tier 1"'})
    assert (
        codes(payload) == ["INVALID_FILTER"] and "Tier 1".lower() in payload["errors"][0]["message"]
    )


async def test_a_view_counts_and_pages_what_the_ticket_list_shows(gql, agent, end_user):
    for n in range(3):
        ticket = await make_ticket(gql, end_user, subject=f"Printer {n}")
        if n:
            await updated(gql, agent, ticket["id"], assigneeId=agent.id)
    view = await created_view(
        gql, agent, filter={"query": "assignee:me printer"},
        sort=[{"field": "NUMBER", "direction": "DESC"}],
    )  # fmt: skip
    first = (await gql(VIEW_TICKETS, {"id": view["id"], "first": 1}, as_=agent))["data"]["node"]
    assert first["count"] == 2 == first["tickets"]["totalCount"]
    assert [e["node"]["number"] for e in first["tickets"]["edges"]] == [3]
    after = first["tickets"]["pageInfo"]["endCursor"]
    second = await gql(VIEW_TICKETS, {"id": view["id"], "first": 5, "after": after}, as_=agent)
    assert [e["node"]["number"] for e in second["data"]["node"]["tickets"]["edges"]] == [2]
    assert await ticket_total(gql, agent, view["filter"]) == 2


async def test_end_users_have_no_views(gql, end_user, admin):
    view = await created_view(gql, admin, name="Everything", scope="SHARED")
    assert error_codes(await gql("{ views { id } }", as_=end_user)) == ["FORBIDDEN"]
    found = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": view["id"]}, as_=end_user)
    assert found["data"]["node"] is None


async def test_a_stored_filter_that_no_longer_reads_answers_a_clear_error(gql, agent, end_user):
    from guichet.models.views import View as ViewModel
    from guichet.resolvers import ids

    await make_ticket(gql, end_user)
    view = await created_view(gql, agent, name="Old syntax", filter={"query": "status:open"})
    await ViewModel.filter(id=ids.decode_as(view["id"], "View")).update(
        ticket_filter='{"query": "colour:red"}'
    )
    counted = await gql(
        "query($id: ID!) { node(id: $id) { ... on View { count } } }", {"id": view["id"]}, as_=agent
    )
    assert error_codes(counted) == ["BAD_USER_INPUT"]
    assert "Old syntax" in counted["errors"][0]["message"]
    # Everything else still answers: the dashboard leaves the broken view out.
    board = await gql("{ dashboard { unassignedTickets views { view { name } } } }", as_=agent)
    assert board["data"]["dashboard"]["unassignedTickets"] == 1
    assert "Old syntax" not in [v["view"]["name"] for v in board["data"]["dashboard"]["views"]]
    fixed = await update_view(gql, agent, view["id"], filter={"query": "status:new"})
    assert fixed["errors"] == []
    assert (await by_name(gql, agent))["Old syntax"]["count"] == 1


async def test_a_filter_of_every_kind_comes_back_as_given_and_counts_alike(gql, agent, end_user):
    ticket = await make_ticket(gql, end_user, subject="Printer on fire")
    await updated(gql, agent, ticket["id"], priority="HIGH", tags=["printer"], status="OPEN")
    await make_ticket(gql, end_user, subject="Something else")
    given = {
        "status": ["NEW", "OPEN"],
        "priority": ["HIGH", "URGENT"],
        "tags": ["printer"],
        "requesterId": end_user.id,
        "createdAfter": "2020-01-01T00:00:00+00:00",
        "query": "fire -toner",
    }
    view = await created_view(gql, agent, filter=given)
    assert view["filter"] == given
    assert (await by_name(gql, agent))["Mine"]["count"] == 1
    assert await ticket_total(gql, agent, view["filter"]) == 1


async def test_group_members_who_are_agents_change_group_views_admins_any(
    gql, agent, light_agent, admin, group
):
    view = await created_view(gql, admin, name="Tier 1 queue", scope="GROUP", groupId=group.id)
    assert (await update_view(gql, agent, view["id"], name="Tier 1 inbox"))["errors"] == []
    refused = await update_view(gql, light_agent, view["id"], name="Mine")
    assert codes(refused) == ["NOT_ALLOWED"]
    assert (await update_view(gql, light_agent, view["id"], position=3))["errors"] == []
    deleted = (await delete_view(gql, admin, view["id"]))["data"]["deleteView"]
    assert deleted["errors"] == []
