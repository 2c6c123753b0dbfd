"""A nested list costs the same number of SQL statements for 5 tickets as for 50."""

from __future__ import annotations

from tests.seed import seed_people, seed_tickets

DASHBOARD = """
query($n: Int!) {
  tickets(first: $n, filter: {status: [OPEN]}, sort: [{field: UPDATED_AT, direction: DESC}]) {
    totalCount
    edges { node {
      number subject status priority updatedAt
      requester { name email organizations { name } }
      assignee { name }
      tags
      comments(first: 5) { totalCount edges { node { body public createdAt author { name } } } }
    } }
  }
}
"""


async def _statements(gql, person, count_statements, n: int) -> tuple[int, dict]:
    with count_statements() as counter:
        result = await gql(DASHBOARD, {"n": n}, as_=person)
    # Customers get null + FORBIDDEN for tags; nothing else may fail.
    assert {tuple(e["path"][-1:]) for e in result.get("errors", [])} <= {("tags",)}
    if person.row.role.value != "END_USER":
        assert "errors" not in result
    return counter.count, result


async def test_the_dashboard_list_does_no_per_row_queries(gql, agent, count_statements):
    customers, agents = await seed_people(customers=20, agents=10)
    # Comment authors differ from requesters and assignees, so authors are a batch of their own.
    await seed_tickets(
        requesters=customers[:10], agents=agents[:5], authors=customers[10:] + agents[5:],
        tickets=60, comments_per_ticket=7,
    )  # fmt: skip
    few, small = await _statements(gql, agent, count_statements, 5)
    many, large = await _statements(gql, agent, count_statements, 50)
    assert len(small["data"]["tickets"]["edges"]) == 5
    assert len(large["data"]["tickets"]["edges"]) == 50
    assert all(len(e["node"]["comments"]["edges"]) == 5 for e in large["data"]["tickets"]["edges"])
    assert few == many
    assert many <= 10


async def test_an_end_user_list_does_no_per_row_queries_either(gql, end_user, count_statements):
    _, agents = await seed_people(customers=0, agents=6)
    await seed_tickets(
        requesters=[await _model(end_user)], agents=agents[:3], authors=agents[3:],
        tickets=55, comments_per_ticket=6,
    )  # fmt: skip
    few, _ = await _statements(gql, end_user, count_statements, 5)
    many, result = await _statements(gql, end_user, count_statements, 50)
    assert few == many
    for edge in result["data"]["tickets"]["edges"]:
        assert edge["node"]["tags"] is None
        assert all(c["node"]["public"] for c in edge["node"]["comments"]["edges"])


async def _model(person):
    from guichet.models.people import User

    return await User.get(id=person.row.pk)
