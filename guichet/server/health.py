"""GET /healthz: can this process reach its database and its pub/sub?"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from guichet.models.db import ping

log = logging.getLogger("guichet.health")
CHECK_TIMEOUT_SECONDS = 3


async def _probe(check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # any failure is "unreachable"; the details go to the log
        log.warning("health check failed: %s", type(error).__name__)
        return "unreachable"
    return "ok"


async def healthz(request: Request) -> JSONResponse:
    database = await _probe(ping)
    pubsub = await _probe(request.app.state.bus.ping)
    healthy = database == "ok" and pubsub == "ok"
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "pubsub": pubsub},
        status_code=200 if healthy else 503,
    )
