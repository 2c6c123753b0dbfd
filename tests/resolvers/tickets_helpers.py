"""Shared helpers of the ticket tests: the GraphQL documents they send and small shortcuts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from guichet.models.tickets import Ticket

TICKET_FIELDS = """
  id number subject description status type priority via
  requester { id } submitter { id } assignee { id } group { id }
  organization { id name } ccs { id email role }
  followUpOf { id number } followUps { id number }
  closeBlockers { code field }
  createdAt updatedAt solvedAt
"""

CREATE_TICKET = f"""
mutation($input: CreateTicketInput!) {{
  createTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} errors {{ code field message }} }}
}}
"""

UPDATE_TICKET = f"""
mutation($input: UpdateTicketInput!) {{
  updateTicket(input: $input) {{ ticket {{ {TICKET_FIELDS} }} errors {{ code field message }} }}
}}
"""

MARK_SOLVED = f"""
mutation($id: ID!) {{
  markSolved(ticketId: $id) {{ ticket {{ {TICKET_FIELDS} }} errors {{ code field message }} }}
}}
"""

CREATE_FOLLOW_UP = f"""
mutation($input: CreateFollowUpInput!) {{
  createFollowUp(input: $input) {{ ticket {{ {TICKET_FIELDS} }} errors {{ code field message }} }}
}}
"""

ADD_COMMENT = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) {
    comment { id body public via author { id } createdAt }
    ticket { id status updatedAt }
    errors { code field message }
  }
}
"""

TICKET_BY_NUMBER = f"query($number: Int!) {{ ticket(number: $number) {{ {TICKET_FIELDS} }} }}"

NODE_TICKET = "query($id: ID!) { node(id: $id) { id ... on Ticket { number subject } } }"

COMMENTS = """
query($number: Int!, $first: Int, $after: String, $order: CommentOrder) {
  ticket(number: $number) {
    comments(first: $first, after: $after, order: $order) {
      totalCount
      edges { cursor node { id body public author { id } via } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

HISTORY = """
query($number: Int!, $first: Int, $after: String) {
  ticket(number: $number) {
    history(first: $first, after: $after) {
      totalCount
      edges { cursor node {
        id kind actor { id } via field previousValue newValue data public createdAt
        ticket { number }
      } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

TICKETS = """
query($filter: TicketFilter, $sort: [TicketSort!], $first: Int, $after: String,
      $last: Int, $before: String) {
  tickets(filter: $filter, sort: $sort, first: $first, after: $after, last: $last,
          before: $before) {
    totalCount
    edges { cursor node { id number subject status } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

CREATE_CUSTOM_FIELD = """
mutation($input: CreateCustomFieldInput!) {
  createCustomField(input: $input) {
    customField { id key title type visibility options requiredForEndUsers }
    errors { code field message }
  }
}
"""


async def make_ticket(gql, as_, **fields: Any) -> dict:
    """Open a ticket as `as_` (subject and description have defaults) and return it."""
    payload = await create_ticket(gql, as_, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["ticket"]


async def create_ticket(gql, as_, **fields: Any) -> dict:
    """The createTicket payload, errors included."""
    request = {"subject": "Printer on fire", "description": "It smokes.", **fields}
    result = await gql(CREATE_TICKET, {"input": request}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["createTicket"]


async def update_ticket(gql, as_, ticket_id: str, **fields: Any) -> dict:
    """The updateTicket payload, errors included."""
    result = await gql(UPDATE_TICKET, {"input": {"id": ticket_id, **fields}}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["updateTicket"]


async def updated(gql, as_, ticket_id: str, **fields: Any) -> dict:
    """Update a ticket, expecting success, and return it."""
    payload = await update_ticket(gql, as_, ticket_id, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["ticket"]


async def add_comment(gql, as_, ticket_id: str, body: str = "A reply.", **extra: Any) -> dict:
    """The addComment payload, errors included."""
    result = await gql(
        ADD_COMMENT, {"input": {"ticketId": ticket_id, "body": body, **extra}}, as_=as_
    )
    assert "errors" not in result, result
    return result["data"]["addComment"]


async def commented(gql, as_, ticket_id: str, body: str = "A reply.", **extra: Any) -> dict:
    """Comment, expecting success, and return the comment."""
    payload = await add_comment(gql, as_, ticket_id, body, **extra)
    assert payload["errors"] == [], payload["errors"]
    return payload["comment"]


async def make_custom_field(gql, admin, **fields: Any) -> dict:
    request = {"key": "serial", "title": "Serial", "type": "TEXT", "visibility": "PUBLIC", **fields}
    result = await gql(CREATE_CUSTOM_FIELD, {"input": request}, as_=admin)
    payload = result["data"]["createCustomField"]
    assert payload["errors"] == [], payload["errors"]
    return payload["customField"]


async def close(gql, agent, ticket: dict) -> dict:
    """Assign, solve and close a ticket as `agent`."""
    solved = await updated(gql, agent, ticket["id"], assigneeId=agent.id, status="SOLVED")
    assert solved["status"] == "SOLVED"
    return await updated(gql, agent, ticket["id"], status="CLOSED")


async def get_ticket(gql, as_, number: int) -> dict | None:
    result = await gql(TICKET_BY_NUMBER, {"number": number}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["ticket"]


async def history_of(gql, as_, number: int, **args: Any) -> dict:
    result = await gql(HISTORY, {"number": number, **args}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["ticket"]["history"]


async def comments_of(gql, as_, number: int, **args: Any) -> dict:
    result = await gql(COMMENTS, {"number": number, **args}, as_=as_)
    assert "errors" not in result, result
    return result["data"]["ticket"]["comments"]


async def list_tickets(gql, as_, **args: Any) -> dict:
    result = await gql(TICKETS, args, as_=as_)
    assert "errors" not in result, result
    return result["data"]["tickets"]


def numbers(connection: dict) -> list[int]:
    return [e["node"]["number"] for e in connection["edges"]]


async def set_timestamps(number: int, **when: datetime) -> None:
    """Move a ticket's created_at / updated_at (auto fields) for date searches."""
    await Ticket.filter(number=number).update(**when)
