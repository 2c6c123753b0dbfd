"""The floor: bench/dashboard.graphql answered by hand, for bench/compare.sh.

    DATABASE_URL=postgres://…/guichet_bench python bench/floor.py --port 8001

What the dashboard list costs with nothing in between: a Starlette app under uvicorn
(the settings `guichet serve` uses), asyncpg, orjson, and exactly 2 SQL statements per
request: the page of tickets with their count, requester and assignee, then the 5 latest
comments of those tickets with their authors. No GraphQL: it answers that one document
(anything else is a 400), with the bytes Guichet answers to an agent — the same global
ids, datetime format and key order (compare.sh checks it before measuring).

Auth: it only checks that an `Authorization: Bearer …` header is there; no session
lookup (that would be a third statement; Guichet's costs one more).

It does not import guichet: the global-id encoding below is a copy of
guichet/resolvers/ids.py's `encode` (`base64url("Type:pk")`, unpadded).
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DASHBOARD = (Path(__file__).parent / "dashboard.graphql").read_text()
MEDIA_TYPE = "application/json; charset=utf-8"  # what Guichet answers with
PAGE = 50  # tickets(first: 50 …)
COMMENTS = 5  # comments(first: 5)

# 1. The page: open tickets, last updated first, ties by the higher id (Guichet's
# `ORDER BY t.updated_at DESC, t.id DESC`). The page is cut before the users are joined,
# and the count is an uncorrelated subquery, run once.
TICKETS = """
SELECT p.id, p.number, p.subject, p.status, p.priority, p.updated_at,
       r.id AS requester_id, r.name AS requester_name, r.email AS requester_email,
       a.id AS assignee_id, a.name AS assignee_name,
       (SELECT COUNT(*) FROM ticket WHERE status = $1) AS total
FROM (SELECT id, number, subject, status, priority, updated_at, requester_id, assignee_id
      FROM ticket WHERE status = $1 ORDER BY updated_at DESC, id DESC LIMIT $2) p
JOIN "user" r ON r.id = p.requester_id
LEFT JOIN "user" a ON a.id = p.assignee_id
ORDER BY p.updated_at DESC, p.id DESC
"""

# 2. For each ticket of the page: how many comments it has and its latest ones (newest
# first, ties by the higher id: Guichet's default comment order), with their authors.
# An agent sees every comment, public replies and internal notes, so no condition on
# `public`. A ticket without comments still gives one row (its count, no comment).
COMMENTS_OF = """
SELECT k.ticket_id, n.total, c.id, c.body, c.public, c.created_at,
       u.id AS author_id, u.name AS author_name
FROM unnest($1::int[]) WITH ORDINALITY AS k(ticket_id, position)
CROSS JOIN LATERAL (SELECT COUNT(*) AS total FROM comment WHERE ticket_id = k.ticket_id) n
LEFT JOIN LATERAL (
    SELECT id, body, public, created_at, author_id FROM comment
    WHERE ticket_id = k.ticket_id ORDER BY created_at DESC, id DESC LIMIT $2
) c ON TRUE
LEFT JOIN "user" u ON u.id = c.author_id
ORDER BY k.position, c.created_at DESC, c.id DESC
"""


def global_id(type_name: str, pk: int) -> str:
    """Copied from guichet/resolvers/ids.py (`encode`): a floor imports nothing of Guichet."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def problem(status: int, message: str) -> Response:
    return Response(orjson.dumps({"errors": [{"message": message}]}), status, media_type=MEDIA_TYPE)


async def dashboard(pool: asyncpg.Pool) -> dict:
    async with pool.acquire() as connection:
        tickets = await connection.fetch(TICKETS, "OPEN", PAGE)
        ids = [t["id"] for t in tickets]
        comment_rows = await connection.fetch(COMMENTS_OF, ids, COMMENTS)
    comments: dict[int, dict] = {}
    for row in comment_rows:
        page = comments.get(row["ticket_id"])
        if page is None:
            page = comments[row["ticket_id"]] = {"totalCount": row["total"], "edges": []}
        if row["id"] is not None:
            page["edges"].append(
                {
                    "node": {
                        "id": global_id("Comment", row["id"]),
                        "body": row["body"],
                        "public": row["public"],
                        # orjson writes an aware datetime as isoformat() does:
                        # microseconds only when not zero, "+00:00" for UTC.
                        "createdAt": row["created_at"],
                        "author": {
                            "id": global_id("User", row["author_id"]),
                            "name": row["author_name"],
                        },
                    }
                }
            )
    edges = [
        {
            "node": {
                "id": global_id("Ticket", t["id"]),
                "number": t["number"],
                "subject": t["subject"],
                "status": t["status"],
                "priority": t["priority"],
                "updatedAt": t["updated_at"],
                "requester": {
                    "id": global_id("User", t["requester_id"]),
                    "name": t["requester_name"],
                    "email": t["requester_email"],
                },
                "assignee": None
                if t["assignee_id"] is None
                else {"id": global_id("User", t["assignee_id"]), "name": t["assignee_name"]},
                "comments": comments[t["id"]],
            }
        }
        for t in tickets
    ]
    total = tickets[0]["total"] if tickets else 0
    return {"data": {"tickets": {"totalCount": total, "edges": edges}}}


async def graphql(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "Sign in first: send Authorization: Bearer <token>.")
    try:
        params = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return problem(400, "The request body is not valid JSON.")
    if not isinstance(params, dict) or params.get("query") != DASHBOARD:
        return problem(400, "The floor answers bench/dashboard.graphql only.")
    body = await dashboard(request.app.state.pool)
    return Response(orjson.dumps(body), media_type=MEDIA_TYPE)


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=MEDIA_TYPE)


async def no_reset(connection: asyncpg.Connection) -> None:
    """What a connection goes through on its way back to the pool: what Guichet's pool
    does (guichet/models/db.py), not asyncpg's default RESET ALL round trip. The floor
    leaves no session state behind; only a transaction cut short needs undoing."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


@asynccontextmanager
async def lifespan(app: Starlette):
    # The pool Tortoise gives Guichet: asyncpg, 1 to 5 connections.
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=1, max_size=5, reset=no_reset
    )
    # As guichet/server/app.py does: keep start-up objects out of the collector's way.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/graphql", graphql, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    arguments = parser.parse_args()
    # The arguments `guichet serve` gives uvicorn (guichet/server/cli.py): one process,
    # loop and http "auto" (uvloop and httptools when installed, as here), access log on.
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        workers=1,
        log_level="info",
        proxy_headers=False,
    )
