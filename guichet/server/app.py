"""The Starlette application: /graphql (HTTP and websocket), /healthz, file downloads and
/inbound/email."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

from guichet.models.db import close_database, open_database
from guichet.resolvers.people.auth import viewer_from_token
from guichet.schema.root import build_schema
from guichet.server.attachments import download_attachment
from guichet.server.graphiql import ASSETS_PATH, GraphiQLAssets
from guichet.server.graphql_http import graphql_http
from guichet.server.health import healthz
from guichet.server.heap import settle_heap
from guichet.server.inbound import inbound_email
from guichet.server.live_sessions import LiveSessions
from guichet.server.rate_limits import RateLimits
from guichet.server.satisfaction_page import satisfaction_page
from guichet.server.session_cache import ForgetOnPublish, SessionCache
from guichet.server.settings import Settings
from guichet.server.settings_watch import SettingsWatch
from guichet.server.websocket import GraphQLWebSocket
from guichet.server.worker import Worker
from guichet.subscriptions.bus import Bus

log = logging.getLogger("guichet.http")


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": error.detail}]},
        status_code=error.status_code,
        headers=error.headers,
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"errors": [{"message": "Unexpected error."}]}, status_code=500)


def create_app(settings: Settings, *, run_worker: bool = False) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_database(settings.database_url)
        await app.state.bus.connect()
        await app.state.live_sessions.start()
        await app.state.settings_watch.start()
        settle_heap()
        worker = Worker(settings, app.state.bus) if run_worker else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                await worker.stop()
            await app.state.settings_watch.stop()
            await app.state.live_sessions.stop()
            await app.state.bus.disconnect()
            await app.state.rate_limits.close()
            await close_database()

    app = Starlette(
        debug=False,
        routes=[
            Route("/graphql", graphql_http, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/satisfaction", satisfaction_page, methods=["GET", "POST"]),
            Route("/attachments/{id}", download_attachment, methods=["GET"]),
            Route("/inbound/email", inbound_email, methods=["POST"]),
            Mount(ASSETS_PATH, app=GraphiQLAssets(), name="graphiql-assets"),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
    )
    app.state.settings = settings
    app.state.schema = build_schema(settings.debug)
    app.state.session_cache = SessionCache(
        lambda token: viewer_from_token(settings.secret_key, token)
    )
    app.state.bus = ForgetOnPublish(
        Bus(settings.broadcast_url, settings.topic_prefix), app.state.session_cache
    )
    app.state.live_sessions = LiveSessions(app.state.bus, session_cache=app.state.session_cache)
    # Settings changed by admins on any process apply here at once (help_center.py).
    app.state.settings_watch = SettingsWatch(app.state.bus, settings.database_url)
    # Sign-in and cost limits, in Redis when the pub/sub is (connects on first use).
    app.state.rate_limits = RateLimits(settings)
    websocket = GraphQLWebSocket(app.state)
    app.router.routes.append(WebSocketRoute("/graphql", websocket))
    return app
