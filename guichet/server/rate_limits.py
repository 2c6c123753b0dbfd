"""Rate limits, the way Shopify and GitHub do them: sign-in attempts per client address and
a query-cost budget per viewer.

- **Sign-in.** At most `sign_in_rate_per_minute` operations that go through a signed-out
  door (`protection.DOORS`: login, password reset, sign-up) per client address, in a fixed
  one-minute window.
- **Cost budget** (Shopify's leaky bucket). Each viewer (each client address while signed
  out) has a bucket of `cost_budget` points that refills at `cost_restore_rate` points a
  second. An operation takes its requested cost from it before it runs — the static
  estimate that `protection.operation_cost` makes of the objects it may return — and once
  it has run, what it did not use (requested minus the objects actually in `data`) goes
  back. Every answer to a charged operation carries
  `extensions.cost = {requestedQueryCost, actualQueryCost, throttleStatus {maximumAvailable,
  currentlyAvailable, restoreRate}}`.
- **Throttled** means nothing ran: HTTP 429 with `Retry-After` and a THROTTLED error.

The counters are in Redis when the pub/sub is (`GUICHET_BROADCAST_URL=redis://…`), shared by
every process: one small Lua script per check makes each check atomic, keys are named
`<topic prefix>guichet:limits:…` and expire once they no longer hold anything. Otherwise
they are in this process. When Redis cannot be reached the process counts on its own and
logs a warning (at most one a minute) until Redis answers again: limits become per process
for that time rather than every request failing — a deliberate fail-open choice.

The client address is the socket's peer, unless that peer is inside one of the trusted
proxies' networks (`GUICHET_TRUSTED_PROXIES`); then it is the right-most address of
X-Forwarded-For that is not itself trusted. IPv6 clients are limited per /64, the block
one subscriber usually holds.

Over the websocket, `BudgetedTransportWSHandler` / `BudgetedLegacyWSHandler` charge each
operation its requested cost when it starts (no refund: a subscription lives on).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from guichet.schema.execution import RawData
from guichet.schema.protection import (
    MAX_CACHED_DOCUMENT_CHARS,
    operation_cost,
    parsed_document,
    signs_in,
)
from guichet.server.client_address import client_ip, limit_key, trusted_networks
from guichet.server.limit_counters import MemoryCounters, RedisCounters
from guichet.server.settings import Settings

log = logging.getLogger("guichet.limits")

SIGN_IN_WINDOW_SECONDS = 60
# Operations planned (parsed document, operation, cost) kept, by text and operation name.
PLAN_CACHE_SIZE = 256

# ---------------------------------------------------------------- what an operation asks


@dataclass(frozen=True, slots=True)
class OperationPlan:
    """What the limits need to know of one operation of a document."""

    kind: OperationType | None  # None: the document has no such operation
    cost: int = 0
    signs_in: bool = False
    ambiguous: bool = False  # several operations and no operationName


def _plan(schema: GraphQLSchema, query: str, operation_name: str | None) -> OperationPlan:
    document = parsed_document(query)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        return OperationPlan(None, ambiguous=operation_name is None and len(operations) > 1)
    return OperationPlan(
        operation.operation,
        operation_cost(schema, document, operation),
        signs_in(document, operation),
    )


_kept_plan = lru_cache(maxsize=PLAN_CACHE_SIZE)(_plan)


def plan_operation(schema: GraphQLSchema, query: str, operation_name: str | None) -> OperationPlan:
    """The operation a request runs, its requested cost and whether it signs in, kept per
    text and operation name; raises GraphQLError when the text does not parse (answer it
    as strawberry would)."""
    if len(query) > MAX_CACHED_DOCUMENT_CHARS:
        return _plan(schema, query, operation_name)
    return _kept_plan(schema, query, operation_name)


def returned_objects(data: Any) -> int:
    """The objects in a result's `data` (the root object itself not counted)."""
    if isinstance(data, RawData):  # PostgreSQL counted them as it wrote them
        return data.objects
    if not isinstance(data, dict):
        return 0
    count = 0
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            count += 1
            stack.extend(v for v in value.values() if type(v) in (dict, list))
        elif type(value) is list:
            stack.extend(v for v in value if type(v) in (dict, list))
    return count - 1


# ---------------------------------------------------------------- the limits of one app


@dataclass(slots=True)
class Admission:
    """The limits' answer to one operation, before it runs."""

    key: str | None = None  # its cost bucket; None when the budget is off
    requested: int = 0
    taken: int = 0  # points taken from the bucket
    available: float = 0.0  # points left in the bucket
    refusal: str | None = None  # why it is THROTTLED; None when it may run
    retry_after: int = 0


