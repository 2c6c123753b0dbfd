"""Subscriptions over websocket: graphql-transport-ws (and legacy graphql-ws when enabled).

The bearer token comes in the `connection_init` payload as
`{"authorization": "Bearer <token>"}`; without a valid one the connection is closed
with 4403 before any subscription runs; while the database cannot be reached to check it,
with 1013 (try again later). When that session ends (logout, password change, deactivation,
expiry) the socket is closed with 4401 (see live_sessions). `connection_init` must arrive
within CONNECTION_INIT_TIMEOUT; a connection runs at most the configured number of
operations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from guichet.models.db import is_unreachable
from guichet.resolvers.admin import help_center
from guichet.resolvers.context import Context
from guichet.server.auth import viewer_for
from guichet.server.rate_limits import BudgetedLegacyWSHandler, BudgetedTransportWSHandler
from guichet.subscriptions import members

CONNECTION_INIT_TIMEOUT = timedelta(seconds=5)
TRY_AGAIN_LATER = 1013  # RFC 6455: the server is overloaded or cannot serve for now


class CannotCheckCredentials(Exception):
    """The token could not be checked: the database is unreachable."""


async def settings_now(context: Context) -> None:
    """An operation runs with the settings in effect when it starts: an admin may have
    changed them since the connection opened (a server process's copy: no statement)."""
    try:
        context.settings = await help_center.effective_settings(context.settings)
    except Exception as error:
        if not is_unreachable(error):
            raise
        # The database is away (a process without the watch reads the row): keep the last.


class TransportHandler(BudgetedTransportWSHandler):
    """graphql-transport-ws. A ticketHistory subscription, once live in the shared fan-out,
    is handed over here (`detach`): its execution ends, silently, and the operation stays
    registered (it counts towards the connection's limit, its id stays taken) until the
    client completes it, the socket ends, or the fan-out ends it (then `complete` is sent
    after its last event)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detached: dict[str, members.Member] = {}

    async def run_operation(self, operation: Any) -> None:
        await settings_now(self.context)
        # In the operation's own task: ticketHistory joins the shared fan-out with it.
        members.current_operation.set(
            members.Operation(
                operation.id,
                operation.query,
                operation.variables,
                operation.operation_name,
                detach=self._detach,
            )
        )
        await super().run_operation(operation)

    def _detach(self, member: members.Member) -> None:
        self.detached[member.id] = member
        member.on_end = self._ended

    def _ended(self, member: members.Member) -> None:
        """The fan-out ended a detached subscription: complete it, after its events."""
        if self.detached.get(member.id) is not member:
            return
        del self.detached[member.id]
        self.operations.pop(member.id, None)
        member.outbox.put(orjson.dumps({"id": member.id, "type": "complete"}).decode())
        member.leave()

    def forget_id(self, id: str) -> None:
        if id not in self.detached:  # its execution ended, not the subscription
            super().forget_id(id)

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "complete" and message.get("id") in self.detached:
            return
        await super().send_message(message)

    async def cleanup_operation(self, operation_id: str) -> None:
        member = self.detached.pop(operation_id, None)
        if member is not None:
            member.on_end = None
            member.leave()
        await super().cleanup_operation(operation_id)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except CannotCheckCredentials:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Try again later")
        # The init timer is cancelled: not kept (with its CancelledError and traceback)
        # for the connection's whole life.
        self.connection_init_timeout_task = None


class LegacyHandler(BudgetedLegacyWSHandler):
    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        await settings_now(self.context)
        members.current_operation.set(
            members.Operation(operation_id, query, variables, operation_name, legacy=True)
        )
        await super().handle_async_results(operation_id, query, operation_name, variables)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except CannotCheckCredentials:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Try again later")


class GraphQLWebSocket(GraphQL):
    graphql_transport_ws_handler_class = TransportHandler
    graphql_ws_handler_class = LegacyHandler

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
        # The settings in effect when the connection opens; each operation takes those in
        # effect when it starts (`settings_now`).
        settings = await help_center.effective_settings(self.state.settings)
        context = Context(settings, None, self.state.bus)
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
        try:
            viewer = await viewer_for(self.state, authorization, fresh=True)
        except Exception as error:
            if not is_unreachable(error):
                raise
            raise CannotCheckCredentials() from None
        if viewer is None:
            raise ConnectionRejectionError(
                {"message": "Send a valid bearer token in connection_init."}
            )
        context.viewer = viewer
        # From now on, the end of this session closes this socket (see live_sessions).
        self.state.live_sessions.register(context)
        return None
