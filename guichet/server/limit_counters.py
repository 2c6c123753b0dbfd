"""The counters behind the rate limits: leaky buckets and fixed windows, in this process or
in Redis (shared by every process, one atomic Lua script per check, keys that expire once
they hold nothing). When Redis cannot be reached the process counts on its own and warns at
most once a minute: limits become per process for that time rather than failing requests.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("guichet.limits")

# Waiting on Redis: a request waits at most this long before counting in the process.
REDIS_TIMEOUT_SECONDS = 0.5
# After a failure, this process counts on its own for this long before asking Redis again.
REDIS_RETRY_SECONDS = 2.0
# While Redis is away, one warning per this many seconds, not one per request.
FAILURE_LOG_INTERVAL_SECONDS = 60.0


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