class RateLimits:
    """The limits of one app, over Redis or this process's counters (see the module)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.budget = settings.cost_budget
        self.restore_rate = settings.cost_restore_rate
        self.sign_in_limit = settings.sign_in_rate_per_minute
        self.trusted = trusted_networks(settings.trusted_proxies)
        self.prefix = f"{settings.topic_prefix}guichet:limits:"
        needed = self.budget > 0 or self.sign_in_limit > 0
        if needed and settings.broadcast_url.startswith(("redis://", "rediss://")):
            self.counters: MemoryCounters | RedisCounters = RedisCounters(settings.broadcast_url)
        else:
            self.counters = MemoryCounters()

    async def close(self) -> None:
        await self.counters.close()

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        return client_ip(peer, forwarded_for, self.trusted)

    def _bucket(self, context: Any) -> str:
        viewer = getattr(context, "viewer", None)
        if viewer is not None:
            return f"{self.prefix}cost:user:{viewer.id}"
        return f"{self.prefix}cost:ip:{limit_key(getattr(context, 'client_ip', None))}"

    async def admit(self, context: Any, plan: OperationPlan) -> Admission:
        """Take the operation's cost from its viewer's budget and count a sign-in; say why
        not when it may not run now. An operation above the per-request maximum takes
        nothing: validation refuses it (QUERY_TOO_COSTLY)."""
        admission = Admission()
        if self.budget > 0:
            points = min(plan.cost, self.budget) if plan.cost <= self.settings.max_query_cost else 0
            admission.key = self._bucket(context)
            admission.requested = plan.cost
            level = await self.counters.take(admission.key, points, self.budget, self.restore_rate)
            admission.available = level.available
            if not level.taken:
                admission.retry_after = max(
                    1, math.ceil((points - level.available) / self.restore_rate)
                )
                admission.refusal = (
                    f"Throttled: this operation costs {plan.cost} points of your query budget "
                    f"and {int(level.available)} are available; {self.restore_rate} points come "
                    f"back every second. Retry after {admission.retry_after} s."
                )
                return admission
            admission.taken = points
        if plan.signs_in and self.sign_in_limit > 0:
            address = limit_key(getattr(context, "client_ip", None))
            hits, retry_after = await self.counters.count(
                f"{self.prefix}sign-in:{address}", SIGN_IN_WINDOW_SECONDS
            )
            if hits > self.sign_in_limit:
                await self._give_back(admission, admission.taken)
                admission.retry_after = retry_after
                admission.refusal = (
                    f"Too many sign-in attempts from your address (at most "
                    f"{self.sign_in_limit} a minute). Retry after {retry_after} s."
                )
        return admission

    async def _give_back(self, admission: Admission, points: int) -> None:
        if admission.key is None or points <= 0:
            return
        level = await self.counters.take(admission.key, -points, self.budget, self.restore_rate)
        admission.taken -= points
        admission.available = level.available

    async def settle(self, admission: Admission, data: Any, executed: bool) -> dict | None:
        """Once the operation has run (or failed validation: `executed` false), give back
        what it did not use; the `cost` extension of its answer, None when the budget is off."""
        if admission.key is None:
            return None
        actual = returned_objects(data) if executed else 0
        await self._give_back(admission, admission.taken - min(actual, admission.taken))
        return self.cost(admission, actual)

    def cost(self, admission: Admission, actual: int | None) -> dict | None:
        if admission.key is None:
            return None
        return {
            "requestedQueryCost": admission.requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.budget,
                "currentlyAvailable": int(admission.available),
                "restoreRate": self.restore_rate,
            },
        }

    def throttled(self, admission: Admission) -> dict[str, Any]:
        """The answer to a refused operation: a THROTTLED error, with the cost extension."""
        body: dict[str, Any] = {
            "errors": [
                {
                    "message": admission.refusal,
                    "extensions": {"code": "THROTTLED", "retryAfter": admission.retry_after},
                }
            ]
        }
        cost = self.cost(admission, None)
        if cost is not None:
            body["extensions"] = {"cost": cost}
        return body

    def throttled_error(self, admission: Admission) -> GraphQLError:
        """The same as one GraphQL error, for the websocket (which has no headers)."""
        extensions: dict[str, Any] = {"code": "THROTTLED", "retryAfter": admission.retry_after}
        cost = self.cost(admission, None)
        if cost is not None:
            extensions["cost"] = cost
        return GraphQLError(admission.refusal or "Throttled.", extensions=extensions)


# ---------------------------------------------------------------- the websocket's hook


async def _websocket_refusal(handler: Any, query: str, operation_name: str | None) -> Any:
    """The THROTTLED error for an operation started over a websocket, or None to run it."""
    limits: RateLimits | None = getattr(handler.view.state, "rate_limits", None)
    if limits is None:
        return None
    try:
        plan = plan_operation(handler.schema._schema, query, operation_name)
    except GraphQLError:
        return None  # strawberry answers the syntax error
    if plan.kind is None:
        return None
    admission = await limits.admit(handler.context, plan)
    return limits.throttled_error(admission) if admission.refusal else None


class BudgetedTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws with the cost budget: a refused operation gets an `error`
    message with the THROTTLED error, and the connection stays open."""

    async def run_operation(self, operation: Any) -> None:
        refusal = await _websocket_refusal(self, operation.query, operation.operation_name)
        if refusal is not None:
            await operation.send_initial_errors([refusal])
            return
        await super().run_operation(operation)


class BudgetedLegacyWSHandler(BaseGraphQLWSHandler):
    """The legacy graphql-ws protocol with the cost budget."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        refusal = await _websocket_refusal(self, query, operation_name)
        if refusal is not None:
            self.tasks.pop(operation_id, None)
            await self.send_message(
                {"type": "error", "id": operation_id, "payload": refusal.formatted}
            )
            return
        await super().handle_async_results(operation_id, query, operation_name, variables)
