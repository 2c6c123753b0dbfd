"""In-process: where one dashboard request's time goes, median of many runs.

    GUICHET_DATABASE_URL=postgres://… python bench/split.py [--runs 200] [--token TOKEN]

Each run does what an HTTP request does after its body is read, without the network:

- sign-in: the bearer token to a viewer (`guichet.server.auth.context_for`, the HTTP
  door's own function: a session lookup);
- the GraphQL operation through `schema.execute`, split by strawberry's public
  extension hooks into parse, validate and execute (each including the work Guichet's
  own extensions do in that phase), plus what the operation does outside them;
- JSON: `orjson.dumps` of the answer, as the HTTP handler does.

SQL is timed and counted at the driver (asyncpg's public query methods on PostgreSQL,
Tortoise's client on SQLite), so it sees every statement whichever module sends it; the
execute phase is reported as SQL and the rest (resolvers, loaders, shaping).

It uses only the schema, the settings and the HTTP door's sign-in, and signs in with the
`login` mutation when no token is given, so it keeps working while resolvers move. A
phase whose hook never fires (say, a planned fast path that skips strawberry) is
reported as "not measured" rather than as zero.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from strawberry.extensions import SchemaExtension

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guichet.models.db import close_database, db, open_database
from guichet.schema.root import build_schema
from guichet.server.auth import context_for
from guichet.server.settings import load_settings

QUERY = (Path(__file__).parent / "dashboard.graphql").read_text()
LOGIN = (
    'mutation { login(input: {email: "agent0@bench.test", password: "bench-password"})'
    " { token errors { message } } }"
)
PHASES = ("parse", "validate", "execute")
WARM_UP = 20


class Clock:
    """Seconds and statement counts of the current run, by phase."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.phases: dict[str, float] = {}
        self.sql_seconds = 0.0
        self.statements = 0
        self.resets = 0


clock = Clock()


class PhaseTimer(SchemaExtension):
    """Times strawberry's phases. Put first in the schema's extensions, so each phase
    includes what Guichet's own extensions do in it (validation rules, cost limits)."""

    def _timed(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        clock.phases[phase] = clock.phases.get(phase, 0.0) + time.perf_counter() - start

    def on_operation(self) -> Iterator[None]:
        yield from self._timed("operation")

    def on_parse(self) -> Iterator[None]:
        yield from self._timed("parse")

    def on_validate(self) -> Iterator[None]:
        yield from self._timed("validate")

    def on_execute(self) -> Iterator[None]:
        yield from self._timed("execute")


def count_sql() -> str:
    """Wrap the driver's query methods so every statement is timed and counted; returns
    what was wrapped. Patched on the class: pooled connections and proxies see it too.

    asyncpg's pool resets a connection each time it is given back (`Connection.reset`:
    `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`), one more round
    trip for every acquire: those are counted apart, as resets."""

    def timed(method):
        async def wrapper(connection: Any, query: Any = None, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(connection, query, *args, **kwargs)
            finally:
                clock.sql_seconds += time.perf_counter() - start
                reset_query = getattr(connection, "get_reset_query", None)
                if reset_query is not None and query == reset_query():
                    clock.resets += 1
                else:
                    clock.statements += 1

        return wrapper

    if db().capabilities.dialect == "postgres":
        from asyncpg.connection import Connection

        # None of these calls another of them (they share private helpers), so a
        # statement is counted once.
        names = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany")
        target, label = Connection, "asyncpg"
    else:
        target = type(db())
        names = ("execute_query", "execute_query_dict", "execute_insert", "execute_many")
        names += ("execute_script",)
        label = "Tortoise's client"
    for name in names:
        if hasattr(target, name):
            setattr(target, name, timed(getattr(target, name)))
    return label


async def main(runs: int, token: str | None) -> None:
    settings = load_settings()
    await open_database(settings.database_url)
    try:
        schema = build_schema()
        # strawberry instantiates `schema.extensions` afresh for every operation
        # (Schema.get_extensions), so a class put in front is run like the others.
        schema.extensions = (PhaseTimer, *schema.extensions)
        state = SimpleNamespace(settings=settings, bus=None)
        if token is None:
            signed = await schema.execute(LOGIN, context_value=await context_for(state, None))
            assert not signed.errors, signed.errors
            token = signed.data["login"]["token"]
        driver = count_sql()
        authorization = f"Bearer {token}"
        samples: list[dict[str, float]] = []
        for i in range(runs + WARM_UP):
            clock.reset()
            start = time.perf_counter()
            context = await context_for(state, authorization)
            signed_in = time.perf_counter()
            sign_in_sql, sign_in_statements = clock.sql_seconds, clock.statements
            sign_in_resets = clock.resets
            clock.sql_seconds, clock.statements, clock.resets = 0.0, 0, 0
            result = await schema.execute(QUERY, context_value=context)
            executed = time.perf_counter()
            orjson.dumps({"data": result.data})
            done = time.perf_counter()
            assert not result.errors, result.errors
            assert context.viewer is not None, "the token did not sign in"
            if i < WARM_UP:
                continue
            sample = {
                "total": done - start,
                "sign-in": signed_in - start,
                "sign-in SQL": sign_in_sql,
                "sign-in statements": sign_in_statements,
                "sign-in resets": sign_in_resets,
                "operation": executed - signed_in,
                "JSON": done - executed,
                "execute SQL": clock.sql_seconds,
                "statements": clock.statements,
                "resets": clock.resets,
            }
            for phase in PHASES:
                if phase in clock.phases:
                    sample[phase] = clock.phases[phase]
            samples.append(sample)
    finally:
        await close_database()
    report(samples, runs, driver)


def report(samples: list[dict[str, float]], runs: int, driver: str) -> None:
    def median(key: str) -> float | None:
        values = [s[key] for s in samples if key in s]
        return statistics.median(values) if len(values) == len(samples) else None

    def ms(value: float | None) -> str:
        return "not measured" if value is None else f"{value * 1000:.2f} ms"

    def statements(prefix: str) -> str:
        text = f"{median(prefix + 'statements'):.0f} statement(s)"
        resets = median(prefix + "resets")
        return text + (f" + {resets:.0f} pool reset(s)" if resets else "")

    total = median("total")
    operation = median("operation")
    phases = {phase: median(phase) for phase in PHASES}
    lines = [
        f"runs: {runs}; median per request, in process (no HTTP): total {ms(total)}",
        f"  sign-in (token to viewer): {ms(median('sign-in'))},"
        f" of which SQL {ms(median('sign-in SQL'))} in {statements('sign-in ')}",
        f"  GraphQL operation (schema.execute): {ms(operation)}",
    ]
    for phase in PHASES:
        lines.append(f"    {phase}: {ms(phases[phase])}")
    if phases["execute"] is not None:
        sql = median("execute SQL")
        lines[-1] += (
            f", of which SQL {ms(sql)} in {statements('')}"
            f" and resolvers, loaders and shaping {ms(phases['execute'] - sql)}"
        )
    else:
        lines.append(
            f"    SQL during the operation: {ms(median('execute SQL'))} in {statements('')}"
        )
    measured = [p for p in phases.values() if p is not None]
    if operation is not None and measured:
        lines.append(
            f"    rest of the operation (outside those hooks): {ms(operation - sum(measured))}"
        )
    lines.append(f"  JSON (orjson.dumps): {ms(median('JSON'))}")
    lines.append(f"(SQL timed at {driver}; phases by strawberry extension hooks)")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--token", help="a bearer token (default: sign in as agent0@bench.test)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.token))
