"""Saved views through the API, for the views and dashboard tests."""

from __future__ import annotations

from typing import Any

VIEW = "id name scope builtIn filter sort { field direction } columns position hidden owner { id } group { id }"
VIEWS = f"query($all: Boolean) {{ views(includeHidden: $all) {{ {VIEW} count }} }}"
CREATE = f"""mutation($input: CreateViewInput!) {{
  createView(input: $input) {{ view {{ {VIEW} }} errors {{ code field message }} }}
}}"""
UPDATE = f"""mutation($input: UpdateViewInput!) {{
  updateView(input: $input) {{ view {{ {VIEW} }} errors {{ code field message }} }}
}}"""
DELETE = """mutation($id: ID!) {
  deleteView(input: {id: $id}) { view { id name } errors { code field message } }
}"""
VIEW_TICKETS = """query($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on View { count tickets(first: $first, after: $after) {
    totalCount edges { cursor node { number } } pageInfo { hasNextPage endCursor } } } }
}"""
TICKET_COUNT = "query($f: TicketFilter) { tickets(filter: $f, first: 1) { totalCount } }"


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def list_views(gql, person, *, include_hidden: bool = False) -> list[dict]:
    result = await gql(VIEWS, {"all": include_hidden}, as_=person)
    assert "errors" not in result, result
    return result["data"]["views"]


async def by_name(gql, person) -> dict[str, dict]:
    return {v["name"]: v for v in await list_views(gql, person)}


async def create_view(gql, person, **fields: Any) -> dict:
    """The createView payload (a personal view of everything unless told)."""
    request = {"name": "Mine", "scope": "PERSONAL", "filter": {}, **fields}
    result = await gql(CREATE, {"input": request}, as_=person)
    assert "errors" not in result, result
    return result["data"]["createView"]


async def created_view(gql, person, **fields: Any) -> dict:
    payload = await create_view(gql, person, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["view"]


async def update_view(gql, person, view_id: str, **fields: Any) -> dict:
    result = await gql(UPDATE, {"input": {"id": view_id, **fields}}, as_=person)
    assert "errors" not in result, result
    return result["data"]["updateView"]


async def delete_view(gql, person, view_id: str) -> dict:
    return await gql(DELETE, {"id": view_id}, as_=person)


async def ticket_total(gql, person, ticket_filter: dict) -> int:
    result = await gql(TICKET_COUNT, {"f": ticket_filter}, as_=person)
    assert "errors" not in result, result
    return result["data"]["tickets"]["totalCount"]
