"""In-process: how one dashboard request's time splits between fetching data (SQL on
Tortoise's connection) and everything else (GraphQL parsing, validation, execution and
shaping, serialisation).

    GUICHET_DATABASE_URL=postgres://… python bench/split.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guichet.models.db import close_database, open_database
from guichet.resolvers import sql
from guichet.resolvers.context import Context
from guichet.resolvers.people.auth import viewer_from_token
from guichet.schema.root import build_schema
from guichet.server.settings import load_settings

QUERY = (Path(__file__).parent / "dashboard.graphql").read_text()


async def main(runs: int) -> None:
    settings = load_settings()
    await open_database(settings.database_url)
    schema = build_schema()
    from guichet.models.people import User
    from guichet.resolvers.people.auth import issue_token

    agent = await User.get(email="agent0@bench.test")
    from datetime import timedelta

    token, _ = await issue_token(settings.secret_key, agent.id, timedelta(hours=1))
    viewer = await viewer_from_token(settings.secret_key, token)

    spent = 0.0
    original = sql.fetch

    async def timed_fetch(statement, *params):
        nonlocal spent
        start = time.perf_counter()
        try:
            return await original(statement, *params)
        finally:
            spent += time.perf_counter() - start

    sql.fetch = timed_fetch
    for module in ("people", "tickets", "comments", "ticket_search", "history", "custom_fields"):
        mod = __import__(f"guichet.resolvers.{module}", fromlist=["fetch"])
        mod.fetch = timed_fetch

    totals, fetching = [], []
    for i in range(runs + 20):
        spent = 0.0
        start = time.perf_counter()
        result = await schema.execute(QUERY, context_value=Context(settings, viewer, None))
        orjson.dumps({"data": result.data})
        elapsed = time.perf_counter() - start
        assert not result.errors, result.errors
        if i >= 20:  # warm-up
            totals.append(elapsed)
            fetching.append(spent)
    await close_database()
    total = statistics.median(totals) * 1000
    fetch = statistics.median(fetching) * 1000
    print(
        f"runs: {runs}; median per request: total {total:.2f} ms, SQL {fetch:.2f} ms, "
        f"GraphQL execution and shaping {total - fetch:.2f} ms ({(total - fetch) / total:.0%})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
