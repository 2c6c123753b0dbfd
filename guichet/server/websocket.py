"""Subscriptions over websocket: graphql-transport-ws (and legacy graphql-ws when enabled).

The bearer token comes in the `connection_init` payload as
`{"authorization": "Bearer <token>"}`; without a valid one the connection is closed
with 4403 before any subscription runs. When that session ends (logout, password change,
deactivation, expiry) the socket is closed with 4401 (see live_sessions). `connection_init` must arrive within
CONNECTION_INIT_TIMEOUT; a connection runs at most the configured number of operations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from guichet.resolvers.context import Context
from guichet.server.auth import viewer_for

CONNECTION_INIT_TIMEOUT = timedelta(seconds=5)


class GraphQLWebSocket(GraphQL):
    def __init__(self, state: Any) -> None:
        settings = state.settings
        protocols = [GRAPHQL_TRANSPORT_WS_PROTOCOL]
        if settings.legacy_graphql_ws:
            protocols.append(GRAPHQL_WS_PROTOCOL)
        super().__init__(
            state.schema,
            graphql_ide=None,
            subscription_protocols=protocols,
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
            keep_alive=settings.legacy_graphql_ws,
            keep_alive_interval=15,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            # strawberry normalizes them as browsers send Origin: lowercase, no default port.
            allowed_origins=settings.allowed_origins,
        )
        self.state = state

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        context = Context(self.state.settings, None, self.state.bus)
        if isinstance(request, WebSocket):
            context.websocket = request
        return context

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        context = await self.get_context(request)
        try:
            return await super().run(request, context, root_value)
        finally:
            self.state.live_sessions.forget(context)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        viewer = await viewer_for(self.state, authorization)
        if viewer is None:
            raise ConnectionRejectionError(
                {"message": "Send a valid bearer token in connection_init."}
            )
        context.viewer = viewer
        # From now on, the end of this session closes this socket (see live_sessions).
        self.state.live_sessions.register(context)
        return None
