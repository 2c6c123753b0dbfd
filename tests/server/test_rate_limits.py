"""Rate limits: sign-in attempts per client address, the query-cost budget per viewer, the
client address behind trusted proxies, in memory and in a Redis shared by two apps.

Each test builds an app of its own with small limits (`limited`); the suite's shared app has
them off. Limits are counted in points and restore at 1 point a second, so the assertions
hold however slow the machine is (they leave tens of seconds of margin).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect

from guichet.models import people as models
from guichet.server.app import create_app
from guichet.server.client_address import client_ip, limit_key, trusted_networks
from guichet.server.limit_counters import MemoryCounters, RedisCounters
from guichet.server.rate_limits import (
    BudgetedLegacyWSHandler,
    BudgetedTransportWSHandler,
    plan_operation,
    returned_objects,
)
from tests.conftest import PASSWORD, Person, error_codes, free_port
from tests.services import served

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# 30 objects asked for, 30 returned: what it takes from a budget stays taken.
THIRTY = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(30)) + " }"
# 11 asked for (me, and a plain list counted as 10), 1 returned by a person in no organization.
ORGANIZATIONS = "{ me { organizations { id } } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}"""
CREATE_GROUP = """mutation {
  createGroup(input: {name: "Throttled"}) { group { id } errors { code } }
}"""
LIMITED = {"cost_budget": 100, "cost_restore_rate": 1, "max_query_cost": 100}


