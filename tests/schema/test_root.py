"""node(id:): any object by id, null for unknown, malformed or invisible ids."""

from __future__ import annotations

import pytest

from guichet.resolvers import ids
from tests.conftest import error_codes

NODE = "query($id: ID!) { node(id: $id) { id __typename } }"


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "nonsense",
        "!!!",
        ids.encode("User", 999999),
        ids.encode("Ticket", 2**40),
        ids.encode("Ticket", 1),
        ids.encode("cursor", 1),
        "VXNlcjp4",
        "VGlja2V0OsK5",  # "Ticket:¹": found by tools/fuzz.py, was "Unexpected error."
    ],
)
async def test_unknown_or_malformed_ids_answer_null(gql, agent, bad_id):
    result = await gql(NODE, {"id": bad_id}, as_=agent)
    assert result == {"data": {"node": None}}


async def test_each_type_is_found_by_its_id(gql, admin, org, group):
    for gid, typename in ((admin.id, "User"), (org.id, "Organization"), (group.id, "Group")):
        assert (await gql(NODE, {"id": gid}, as_=admin))["data"]["node"] == {
            "id": gid,
            "__typename": typename,
        }


async def test_an_invisible_id_answers_null_not_forbidden(
    gql, end_user, other_org, group, other_customer
):
    for gid in (other_org.id, group.id, other_customer.id):
        assert await gql(NODE, {"id": gid}, as_=end_user) == {"data": {"node": None}}


async def test_node_needs_credentials(gql, org):
    assert error_codes(await gql(NODE, {"id": org.id})) == ["UNAUTHENTICATED"]
