"""The built-in views count, on seeded data (conftest.py `seeded`), what a hand count says and what
`tickets(filter: view.filter)` says, for each viewer (`assignee:me` is whoever reads)."""

from __future__ import annotations

from guichet.models.views import View
from guichet.resolvers.views.built_in import BUILT_INS, ensure_built_ins
from tests.resolvers.views_helpers import by_name, list_views, ticket_total

# Hand counts: view name -> (the agent's count, the admin's count).
EXPECTED = {
    "My open tickets": (2, 1),  # 1 and 7; 6
    "Unassigned": (2, 2),  # 2 and 5
    "Pending approval": (1, 1),  # 5
    "Recently solved": (1, 1),  # 3
    "Overdue activities": (1, 1),  # 6
}


async def test_each_built_in_view_counts_what_a_hand_count_says(gql, seeded, agent, admin):
    for column, person in enumerate((agent, admin)):
        views = await by_name(gql, person)
        for name, counts in EXPECTED.items():
            view = views[name]
            assert view["count"] == counts[column], (name, person.row.name)
            assert await ticket_total(gql, person, view["filter"]) == counts[column], name


async def test_built_in_views_are_made_once_however_often_asked(gql, agent, admin):
    await list_views(gql, agent)
    await list_views(gql, admin)
    assert await ensure_built_ins({b.key for b in BUILT_INS}) is False
    await ensure_built_ins(set())  # as two processes' first uses would: every insert conflicts
    assert await View.filter(built_in__not_isnull=True).count() == len(BUILT_INS)
