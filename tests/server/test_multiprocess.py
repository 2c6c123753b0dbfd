"""Two `guichet serve` processes on one PostgreSQL database and one Redis.

Runs only when GUICHET_TEST_DATABASE_URL is a postgres:// URL and GUICHET_TEST_BROADCAST_URL
a redis:// URL (CI sets both). The processes get a fresh database of their own, created on
that PostgreSQL server and dropped afterwards; the test's own database is not touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests import services
from tests.conftest import free_port

DATABASE_URL = os.environ.get("GUICHET_TEST_DATABASE_URL") or ""
BROADCAST_URL = os.environ.get("GUICHET_TEST_BROADCAST_URL") or ""
GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))
KEY = "multiprocess-test-secret-key-0123456789-abcdef"
PASSWORD = "a long enough password"
START_TIMEOUT = 30.0
TIMEOUT = 5.0
TICKETS = 40

pytestmark = pytest.mark.skipif(
    GUICHET is None, reason="the guichet console script is not installed"
)


@pytest.fixture(scope="module", autouse=True)
def shared_servers() -> None:
    """Several processes need a shared database and pub/sub."""
    services.need_postgres()
    if not services.configured_redis_url():
        services.missing(
            "redis", "several processes need a shared pub/sub: set GUICHET_TEST_BROADCAST_URL"
        )


HISTORY = """
subscription($id: ID!, $after: String) {
  ticketHistory(ticketId: $id, after: $after) { id kind public actor { name } }
}
"""
LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { token errors { code message } } }
"""
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
TICKET_HISTORY = """
query($number: Int!) { ticket(number: $number) { history(first: 100) { edges { node { id } } } } }
"""
TICKET_NUMBERS = "{ tickets(first: 100) { totalCount edges { node { number } } } }"


