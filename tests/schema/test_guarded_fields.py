"""Every @requires field fails alone: read by a viewer below its role, it is null with a
FORBIDDEN error at its path, and the rest of the response is served. A mutation the
viewer may not run refuses its whole document instead, before anything runs (`data` is
null: mutation payloads are non-null, and nothing half-ran).

The fields are found in the served SDL, not listed by hand: a field that gains @requires
is walked here as soon as it exists. Each is asked for with minimal valid arguments
(built from the argument types), beside a sibling that must still be served, over HTTP
and over a real websocket (graphql-transport-ws `subscribe` carrying a query or mutation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    get_named_type,
    is_required_argument,
    is_required_input_field,
    parse,
)
from websockets.asyncio.client import connect

from guichet.models.people import Role
from guichet.schema.root import build_schema

ROLES = [Role.END_USER, Role.LIGHT_AGENT, Role.AGENT, Role.ADMIN, Role.OWNER]
# Objects a viewer of that role can never reach, so their guarded fields cannot be asked.
UNREACHABLE = {("Group", Role.END_USER)}
SCALARS = {
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "DateTime": '"2026-01-01T00:00:00Z"',
}


@dataclass(frozen=True)
class Guarded:
    type_name: str
    field_name: str
    role: Role

    def __str__(self) -> str:
        return f"{self.type_name}.{self.field_name}"


def guarded_fields() -> list[Guarded]:
    """Every field of the served SDL that carries @requires(role:)."""
    found = []
    for definition in parse(build_schema().as_str()).definitions:
        if not isinstance(definition, (ObjectTypeDefinitionNode, ObjectTypeExtensionNode)):
            continue
        for field in definition.fields or ():
            for directive in field.directives or ():
                if directive.name.value == "requires":
                    role = directive.arguments[0].value.value
                    found.append(Guarded(definition.name.value, field.name.value, Role(role)))
    return found


def literal(type_: Any) -> str:
    """A minimal valid GraphQL literal of an input type."""
    if isinstance(type_, GraphQLNonNull):
        return literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{literal(type_.of_type)}]"
    if isinstance(type_, GraphQLInputObjectType):
        fields = (
            f"{name}: {literal(field.type)}"
            for name, field in type_.fields.items()
            if is_required_input_field(field)
        )
        return "{" + ", ".join(fields) + "}"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    return SCALARS.get(type_.name, '"x"')


def call(guarded: Guarded) -> str:
    """The field with its required arguments, and a selection when it is an object."""
    schema = build_schema()._schema
    field = schema.get_type(guarded.type_name).fields[guarded.field_name]
    arguments = ", ".join(
        f"{name}: {literal(argument.type)}"
        for name, argument in field.args.items()
        if is_required_argument(argument)
    )
    named = get_named_type(field.type)
    selection = (
        " { __typename }" if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)) else ""
    )
    return (
        f"{guarded.field_name}({arguments}){selection}"
        if arguments
        else (f"{guarded.field_name}{selection}")
    )


@dataclass(frozen=True)
class Case:
    guarded: Guarded
    viewer: Role

    @property
    def id(self) -> str:
        return f"{self.guarded}-as-{self.viewer.value}"


CASES = [
    Case(g, role)
    for g in guarded_fields()
    for role in ROLES
    if not role.at_least(g.role) and (g.type_name, role) not in UNREACHABLE
]


def request(case: Case, samples: dict[str, str], viewer_id: str) -> tuple[str, dict, list, Any]:
    """The document, its variables, the path that must be null and FORBIDDEN, and a function
    that checks the rest of the answer was served."""
    guarded = case.guarded
    schema = build_schema()._schema
    if guarded.type_name == schema.query_type.name:

        def served(data: dict) -> None:
            assert data["me"] == {"id": viewer_id}

        return f"{{ me {{ id }} {call(guarded)} }}", {}, [guarded.field_name], served
    if guarded.type_name == schema.mutation_type.name:

        def served(data: dict | None) -> None:
            assert data is None  # refused whole: nothing ran

        return f"mutation {{ __typename {call(guarded)} }}", {}, [guarded.field_name], served
    assert guarded.type_name != schema.subscription_type.name, "a guarded subscription field"
    assert guarded.type_name in samples, f"tests/schema/{__name__}: no sample {guarded.type_name}"
    document = (
        f"query($id: ID!) {{ me {{ id }} node(id: $id) {{ __typename"
        f" ... on {guarded.type_name} {{ {call(guarded)} }} }} }}"
    )

    def served(data: dict) -> None:
        assert data["me"] == {"id": viewer_id}
        assert data["node"]["__typename"] == guarded.type_name

    return document, {"id": samples[guarded.type_name]}, ["node", guarded.field_name], served


def check(answer: dict, case: Case, path: list, served) -> None:
    assert "data" in answer, answer
    assert [e["extensions"]["code"] for e in answer.get("errors", [])] == ["FORBIDDEN"], answer
    assert answer["errors"][0]["path"] == path
    value = answer["data"]
    for key in path if value is not None else ():
        value = value[key]
    assert value is None
    served(answer["data"])


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def samples(gql, everyone, org, group) -> dict[str, dict[str, str]]:
    """By viewer role, one object of each type whose guarded fields are walked, visible to
    that viewer."""
    created = await gql(
        'mutation($r: ID!) { createTicket(input: {subject: "S", description: "D", requesterId: $r})'
        " { ticket { id } errors { code } } }",
        {"r": everyone["END_USER"].id},
        as_=everyone["AGENT"],
    )
    ticket = created["data"]["createTicket"]["ticket"]["id"]
    return {
        role: {
            "User": person.id,
            "Organization": org.id,
            "Group": group.id,
            "Ticket": ticket,
        }
        for role, person in everyone.items()
    }


def test_the_walk_covers_root_and_object_fields():
    names = {str(c.guarded) for c in CASES}
    assert {"Query.ticketStats", "Mutation.createUser", "Ticket.tags", "User.groups"} <= names
    assert all(str(g) in names for g in guarded_fields() if g.type_name != "Group")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_a_guarded_field_fails_alone_over_http(gql, everyone, samples, case):
    person = everyone[case.viewer.value]
    document, variables, path, served = request(case, samples[case.viewer.value], person.id)
    check(await gql(document, variables, as_=person), case, path, served)


# ---------------------------------------------------------------- the same over a websocket

TIMEOUT = 5.0


@asynccontextmanager
async def signed_in_socket(server: str, token: str) -> AsyncIterator[Any]:
    async with connect(
        f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"], open_timeout=TIMEOUT
    ) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert (await received(ws))["type"] == "connection_ack"
        yield ws


async def received(ws: Any) -> dict:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


@pytest.mark.parametrize(
    "viewer", sorted({c.viewer for c in CASES}, key=ROLES.index), ids=lambda r: r.value
)
async def test_guarded_fields_fail_alone_over_a_websocket(live_server, everyone, samples, viewer):
    person = everyone[viewer.value]
    cases = [c for c in CASES if c.viewer is viewer]
    async with signed_in_socket(live_server, person.token) as ws:
        for number, case in enumerate(cases):
            document, variables, path, served = request(case, samples[viewer.value], person.id)
            payload = {"query": document, "variables": variables}
            await ws.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
            answer = await received(ws)
            assert answer["type"] == "next" and answer["id"] == str(number), (case.id, answer)
            check(answer["payload"], case, path, served)
            assert (await received(ws)) == {"id": str(number), "type": "complete"}
