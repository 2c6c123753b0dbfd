"""Rate limits, the way Shopify and GitHub do them: sign-in attempts per client address and
a query-cost budget per viewer.

- **Sign-in.** At most `sign_in_rate_per_minute` operations that run `login` per client
  address, in a fixed one-minute window.
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from guichet.schema.protection import (
    MAX_CACHED_DOCUMENT_CHARS,
    operation_cost,
    parsed_document,
    signs_in,
)
from guichet.server.settings import Settings

log = logging.getLogger("guichet.limits")

Network = IPv4Network | IPv6Network

SIGN_IN_WINDOW_SECONDS = 60
# Waiting on Redis: a request waits at most this long before counting in the process.
REDIS_TIMEOUT_SECONDS = 0.5
# After a failure, this process counts on its own for this long before asking Redis again.
REDIS_RETRY_SECONDS = 2.0
# While Redis is away, one warning per this many seconds, not one per request.
FAILURE_LOG_INTERVAL_SECONDS = 60.0
# Operations planned (parsed document, operation, cost) kept, by text and operation name.
PLAN_CACHE_SIZE = 256

# ---------------------------------------------------------------- the client's address


def trusted_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> Any:
    """An IP address from a peer or an X-Forwarded-For entry (a port or brackets allowed),
    IPv4-mapped IPv6 as IPv4; None when it is not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 203.0.113.5:1234
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Any, trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The client's address: the socket peer, unless the peer is a trusted proxy; then the
    right-most X-Forwarded-For address that is not itself trusted (the left-most when all
    are). An entry that is not an address stops the walk at the last trusted hop: what
    stands left of it cannot be vouched for."""
    if peer is None:
        return None
    nearest = _address(peer)
    if not forwarded_for or not _trusted(nearest, trusted):
        return str(nearest) if nearest is not None else peer
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def limit_key(ip: str | None) -> str:
    """What one client's limits are counted under: its address, or its /64 for IPv6."""
    address = _address(ip) if ip else None
    if address is None:
        return ip or "unknown"
    if address.version == 6:
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


# ---------------------------------------------------------------- counters


@dataclass(frozen=True, slots=True)
class Level:
    """A bucket once asked for points: whether they were taken, and what is left."""

    taken: bool
    available: float


class MemoryCounters:
    """Buckets and windows of this process. Entries that hold nothing any more (a full
    bucket, an ended window) are swept once a minute, so memory follows active clients."""

    SWEEP_INTERVAL_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> (points available, when, when the bucket is full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}
        # key -> (hits, when the window ends)
        self._windows: dict[str, tuple[int, float]] = {}
        self._next_sweep = clock() + self.SWEEP_INTERVAL_SECONDS

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_INTERVAL_SECONDS
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}

    async def take(self, key: str, points: float, capacity: int, rate: float) -> Level:
        """Take `points` if that many are available (give them back when negative)."""
        now = self._clock()
        self._sweep(now)
        available = float(capacity)
        found = self._buckets.get(key)
        if found is not None:
            available = min(capacity, found[0] + max(0.0, now - found[1]) * rate)
        taken = points <= 0 or points <= available
        if taken:
            available = min(float(capacity), available - points)
        if available >= capacity:
            self._buckets.pop(key, None)
        else:
            self._buckets[key] = (available, now, now + (capacity - available) / rate)
        return Level(taken, available)

    async def count(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit: the hits in the current window (this one included), and the
        whole seconds until that window ends."""
        now = self._clock()
        self._sweep(now)
        hits, ends = self._windows.get(key, (0, now + window_seconds))
        if ends <= now:
            hits, ends = 0, now + window_seconds
        self._windows[key] = (hits + 1, ends)
        return hits + 1, max(1, math.ceil(ends - now))

    async def close(self) -> None:
        return None


# KEYS[1]: a bucket (hash: available, at). ARGV: points to take (negative: to give back),
# capacity, points restored per second. Redis's clock, so every process agrees.
TAKE_SCRIPT = """
local points = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'available', 'at')
local available = capacity
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  available = math.min(capacity, tonumber(state[1]) + elapsed * rate)
end
local taken = 0
if points <= 0 or points <= available then
  available = math.min(capacity, available - points)
  taken = 1
end
if available >= capacity then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'available', tostring(available), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - available) / rate * 1000) + 1000)
end
return {taken, tostring(available)}
"""

# KEYS[1]: a fixed window's counter. ARGV[1]: the window in seconds.
COUNT_SCRIPT = """
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


class RedisCounters:
    """The same counters in Redis, shared by every process; this process's own counters
    while Redis cannot be reached (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._take = self._redis.register_script(TAKE_SCRIPT)
        self._count = self._redis.register_script(COUNT_SCRIPT)
        self.fallback = MemoryCounters()
        self._retry_at = 0.0
        self._last_warning = -math.inf
        self.failures = 0

    def _available(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        self._retry_at = now + REDIS_RETRY_SECONDS
        if now - self._last_warning >= FAILURE_LOG_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning(
                "rate limits: Redis cannot be reached (%s: %s); this process counts on its "
                "own until it answers (%d failures so far)",
                type(error).__name__,
                error,
                self.failures,
            )

    async def take(self, key: str, points: float, capacity: int, rate: float) -> Level:
        if self._available():
            try:
                taken, available = await self._take(keys=[key], args=[points, capacity, rate])
            except (RedisError, OSError) as error:  # TimeoutError is an OSError
                self._failed(error)
            else:
                return Level(bool(int(taken)), float(available))
        return await self.fallback.take(key, points, capacity, rate)

    async def count(self, key: str, window_seconds: int) -> tuple[int, int]:
        if self._available():
            try:
                hits, ttl = await self._count(keys=[key], args=[window_seconds])
            except (RedisError, OSError) as error:  # TimeoutError is an OSError
                self._failed(error)
            else:
                return int(hits), max(1, int(ttl))
        return await self.fallback.count(key, window_seconds)

    async def close(self) -> None:
        await self._redis.aclose()


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