@asynccontextmanager
async def limited(
    settings, peer: str = "127.0.0.1", **changes: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An app of its own with these settings, and a client talking to it from `peer`. The
    database is the suite's (already open); only the app's limits are closed here."""
    # A prefix of its own: on a shared Redis, counters of earlier tests (same user ids after
    # the tables are emptied, same address) must not count here.
    changes.setdefault("topic_prefix", f"t{uuid.uuid4().hex[:12]}:")
    application = create_app(dataclasses.replace(settings, **changes))
    http = client_of(application, peer)
    try:
        yield application, http
    finally:
        await http.aclose()
        await application.state.rate_limits.close()


def client_of(application, peer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, client=(peer, 40000)),
        base_url="http://guichet.test",
    )


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict | None = None,
    *,
    as_: Person | None = None,
    **headers: str,
) -> httpx.Response:
    if as_ is not None:
        headers["authorization"] = f"Bearer {as_.token}"
    return await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def cost(response: httpx.Response) -> dict[str, Any]:
    return response.json()["extensions"]["cost"]


def available(response: httpx.Response) -> int:
    return cost(response)["throttleStatus"]["currentlyAvailable"]


async def spend(http: httpx.AsyncClient, person: Person, points: int) -> int:
    """Spend `points` of a person's budget with queries that return all they ask for;
    the points then left."""
    left = None
    while points > 0:
        n = min(points, 30)
        query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(n)) + " }"
        response = await post(http, query, as_=person)
        assert response.status_code == 200, response.text
        assert cost(response)["actualQueryCost"] == n
        left = available(response)
        points -= n
    assert left is not None
    return left


def assert_throttled(response: httpx.Response, at_most_seconds: int) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most_seconds
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == ["THROTTLED"]
    assert body["errors"][0]["extensions"]["retryAfter"] == retry_after
    return body


# ---------------------------------------------------------------- the cost budget


async def test_every_answer_carries_its_cost(settings, agent):
    async with limited(settings, cost_budget=1000, cost_restore_rate=1) as (_, http):
        response = await post(http, "{ me { name } }", as_=agent)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"name": agent.row.name}}
    assert body["extensions"] == {
        "cost": {
            "requestedQueryCost": 1,
            "actualQueryCost": 1,
            "throttleStatus": {
                "maximumAvailable": 1000,
                "currentlyAvailable": 999,
                "restoreRate": 1,
            },
        }
    }


async def test_what_an_operation_did_not_use_goes_back_to_the_budget(settings, agent):
    async with limited(settings, cost_budget=1000, cost_restore_rate=1) as (_, http):
        first = await post(http, ORGANIZATIONS, as_=agent)
        second = await post(http, ORGANIZATIONS, as_=agent)
    assert first.json()["data"] == {"me": {"organizations": []}}
    assert cost(first)["requestedQueryCost"] == 11
    assert cost(first)["actualQueryCost"] == 1
    # 11 taken, 10 given back: one point per request, not eleven.
    assert 999 <= available(first) <= 1000
    assert 998 <= available(second) <= 1000


async def test_a_request_over_the_budget_is_throttled_before_it_runs(settings, admin):
    async with limited(settings, **LIMITED) as (application, http):
        requested = plan_operation(application.state.schema._schema, CREATE_GROUP, None).cost
        assert 10 < requested < 30
        # Leave 10 points fewer than the mutation asks for (10 s to restore them).
        await spend(http, admin, 100 - requested + 10)
        groups = await models.Group.all().count()
        for accept in (JSON, GRAPHQL_RESPONSE):
            response = await post(http, CREATE_GROUP, as_=admin, accept=accept)
            assert response.headers["content-type"].startswith(accept)
            body = assert_throttled(response, at_most_seconds=10)
            assert body["extensions"]["cost"] == {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 100,
                    "currentlyAvailable": body["extensions"]["cost"]["throttleStatus"][
                        "currentlyAvailable"
                    ],
                    "restoreRate": 1,
                },
            }
            assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < requested
            assert "Retry after" in body["errors"][0]["message"]
        assert await models.Group.all().count() == groups


async def test_budgets_are_per_viewer(settings, admin, agent):
    async with limited(settings, **LIMITED) as (_, http):
        await spend(http, admin, 90)
        assert (await post(http, THIRTY, as_=admin)).status_code == 429
        response = await post(http, THIRTY, as_=agent)
    assert response.status_code == 200
    assert available(response) == 70


async def test_signed_out_clients_have_a_budget_per_address(settings):
    # Signed out, `me` answers UNAUTHENTICATED: nothing returned, everything given back;
    # __typename costs nothing. Only the address's bucket is seen.
    async with limited(settings, **LIMITED) as (application, http):
        response = await post(http, "{ __typename }")
        assert response.json()["data"] == {"__typename": "Query"}
        assert cost(response)["requestedQueryCost"] == 0
        limits = application.state.rate_limits
        await limits.counters.take(f"{limits.prefix}cost:ip:127.0.0.1", 95, 100, 1)
        refused = await post(http, ORGANIZATIONS)
        assert_throttled(refused, at_most_seconds=6)
        async with client_of(application, "192.0.2.10") as other:
            assert (await post(other, ORGANIZATIONS)).status_code == 200


async def test_an_operation_above_the_per_request_maximum_is_refused_and_costs_nothing(
    settings, agent
):
    costly = "{ tickets(first: 50) { edges { node { id } } } }"  # 150 points
    small = {"cost_budget": 1000, "cost_restore_rate": 1, "max_query_cost": 100}
    async with limited(settings, **small) as (_, http):
        response = await post(http, costly, as_=agent)
        cheaper = await post(http, costly.replace("50", "30"), as_=agent)
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    assert "the limit is 100" in body["errors"][0]["message"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 150
    assert body["extensions"]["cost"]["actualQueryCost"] == 0
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 1000
    assert cheaper.status_code == 200
    assert "errors" not in cheaper.json()


async def test_a_request_error_gives_everything_back(settings, agent):
    async with limited(settings, cost_budget=1000, cost_restore_rate=1) as (_, http):
        response = await post(http, "{ me { noSuchField } }", as_=agent)
    assert "data" not in response.json()
    assert cost(response)["actualQueryCost"] == 0
    assert available(response) == 1000


# ---------------------------------------------------------------- sign-in attempts


async def test_sign_in_attempts_are_limited_per_address_and_a_refused_one_does_not_run(
    settings, agent
):
    wrong = {"email": agent.email, "password": "wrong guess"}
    async with limited(settings, sign_in_rate_per_minute=3, cost_budget=0) as (app_, http):
        for _ in range(3):
            response = await post(http, LOGIN, wrong)
            assert response.status_code == 200
            assert response.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        refused = await post(http, LOGIN, {**wrong, "password": PASSWORD})
        body = assert_throttled(refused, at_most_seconds=60)
        assert "extensions" not in body  # no cost budget here
        # Other operations from that address still run.
        assert (await post(http, "{ __typename }")).status_code == 200
        # Another address may sign in. Had the refused attempts run, the account would have
        # seen 5 failures by now and be locked for 15 minutes.
        async with client_of(app_, "198.51.100.20") as other:
            await post(other, LOGIN, wrong)
            assert (await post(http, LOGIN, wrong)).status_code == 429
            signed_in = await post(other, LOGIN, {**wrong, "password": PASSWORD})
    assert signed_in.json()["data"]["login"]["errors"] == []
    assert signed_in.json()["data"]["login"]["token"]


async def test_a_refused_sign_in_gives_its_cost_back(settings):
    variables = {"email": "nobody@example.test", "password": "guess"}
    async with limited(settings, sign_in_rate_per_minute=1, **LIMITED) as (_, http):
        assert (await post(http, LOGIN, variables)).status_code == 200
        refused = await post(http, LOGIN, variables)
    body = assert_throttled(refused, at_most_seconds=60)
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    # 11 asked for, 2 returned (the payload and its error): 98 left; then the refused
    # attempt took 11 and gave them back.
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] >= 98


async def test_logins_through_fragments_are_counted(settings):
    by_fragment = """mutation { ...SignIn }
      fragment SignIn on Mutation { login(input: {email: "x@example.test", password: "y"}) { token } }"""
    async with limited(settings, sign_in_rate_per_minute=1, cost_budget=0) as (_, http):
        assert (await post(http, by_fragment)).status_code == 200
        assert (await post(http, by_fragment)).status_code == 429


# ---------------------------------------------------------------- the client's address


TRUSTED = trusted_networks(["10.0.0.0/8", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        # Not from a trusted proxy: X-Forwarded-For is whatever the client wrote.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # The right-most address that is not a trusted proxy; what is left of it is the
        # client's to write.
        ("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.3", "198.51.100.1"),
        ("10.0.0.2", "1.2.3.4,198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),
        ("10.0.0.2", "198.51.100.1:5123", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.2", "unknown", "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4, junk, 10.0.0.3", "10.0.0.3"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("2001:db8:ffff::1", "2001:db8:1::1", "2001:db8:1::1"),
        ("testclient", "198.51.100.1", "testclient"),
    ],
)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(peer, forwarded, expected):
    assert client_ip(peer, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_the_socket_peer_is_the_client():
    assert client_ip("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


def test_ipv6_clients_are_limited_per_64():
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.1") == "198.51.100.1"
    assert limit_key(None) == "unknown"


async def test_the_sign_in_limit_follows_the_client_behind_a_trusted_proxy(settings):
    async with limited(
        settings,
        peer="10.0.0.2",
        sign_in_rate_per_minute=1,
        cost_budget=0,
        trusted_proxies=("10.0.0.0/8",),
    ) as (application, proxied):
        variables = {"email": "nobody@example.test", "password": "guess"}

        async def attempt(http: httpx.AsyncClient, forwarded: str) -> int:
            return (
                await post(http, LOGIN, variables, **{"x-forwarded-for": forwarded})
            ).status_code

        assert await attempt(proxied, "198.51.100.1") == 200
        assert await attempt(proxied, "198.51.100.1") == 429
        assert await attempt(proxied, "198.51.100.2") == 200
        assert await attempt(proxied, "6.6.6.6, 198.51.100.2") == 429
        # Straight from the Internet, a forged header changes nothing.
        async with client_of(application, "203.0.113.9") as direct:
            assert await attempt(direct, "198.51.100.3") == 200
            assert await attempt(direct, "198.51.100.4") == 429


# ---------------------------------------------------------------- several operations


SEVERAL = 'query A { __typename } mutation B { createGroup(input: {name: "B"}) { group { id } } }'


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_several_operations_without_an_operation_name_are_a_400(gql, admin, accept):
    groups = await models.Group.all().count()
    response = await gql.post(SEVERAL, as_=admin, headers={"accept": accept})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    assert response.json() == {
        "errors": [
            {
                "message": "The document has several operations: name the one to run in operationName."
            }
        ]
    }
    assert await models.Group.all().count() == groups


async def test_an_operation_name_picks_one_of_several(gql, admin):
    response = await gql.http.post(
        "/graphql",
        json={"query": SEVERAL, "operationName": "A"},
        headers={"authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


# ---------------------------------------------------------------- counters and costs


async def test_memory_counters_refill_and_forget():
    now = [1000.0]
    counters = MemoryCounters(clock=lambda: now[0])
    assert (await counters.take("k", 80, 100, 10)).available == 20
    refused = await counters.take("k", 30, 100, 10)
    assert not refused.taken
    assert refused.available == 20
    now[0] += 1
    assert (await counters.take("k", 30, 100, 10)).available == 0
    assert (await counters.take("k", -25, 100, 10)).available == 25
    now[0] += 60
    level = await counters.take("k", 0, 100, 10)
    assert level.taken and level.available == 100
    assert await counters.count("w", 60) == (1, 60)
    now[0] += 59.5
    assert await counters.count("w", 60) == (2, 1)
    now[0] += 1
    assert await counters.count("w", 60) == (1, 60)
    await counters.take("gone", 1, 100, 10)
    now[0] += MemoryCounters.SWEEP_INTERVAL_SECONDS + 1
    await counters.count("other", 60)
    assert "gone" not in counters._buckets
    assert "w" not in counters._windows


def test_the_actual_cost_counts_the_objects_returned():
    assert returned_objects(None) == 0
    assert returned_objects({"__typename": "Query"}) == 0
    data = {
        "tickets": {
            "totalCount": 2,
            "edges": [
                {"node": {"id": "1", "tags": ["a"], "assignee": None}},
                {"node": {"id": "2", "tags": [], "assignee": {"name": "A"}}},
            ],
        }
    }
    assert returned_objects(data) == 6


def test_the_requested_cost_is_the_static_estimate(app):
    schema = app.state.schema._schema
    dashboard = (Path(__file__).parents[2] / "bench" / "dashboard.graphql").read_text()
    plan = plan_operation(schema, dashboard, None)
    assert plan.cost == 1250
    assert not plan.signs_in
    assert plan_operation(schema, LOGIN, None).signs_in
    for door in (
        'requestPasswordReset(input: {email: "a@x.test"}) { accepted }',
        'resetPassword(input: {token: "t", newPassword: "p"}) { token }',
        'requestSignUp(input: {name: "A", email: "a@x.test"}) { accepted }',
        'completeSignUp(input: {token: "t", password: "p"}) { token }',
    ):  # each counts towards the per-client sign-in limit
        assert plan_operation(schema, f"mutation {{ {door} }}", None).signs_in
    assert plan_operation(schema, "query A { __typename } query B { __typename }", None).ambiguous
    assert plan_operation(schema, "query A { __typename }", "C").kind is None


# ---------------------------------------------------------------- over the websocket


def budgeted_websocket(application) -> None:
    """The websocket's handlers with the budget, as websocket.py is to have them (its
    handlers deriving from BudgetedTransportWSHandler and BudgetedLegacyWSHandler)."""
    endpoint = next(r.endpoint for r in application.routes if isinstance(r, WebSocketRoute))
    for attribute, budgeted in (
        ("graphql_transport_ws_handler_class", BudgetedTransportWSHandler),
        ("graphql_ws_handler_class", BudgetedLegacyWSHandler),
    ):
        handler = getattr(endpoint, attribute)
        if not issubclass(handler, budgeted):
            setattr(endpoint, attribute, type(handler.__name__, (budgeted, handler), {}))


async def test_websocket_operations_take_from_the_same_budget(settings, agent):
    async with limited(settings, **LIMITED) as (application, http):
        budgeted_websocket(application)
        await spend(http, agent, 90)
        async with (
            served(application) as server,
            connect(
                f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"], open_timeout=5
            ) as ws,
        ):
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(agent)}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": THIRTY}})
            )
            refused = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert refused["type"] == "error" and refused["id"] == "1"
            assert refused["payload"][0]["extensions"]["code"] == "THROTTLED"
            # The connection stays open, and a cheaper operation runs.
            await ws.send(
                json.dumps({"id": "2", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
            )
            answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert answer["type"] == "next"
            assert answer["payload"]["data"] == {"me": {"id": agent.id}}


async def test_the_legacy_websocket_protocol_takes_from_the_same_budget(settings, agent):
    async with limited(settings, legacy_graphql_ws=True, **LIMITED) as (application, http):
        budgeted_websocket(application)
        await spend(http, agent, 90)
        async with (
            served(application) as server,
            connect(f"ws://{server}/graphql", subprotocols=["graphql-ws"], open_timeout=5) as ws,
        ):
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(agent)}))

            async def receive() -> dict[str, Any]:
                while True:  # keep-alives come and go
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if message["type"] != "ka":
                        return message

            assert (await receive())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": THIRTY}}))
            refused = await receive()
    assert refused["type"] == "error" and refused["id"] == "1"
    assert refused["payload"]["extensions"]["code"] == "THROTTLED"
    assert refused["payload"]["extensions"]["cost"]["requestedQueryCost"] == 30


def bearer(person: Person) -> dict[str, str]:
    return {"authorization": f"Bearer {person.token}"}


# ---------------------------------------------------------------- in Redis, shared


def on_redis(redis_url: str, **changes: Any) -> dict[str, Any]:
    # A prefix of the test's own: runs sharing one Redis never see each other's counters.
    return {"broadcast_url": redis_url, "topic_prefix": f"t{uuid.uuid4().hex[:12]}:", **changes}


async def test_two_apps_on_one_redis_share_budgets_and_sign_in_counts(settings, agent, redis_url):
    changes = on_redis(redis_url, sign_in_rate_per_minute=2, **LIMITED)
    async with (
        limited(settings, **changes) as (one, first),
        limited(settings, **changes) as (two, second),
    ):
        assert isinstance(one.state.rate_limits.counters, RedisCounters)
        await spend(first, agent, 90)
        assert_throttled(await post(second, THIRTY, as_=agent), at_most_seconds=25)
        response = await post(second, "{ me { id } }", as_=agent)
        assert 9 <= available(response) <= 30
        variables = {"email": "nobody@example.test", "password": "guess"}
        assert (await post(first, LOGIN, variables)).status_code == 200
        assert (await post(second, LOGIN, variables)).status_code == 200
        assert_throttled(await post(first, LOGIN, variables), at_most_seconds=60)
        assert one.state.rate_limits.counters.failures == 0
        assert two.state.rate_limits.counters.failures == 0
        # The keys are under the prefix, and expire.
        prefix = changes["topic_prefix"]
        client = Redis.from_url(redis_url)
        try:
            keys = sorted(k.decode() for k in await client.keys(f"{prefix}*"))
            assert keys == [
                f"{prefix}guichet:limits:cost:ip:127.0.0.1",
                f"{prefix}guichet:limits:cost:user:{agent.row.pk}",
                f"{prefix}guichet:limits:sign-in:127.0.0.1",
            ]
            for key in keys:
                assert 0 < await client.pttl(key) <= 101_000
        finally:
            await client.aclose()


async def test_without_redis_requests_are_served_and_counted_in_the_process(
    settings, agent, caplog
):
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="guichet.limits"):
        async with limited(settings, **on_redis(unreachable, **LIMITED)) as (application, http):
            answers = [await post(http, "{ me { id } }", as_=agent) for _ in range(3)]
            failures = application.state.rate_limits.counters.failures
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [available(a) for a in answers][-1] <= 98
    assert failures >= 1
    warnings = [r for r in caplog.records if r.name == "guichet.limits"]
    assert len(warnings) == 1
    assert "Redis cannot be reached" in warnings[0].getMessage()