# ---------------------------------------------------------------- a database and two servers


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    """A fresh database on the test PostgreSQL server, dropped at the end."""
    import asyncpg

    name = f"guichet_mp_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(_asyncpg_url(DATABASE_URL))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(DATABASE_URL, name)
        finally:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _environment(database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(
        GUICHET_DATABASE_URL=database,
        GUICHET_BROADCAST_URL=BROADCAST_URL,
        GUICHET_SECRET_KEY=KEY,
        # 200 sign-ins from 127.0.0.1 test the per-address lock, not the per-client limit.
        GUICHET_SIGN_IN_RATE_PER_MINUTE="0",
    )
    return env


async def _guichet(env: dict[str, str], cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        GUICHET,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, (args, err.decode())
    return out.decode()


@dataclass
class Server:
    address: str
    process: subprocess.Popen
    log: IO[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]


def _start(env: dict[str, str], cwd: Path, name: str) -> Server:
    port = free_port()
    log_path = cwd / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [GUICHET, "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Server(f"127.0.0.1:{port}", process, log, log_path)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    server.log.close()


async def _healthy(server: Server, http: httpx.AsyncClient) -> None:
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"{server.address} exited early:\n{server.output()}")
            try:
                response = await http.get(f"{server.url}/healthz")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@dataclass
class Cluster:
    servers: tuple[Server, Server]
    http: httpx.AsyncClient
    owner_token: str
    agent_token: str

    async def gql(self, server: Server, query: str, variables: dict | None, token: str) -> dict:
        response = await self.http.post(
            f"{server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def mutate(self, server: Server, document: str, name: str, input: dict) -> dict:
        payload = (await self.gql(server, document, {"input": input}, self.agent_token))[name]
        assert payload["errors"] == [], payload
        return payload


@pytest.fixture(scope="module")
async def cluster(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    cwd = tmp_path_factory.mktemp("multiprocess")
    env = _environment(database)
    # create-user migrates the fresh database first, before any server starts.
    for name, email, role in (
        ("Olivia Owner", "owner@mp.test", "OWNER"),
        ("Agnès Agent", "agent@mp.test", "AGENT"),
    ):
        created = await _guichet(
            env, cwd, "create-user", "--name", name, "--email", email,
            "--password", PASSWORD, "--role", role,
        )  # fmt: skip
        assert created.startswith(f"created {role} "), created
    servers = (_start(env, cwd, "one"), _start(env, cwd, "two"))
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            for server in servers:
                await _healthy(server, http)
            tokens = []
            for server, email in zip(servers, ("owner@mp.test", "agent@mp.test"), strict=True):
                response = await http.post(
                    f"{server.url}/graphql",
                    json={"query": LOGIN, "variables": {"input": {"email": email, "password": PASSWORD}}},
                )  # fmt: skip
                payload = response.json()["data"]["login"]
                assert payload["errors"] == [], payload
                tokens.append(payload["token"])
            yield Cluster(servers, http, *tokens)
    finally:
        for server in servers:
            _stop(server)


# ---------------------------------------------------------------- a websocket


@asynccontextmanager
async def websocket(server: Server, token: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://{server.address}/graphql",
        subprotocols=["graphql-transport-ws"],
        open_timeout=TIMEOUT,
        close_timeout=2,
        max_queue=None,
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


NOTIFIED = "subscription { notifications { kind } }"


async def closed_with(ws: ClientConnection) -> int | None:
    """The close code the server sent, skipping anything sent before it."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None


def _full_log(server: Server) -> str:
    server.log.flush()
    return server.log_path.read_text(errors="replace")


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    message = await receive(ws)
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return message["payload"]["data"]["ticketHistory"]


# ---------------------------------------------------------------- tests


async def test_a_subscriber_on_one_process_receives_a_change_made_on_the_other(cluster):
    one, two = cluster.servers
    created = await cluster.mutate(
        one,
        CREATE_TICKET,
        "createTicket",
        {"subject": "VPN down", "description": "Since the update."},
    )
    ticket = created["ticket"]
    await cluster.mutate(
        one, ADD_COMMENT, "addComment", {"ticketId": ticket["id"], "body": "On it."}
    )
    history = await cluster.gql(
        one, TICKET_HISTORY, {"number": ticket["number"]}, cluster.agent_token
    )
    event_ids = [e["node"]["id"] for e in history["ticket"]["history"]["edges"]]
    assert len(event_ids) >= 2

    async with (
        websocket(two, cluster.agent_token) as on_two,
        websocket(one, cluster.agent_token) as on_one,
    ):
        for ws in (on_two, on_one):
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": HISTORY,
                            "variables": {"id": ticket["id"], "after": event_ids[0]},
                        },
                    }
                )
            )
            # The replay is in: the subscription is live (it subscribes before replaying).
            assert [(await next_event(ws))["id"] for _ in event_ids[1:]] == event_ids[1:]

        added = await cluster.mutate(
            one,
            ADD_COMMENT,
            "addComment",
            {"ticketId": ticket["id"], "body": "Fixed on process one.", "public": False},
        )
        assert added["comment"]["id"]
        from_two = await next_event(on_two)
        from_one = await next_event(on_one)
    assert from_two == from_one
    assert from_two["kind"] == "COMMENT_ADDED"
    assert from_two["public"] is False
    assert from_two["actor"] == {"name": "Agnès Agent"}
    history = await cluster.gql(
        two, TICKET_HISTORY, {"number": ticket["number"]}, cluster.agent_token
    )
    assert from_two["id"] == history["ticket"]["history"]["edges"][-1]["node"]["id"]


async def test_ticket_numbers_stay_unique_and_gapless_under_concurrent_creation(cluster):
    before = (await cluster.gql(cluster.servers[0], TICKET_NUMBERS, None, cluster.agent_token))[
        "tickets"
    ]["totalCount"]

    async def create(n: int) -> int:
        server = cluster.servers[n % 2]
        created = await cluster.mutate(
            server,
            CREATE_TICKET,
            "createTicket",
            {"subject": f"Concurrent {n}", "description": f"Opened on {server.address}."},
        )
        return created["ticket"]["number"]

    numbers = await asyncio.gather(*(create(n) for n in range(TICKETS)))
    assert len(set(numbers)) == TICKETS
    assert sorted(numbers) == list(range(before + 1, before + TICKETS + 1))
    # Every ticket of the database, those before included, numbered 1..N without a gap.
    listed = (await cluster.gql(cluster.servers[1], TICKET_NUMBERS, None, cluster.agent_token))[
        "tickets"
    ]
    assert listed["totalCount"] == before + TICKETS
    assert sorted(e["node"]["number"] for e in listed["edges"]) == list(
        range(1, before + TICKETS + 1)
    )


# ---------------------------------------------------------------- sessions and sign-in


async def test_logout_on_one_process_closes_the_sessions_websocket_on_the_other(cluster):
    one, two = cluster.servers
    response = await cluster.http.post(
        f"{one.url}/graphql",
        json={"query": LOGIN, "variables": {"input": {"email": "agent@mp.test", "password": PASSWORD}}},
    )  # fmt: skip
    token = response.json()["data"]["login"]["token"]
    async with websocket(two, token) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": NOTIFIED}}))
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"
        await cluster.gql(one, "mutation { logout { errors { code } } }", None, token)
        code = await closed_with(ws)
    assert code == 4401


async def test_wrong_passwords_sent_at_once_to_both_processes_run_at_most_five_checks(cluster):
    one, two = cluster.servers
    address = "agent@mp.test"
    before = sum(_full_log(server).count("password checked") for server in cluster.servers)

    async def guess(i: int) -> dict:
        server = (one, two)[i % 2]
        variables = {"input": {"email": address, "password": f"wrong guess {i}"}}
        response = await cluster.http.post(
            f"{server.url}/graphql", json={"query": LOGIN, "variables": variables}
        )
        return response.json()["data"]["login"]

    async with asyncio.timeout(60):
        answers = await asyncio.gather(*(guess(i) for i in range(200)))
    assert {a["errors"][0]["code"] for a in answers} == {"INVALID_CREDENTIALS"}
    checks = sum(_full_log(server).count("password checked") for server in cluster.servers)
    assert checks - before <= 5


VIEW_COUNTS = "subscription { viewCounts { view { name } count } }"
ASSIGN = """
mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { errors { code message } } }
"""


async def next_counts(ws: ClientConnection) -> dict[str, int]:
    message = await receive(ws)
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return {c["view"]["name"]: c["count"] for c in message["payload"]["data"]["viewCounts"]}


async def test_view_counts_on_one_process_move_with_an_assignment_on_the_other(cluster):
    one, two = cluster.servers
    me = (await cluster.gql(one, "{ me { id } }", None, cluster.agent_token))["me"]["id"]
    created = await cluster.mutate(
        one, CREATE_TICKET, "createTicket", {"subject": "Badge", "description": "Lost it."}
    )
    async with websocket(two, cluster.agent_token) as on_two:
        subscribe = {"id": "v", "type": "subscribe", "payload": {"query": VIEW_COUNTS}}
        await on_two.send(json.dumps(subscribe))
        before = await next_counts(on_two)
        # The ticket is unassigned, counted as such on process two.
        assert before["Unassigned"] >= 1
        assigned = await cluster.gql(
            one,
            ASSIGN,
            {"input": {"id": created["ticket"]["id"], "assigneeId": me}},
            cluster.agent_token,
        )
        assert assigned["updateTicket"]["errors"] == []
        after = await next_counts(on_two)
    assert after["My open tickets"] == before["My open tickets"] + 1
    assert after["Unassigned"] == before["Unassigned"] - 1
