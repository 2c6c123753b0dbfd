"""Redis and PostgreSQL go away and come back; Guichet keeps its promises.

- Redis killed and restarted under writes: no write fails, and a subscriber that stays
  connected receives every event exactly once (live, or replayed after the outage);
  /healthz names the pub/sub while it is away.
- PostgreSQL crashed and restarted under a running `guichet serve`: requests during the
  outage answer 503 / SERVICE_UNAVAILABLE (never "Unexpected error."), /healthz names the
  database, and everything works again once it is back, without a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests import services
from tests.conftest import Person
from tests.server.test_websocket import served
from tests.services import free_port

TIMEOUT = 10.0
HISTORY = "subscription($id: ID!) { ticketHistory(ticketId: $id) { id kind } }"
CREATE_TICKET = """
mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id number } errors { code message } }
}
"""
ADD_COMMENT = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } errors { code message } }
}
"""


async def _gql(http: httpx.AsyncClient, query: str, variables: dict, person: Person) -> dict:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {person.token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _history(http: httpx.AsyncClient, ticket_id: str, person: Person) -> set[str]:
    query = "query($id: ID!) { node(id: $id) { ... on Ticket { history(first: 100) { edges { node { id } } } } } }"
    answer = await _gql(http, query, {"id": ticket_id}, person)
    return {e["node"]["id"] for e in answer["data"]["node"]["history"]["edges"]}


async def test_redis_restarted_under_writes_fails_no_write_and_loses_no_event(
    settings, agent, end_user
):
    redis = services.RedisServer().start()
    try:
        async with (
            served(settings, broadcast_url=redis.url) as (_application, address),
            httpx.AsyncClient(base_url=f"http://{address}", timeout=TIMEOUT) as http,
        ):
            created = await _gql(
                http,
                CREATE_TICKET,
                {"input": {"subject": "Printer", "description": "Smoke.", "requesterId": end_user.id}},
                agent,
            )  # fmt: skip
            ticket_id = created["data"]["createTicket"]["ticket"]["id"]
            before = await _history(http, ticket_id, agent)
            async with connect(
                f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"], max_queue=None
            ) as ws:
                init = {"authorization": f"Bearer {agent.token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                subscribe = {"query": HISTORY, "variables": {"id": ticket_id}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
                await asyncio.sleep(0.3)  # the subscription is live well before the outage

                received: list[str] = []

                async def listen() -> None:
                    while True:
                        message = json.loads(await ws.recv())
                        assert message["type"] == "next", message
                        assert "errors" not in message["payload"], message
                        received.append(message["payload"]["data"]["ticketHistory"]["id"])

                listener = asyncio.create_task(listen())
                comments = []
                for n in range(30):
                    if n == 10:
                        redis.kill()
                        health = await http.get("/healthz")
                        assert health.status_code == 503
                        assert health.json()["pubsub"] == "unreachable"
                    if n == 20:
                        redis.start()
                    answer = await _gql(
                        http,
                        ADD_COMMENT,
                        {"input": {"ticketId": ticket_id, "body": f"Comment {n}", "public": True}},
                        agent,
                    )
                    assert "errors" not in answer, answer  # a committed write never fails
                    assert answer["data"]["addComment"]["errors"] == []
                    comments.append(answer["data"]["addComment"]["comment"]["id"])
                    await asyncio.sleep(0.05)

                # Every event of these writes arrives, once: live, or replayed after the outage.
                expected = await _history(http, ticket_id, agent) - before
                assert len(expected) >= len(comments)
                async with asyncio.timeout(TIMEOUT):
                    while len(received) < len(expected):
                        assert not listener.done(), listener
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                listener.cancel()
                assert sorted(received) == sorted(expected)
            await _until_health(http, 200)
    finally:
        redis.stop()


# ---------------------------------------------------------------- PostgreSQL restarted

GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))
KEY = "outage-test-secret-key-0123456789-abcdefgh"
PASSWORD = "a long enough password"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { token errors { code } } }"


async def _until_health(http: httpx.AsyncClient, status: int) -> dict:
    async with asyncio.timeout(30):
        while True:
            try:
                response = await http.get("/healthz")
                if response.status_code == status:
                    return response.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def test_a_postgresql_restart_is_survived_without_restarting_guichet(tmp_path):
    if GUICHET is None:
        pytest.skip("the guichet console script is not installed")
    postgres = services.PostgresServer().create()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(GUICHET_DATABASE_URL=postgres.url, GUICHET_SECRET_KEY=KEY)
    log_path = tmp_path / "serve.log"
    server = None
    try:
        subprocess.run(  # noqa: ASYNC221 - before any server runs
            [GUICHET, "create-user", "--name", "Agnès", "--email", "agent@outage.test",
             "--password", PASSWORD, "--role", "AGENT"],
            env=env, cwd=tmp_path, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        with log_path.open("wb") as log:
            server = subprocess.Popen(  # noqa: ASYNC220 - starts at once
                [GUICHET, "serve", "--port", str(port), "--no-worker"],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
            await _until_health(http, 200)
            login = await http.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"i": {"email": "agent@outage.test", "password": PASSWORD}}},
            )  # fmt: skip
            token = login.json()["data"]["login"]["token"]
            headers = {"authorization": f"Bearer {token}"}
            me = {"query": "{ me { name } }"}
            assert (await http.post("/graphql", json=me, headers=headers)).status_code == 200

            postgres.crash()
            health = await _until_health(http, 503)
            assert health["database"] == "unreachable"
            for _ in range(3):
                during = await http.post("/graphql", json=me, headers=headers)
                assert during.status_code == 503, during.text
                assert during.headers["retry-after"]
                body = during.json()
                assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
                assert "Unexpected error." not in during.text

            # A websocket cannot be signed in either: "try again later", not "forbidden".
            async with connect(
                f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
            ) as ws:
                init = {"authorization": f"Bearer {token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(TIMEOUT):
                        await ws.recv()
                assert closed.value.rcvd.code == 1013

            postgres.start()
            await _until_health(http, 200)
            after = await http.post("/graphql", json=me, headers=headers)
            assert after.status_code == 200
            assert after.json()["data"] == {"me": {"name": "Agnès"}}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        postgres.stop()
    assert "Unexpected error" not in log_path.read_text(errors="replace")
