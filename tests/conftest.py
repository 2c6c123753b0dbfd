"""Shared fixtures: a migrated database, the app, a GraphQL client, people of every role.

The suite runs on SQLite + memory:// by default. Set GUICHET_TEST_DATABASE_URL
(postgres://…, a database the suite may wipe) and GUICHET_TEST_BROADCAST_URL
(redis://…) to run it on PostgreSQL + Redis; .ci/run does both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from guichet.models import db as database
from guichet.models.migrate import apply_migrations
from guichet.models.people import Role
from guichet.resolvers.admin import help_center
from guichet.resolvers.context import Viewer
from guichet.resolvers.people import accounts, auth, people
from guichet.server.app import create_app
from guichet.server.auth import context_for
from guichet.server.lean_websocket import WEBSOCKET_OPTIONS
from guichet.server.settings import Settings
from guichet.server.settings_watch import TASK_NAMES as SETTINGS_WATCH_TASKS

PASSWORD = "correct horse battery staple"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def database_url(tmp: Path) -> str:
    return os.environ.get("GUICHET_TEST_DATABASE_URL") or f"sqlite://{tmp / 'guichet-test.sqlite3'}"


def broadcast_url() -> str:
    return os.environ.get("GUICHET_TEST_BROADCAST_URL") or "memory://"


async def wipe_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("guichet")
    return Settings(
        database_url=database_url(tmp),
        broadcast_url=broadcast_url(),
        secret_key=TEST_SECRET,
        storage_dir=tmp / "storage",
        # The suite is thousands of requests from one address that compare whole answers:
        # no sign-in limit, no cost budget (so no extensions.cost) here. The limits are
        # tested on apps of their own (tests/server/test_rate_limits.py).
        sign_in_rate_per_minute=0,
        cost_budget=0,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator:
    if not settings.is_sqlite:
        await wipe_postgres(settings.database_url)
    await apply_migrations(settings.database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def password_hash() -> str:
    return await auth.hash_password(PASSWORD)


# Rows the migrations put in place: kept (and reset) between tests.
KEPT_TABLES = {"aerich", "ticket_counter"}


async def _tables() -> list[str]:
    if database.dialect() == "sqlite":
        rows = await database.db().execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = await database.db().execute_query_dict(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        )
    return [r["name"] for r in rows if r["name"] not in KEPT_TABLES]


@pytest.fixture(autouse=True)
async def clean_database(app) -> AsyncIterator[None]:
    yield
    tables = await _tables()
    if database.dialect() == "sqlite":
        statements = "".join(f'DELETE FROM "{table}";' for table in tables)
        await database.db().execute_script(
            f"PRAGMA foreign_keys = OFF; {statements} DELETE FROM sqlite_sequence"
            " WHERE name <> 'ticket_counter'; PRAGMA foreign_keys = ON;"
        )
    else:
        names = ", ".join(f'"{t}"' for t in tables)
        await database.db().execute_script(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await database.db().execute_script("UPDATE ticket_counter SET last_number = 0")
    # The next test starts from the environment's settings, not this one's stored copy.
    help_center.start_over(app.state.settings.database_url)


# ---------------------------------------------------------------- a GraphQL client


@dataclass
class Person:
    row: people.UserRow
    token: str

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def email(self) -> str:
        return self.row.email_address

    @property
    def viewer(self) -> Viewer:
        r = self.row
        return Viewer(r.pk, r.name, r.email_address, r.role)


# Differential mode (on unless GUICHET_TEST_DIFFERENTIAL=0): every query the client posts
# is also run with the planner off, for the same viewer with fresh loaders, and both answers
# must be equal: data, and errors compared as a set. graphql-core records errors as its
# awaitables finish, so its own order of errors at different positions depends on timing
# (seen: an end user's FORBIDDEN errors in two orders); GUICHET_TEST_DIFFERENTIAL=ordered
# compares them in order too.
DIFFERENTIAL = os.environ.get("GUICHET_TEST_DIFFERENTIAL", "1") != "0"
DIFFERENTIAL_UNORDERED = os.environ.get("GUICHET_TEST_DIFFERENTIAL") != "ordered"


def _only_query(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    return len(chosen) == 1 and chosen[0].operation is OperationType.QUERY


def _comparable(body: dict) -> dict:
    """The answer as JSON gives it; errors sorted when compared as a set."""
    body = orjson.loads(orjson.dumps(body))
    errors = body.get("errors")
    if errors and DIFFERENTIAL_UNORDERED:
        body["errors"] = sorted(errors, key=lambda e: orjson.dumps(e, option=orjson.OPT_SORT_KEYS))
    return body


class Client:
    """Posts GraphQL to the app in-process, as a real HTTP client would."""

    def __init__(self, app) -> None:
        self.app = app
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guichet.test"
        )

    async def differential(self, query: str, variables: dict | None, response) -> None:
        """The same query with the planner off must answer the same."""
        if response.status_code != 200 or not _only_query(query, None):
            return
        body = response.json()
        if "data" not in body:
            return  # a request error: nothing ran
        context = await context_for(self.app.state, response.request.headers.get("authorization"))
        context.settings = replace(context.settings, planner=False)
        # Statements of the second run are not the test's: counters stop listening.
        logger = logging.getLogger("tortoise.db_client")
        counters = [h for h in logger.handlers if isinstance(h, StatementCounter)]
        for counter in counters:
            logger.removeHandler(counter)
        try:
            result = await self.app.state.schema.execute(
                query, variable_values=variables, context_value=context
            )
        finally:
            for counter in counters:
                logger.addHandler(counter)
        normal: dict = {"data": result.data}
        if result.errors:
            normal["errors"] = [error.formatted for error in result.errors]
        planned = {k: body[k] for k in ("data", "errors") if k in body}
        assert _comparable(planned) == _comparable(normal), "planned and normal answers differ"

    async def __call__(
        self, query: str, variables: dict | None = None, *, as_: Person | str | None = None
    ) -> dict:
        response = await self.post(query, variables, as_=as_)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(
        self,
        query: str,
        variables: dict | None = None,
        *,
        as_: Person | str | None = None,
        **kwargs,
    ) -> httpx.Response:
        token = as_.token if isinstance(as_, Person) else as_
        headers = {"authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers, **kwargs
        )
        if DIFFERENTIAL and not kwargs:
            await self.differential(query, variables, response)
        return response


@pytest.fixture
async def gql(app) -> AsyncIterator[Client]:
    client = Client(app)
    yield client
    await client.http.aclose()


def error_codes(response: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.get("errors", [])]


# ---------------------------------------------------------------- people of every role


@pytest.fixture
def make_person(app, password_hash: str):
    async def make(name: str, email: str, role: Role, *, organizations=(), groups=()) -> Person:
        row = await accounts.create_user(
            None,
            name=name,
            email=email,
            role=role,
            password_hash=password_hash,
            organization_ids=[o.id for o in organizations],
            group_ids=[g.id for g in groups],
        )
        token, _ = await auth.issue_token(TEST_SECRET, row.pk, timedelta(days=1))
        return Person(row, token)

    return make


@pytest.fixture
async def org(app) -> people.OrganizationRow:
    """Acme shares its tickets among its members."""
    return await accounts.create_organization(_setup_admin(), name="Acme", shared_tickets=True)


@pytest.fixture
async def other_org(app) -> people.OrganizationRow:
    return await accounts.create_organization(_setup_admin(), name="Globex", shared_tickets=False)


@pytest.fixture
async def group(app) -> people.GroupRow:
    return await accounts.create_group(_setup_admin(), name="Tier 1", agent_ids=[])


def _setup_admin() -> Viewer:
    return Viewer(0, "setup", "", Role.ADMIN)


@pytest.fixture
async def owner(make_person) -> Person:
    return await make_person("Olivia Owner", "owner@guichet.test", Role.OWNER)


@pytest.fixture
async def admin(make_person) -> Person:
    return await make_person("Adam Admin", "admin@guichet.test", Role.ADMIN)


@pytest.fixture
async def agent(make_person, group) -> Person:
    return await make_person("Agnès Agent", "agent@guichet.test", Role.AGENT, groups=[group])


@pytest.fixture
async def light_agent(make_person, group) -> Person:
    return await make_person("Louise Light", "light@guichet.test", Role.LIGHT_AGENT, groups=[group])


@pytest.fixture
async def end_user(make_person, org) -> Person:
    return await make_person(
        "Alice Customer", "alice@acme.test", Role.END_USER, organizations=[org]
    )


@pytest.fixture
async def colleague(make_person, org) -> Person:
    """Another member of Acme, which shares tickets."""
    return await make_person("Bob Colleague", "bob@acme.test", Role.END_USER, organizations=[org])


@pytest.fixture
async def other_customer(make_person, other_org) -> Person:
    return await make_person(
        "Carol Outsider", "carol@globex.test", Role.END_USER, organizations=[other_org]
    )


@pytest.fixture
async def everyone(owner, admin, agent, light_agent, end_user) -> dict[str, Person]:
    """One person of each role, by role name."""
    return {
        "OWNER": owner,
        "ADMIN": admin,
        "AGENT": agent,
        "LIGHT_AGENT": light_agent,
        "END_USER": end_user,
    }


# ---------------------------------------------------------------- counting SQL


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        # The settings watch polls in the background: its statements are no request's.
        task = asyncio.current_task() if _in_loop() else None
        if task is not None and task.get_name() in SETTINGS_WATCH_TASKS:
            return
        self.count += 1


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def python_answers(app):
    """Every answer shaped in Python, for tests that change a Python loader: on PostgreSQL
    the planner would otherwise answer from SQL without calling it
    (schema/execution/answers.py)."""
    settings = app.state.settings
    app.state.settings = replace(settings, sql_answers=False)
    yield
    app.state.settings = settings


@pytest.fixture
def storage_dir(app, tmp_path: Path):
    """A file store of the test's own (GUICHET_STORAGE_DIR): what it holds is the test's."""
    settings = app.state.settings
    app.state.settings = replace(settings, storage_dir=tmp_path / "storage")
    yield app.state.settings.storage_dir
    app.state.settings = settings


@pytest.fixture
def count_statements(app):
    """`with count_statements() as counter:` counts SQL statements sent to the database.
    Each counted block starts with no remembered sign-ins, so every request counts its
    session lookup and two blocks compare like with like."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        app.state.session_cache.clear()
        logger = logging.getLogger("tortoise.db_client")
        handler = StatementCounter()
        previous = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous)

    return counting


# ---------------------------------------------------------------- a real server on loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
async def live_server(app) -> AsyncIterator[str]:
    """The same app served by uvicorn on loopback, for real websocket and HTTP clients."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            **WEBSOCKET_OPTIONS,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
def redis_url():
    """A Redis for tests that need one whatever the suite's pub/sub: GUICHET_TEST_BROADCAST_URL
    when it is redis://, else a throwaway redis-server (skipped where there is none)."""
    from tests import services

    configured = services.configured_redis_url()
    if configured:
        yield configured
        return
    server = services.RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()
