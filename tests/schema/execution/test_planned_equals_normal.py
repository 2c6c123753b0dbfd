"""The dashboard's queries and the language's corners answer alike, planned or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schema.execution.helpers import same
from tests.seed import seed_people, seed_tickets

DASHBOARD = (Path(__file__).parents[3] / "bench" / "dashboard.graphql").read_text()

LIST_WITH_EVERYTHING = """
query {
  tickets(first: 6) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      __typename id number subject status priority type via createdAt solvedAt
      requester { id name email role organizations { name sharedTickets } }
      assignee { name groups { name } }
      group { name }
      organization { name }
      ccs { name }
      tags
      customFields { __typename }
      closeBlockers { code message }
      followUpOf { number }
      approvalRequests { id }
      activities { id }
      timeEntries { id }
      timeSpentMinutes
      resolution { __typename }
      satisfaction { __typename }
      comments(first: 3) { totalCount edges { node { body public via author { name } } } }
      history(first: 3) { totalCount edges { node { __typename } } }
      attachments { __typename }
    } }
  }
}
"""


@pytest.fixture
async def tickets(app):
    customers, agents = await seed_people(customers=8, agents=4)
    await seed_tickets(
        requesters=customers[:4], agents=agents[:2], authors=customers[4:] + agents[2:],
        tickets=12, comments_per_ticket=4,
    )  # fmt: skip


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "AGENT", "LIGHT_AGENT", "END_USER"])
async def test_planned_dashboard_equals_normal_dashboard_for_each_role(
    app, tickets, everyone, role
):
    result = await same(app, DASHBOARD, viewer=everyone[role].viewer)
    assert result["data"]["tickets"] is not None


@pytest.mark.parametrize("role", ["AGENT", "LIGHT_AGENT", "END_USER"])
async def test_planned_list_equals_normal_list_for_each_role(app, tickets, everyone, role):
    await same(app, LIST_WITH_EVERYTHING, viewer=everyone[role].viewer)


async def test_planned_list_equals_normal_list_for_an_end_user(app, tickets, end_user):
    result = await same(app, LIST_WITH_EVERYTHING, viewer=end_user.viewer)
    # The end user sees no tags, activities or time: null + FORBIDDEN at each position.
    codes = {e["extensions"]["code"] for e in result.get("errors", [])}
    assert codes <= {"FORBIDDEN"}


async def test_a_signed_out_viewer_gets_the_same_refusal(app, tickets):
    result = await same(app, DASHBOARD, viewer=None)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_aliases_and_fragments_merge_like_graphql_core(app, tickets, agent):
    query = """
    query {
      first: tickets(first: 2) { edges { node { ...Head n: number requester { ...Who } } } }
      again: tickets(first: 1) { edges { node { number ...Head requester { name } } } }
    }
    fragment Head on Ticket { subject s: status number requester { id } }
    fragment Who on User { name who: name }
    """
    result = await same(app, query, viewer=agent.viewer)
    node = result["data"]["first"]["edges"][0]["node"]
    assert list(node) == ["subject", "s", "number", "requester", "n"]


async def test_skip_and_include_follow_their_variables(app, tickets, agent):
    query = """
    query($with: Boolean!, $without: Boolean!) {
      tickets(first: 3) { edges { node {
        number @include(if: $with)
        subject @skip(if: $without)
        ... on Ticket @include(if: $without) { status }
        requester @skip(if: $with) { name }
      } } }
    }
    """
    for values in ({"with": True, "without": False}, {"with": False, "without": True}):
        result = await same(app, query, values, viewer=agent.viewer)
        node = result["data"]["tickets"]["edges"][0]["node"]
        assert ("number" in node) is values["with"]
        assert ("status" in node) is values["without"]


async def test_typename_answers_on_every_level(app, tickets, agent):
    query = (
        "{ __typename tickets(first: 2) { __typename edges { __typename node { __typename } } } }"
    )
    result = await same(app, query, viewer=agent.viewer)
    assert result["data"]["__typename"] == "Query"


async def test_fragments_on_the_node_interface(app, tickets, agent):
    listed = await same(
        app, "{ tickets(first: 2) { edges { node { id requester { id } } } } }", viewer=agent.viewer
    )
    ticket_id = listed["data"]["tickets"]["edges"][0]["node"]["id"]
    user_id = listed["data"]["tickets"]["edges"][0]["node"]["requester"]["id"]
    query = """
    query($t: ID!, $u: ID!, $nothing: ID!) {
      t: node(id: $t) { __typename id ... on Ticket { number requester { name } } ...U }
      u: node(id: $u) { __typename ... on Ticket { number } ...U }
      none: node(id: $nothing) { id }
    }
    fragment U on User { name email }
    """
    variables = {"t": ticket_id, "u": user_id, "nothing": "nope"}
    result = await same(app, query, variables, viewer=agent.viewer)
    assert result["data"]["t"]["__typename"] == "Ticket"
    assert result["data"]["u"]["__typename"] == "User"
    assert result["data"]["none"] is None


async def test_me_and_the_other_root_fields(app, tickets, agent, end_user):
    query = """
    { me { id name email role organizations { name } groups { name } }
      customFields { __typename }
      myApprovalRequests { __typename }
      notifications(first: 5) { __typename }
    }
    """
    for person in (agent, end_user):
        await same(app, query, viewer=person.viewer)


DASHBOARD_WIDGETS = """
query($by: [TicketDimension!]!) {
  me { id name role email organizations { name } groups { name } }
  stats: ticketStats(groupBy: $by) { keys count }
  approvals: myApprovalRequests(first: 5) {
    totalCount edges { node { id status subject ticket { number } } }
  }
  history: tickets(first: 3) { edges { node { number
    customFields { __typename }
    history(first: 5) { totalCount edges { node { id kind public createdAt actor { name } } } }
  } } }
}
"""


@pytest.mark.parametrize("role", ["ADMIN", "AGENT", "LIGHT_AGENT", "END_USER"])
async def test_the_dashboard_widgets_run_planned_for_each_role(app, tickets, everyone, role):
    await same(app, DASHBOARD_WIDGETS, {"by": ["STATUS"]}, viewer=everyone[role].viewer)
