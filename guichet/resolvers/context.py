"""Who is asking, and what one request (or one subscription event) shares: its loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guichet.models.people import Role
from guichet.resolvers.errors import NotFound, Unauthenticated

if TYPE_CHECKING:
    from guichet.server.settings import Settings

# A batch function: `async def things_by_key(context, keys) -> list[value | None]`, in key order.
Batch = Callable[["Context", Sequence[Any]], Awaitable[list[Any]]]


class BatchLoader:
    """A per-request DataLoader over one batch function: keys asked for while a level of
    the query resolves are loaded together, each key once.

    strawberry's DataLoader dispatches two loop turns after the first key; fields whose
    resolvers await through more wrappers (permission extensions, nested connections)
    ask a turn or two later and got a batch of their own. Here the batch waits until
    QUIET_TURNS turns pass without a new key (at most MAX_TURNS), so a 50-ticket list
    costs the same statements as a 5-ticket one."""

    QUIET_TURNS = 3
    MAX_TURNS = 50

    __slots__ = ("_cache", "_load", "_pending", "_task")

    def __init__(self, load: Callable[[list[Any]], Awaitable[list[Any]]]) -> None:
        self._load = load
        self._cache: dict[Any, asyncio.Future] = {}
        self._pending: dict[Any, asyncio.Future] = {}
        self._task: asyncio.Task | None = None

    def load(self, key: Any) -> asyncio.Future:
        found = self._cache.get(key)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        future = self._cache[key] = self._pending[key] = loop.create_future()
        if self._task is None:
            self._task = loop.create_task(self._dispatch())
        return future

    async def load_many(self, keys: Sequence[Any]) -> list[Any]:
        return list(await asyncio.gather(*(self.load(k) for k in keys)))

    async def load_level(self, keys: Sequence[Any]) -> list[Any]:
        """Many keys gathered by a caller that sees a whole level (the planned executor):
        those not asked for yet go to the batch function at once, in one call, without
        waiting turns for more; what it returns is kept for later loads of the request.
        Raises what the batch function raises (nothing is kept then)."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if missing:
            values = await self._load(missing)
            if len(values) != len(missing):
                raise ValueError(
                    f"a batch function returned {len(values)} values for {len(missing)} keys"
                )
            loop = asyncio.get_running_loop()
            for key, value in zip(missing, values, strict=True):
                if key not in self._cache:  # a load() may have asked meanwhile
                    future = self._cache[key] = loop.create_future()
                    future.set_result(value)
        found = [self._cache[k] for k in keys]
        return [f.result() if f.done() else await f for f in found]

    async def _dispatch(self) -> None:
        quiet, seen = 0, 0
        for _ in range(self.MAX_TURNS):
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self._pending) == seen else 0
            seen = len(self._pending)
            if quiet >= self.QUIET_TURNS:
                break
        pending, self._pending, self._task = self._pending, {}, None
        keys = list(pending)
        try:
            values = await self._load(keys)
            if len(values) != len(keys):
                raise ValueError(
                    f"a batch function returned {len(values)} values for {len(keys)} keys"
                )
        except BaseException as error:
            for future in pending.values():
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for key, value in zip(keys, values, strict=True):
            if not pending[key].done():
                pending[key].set_result(value)


@dataclass(frozen=True, slots=True)
class Viewer:
    id: int
    name: str
    email: str
    role: Role
    session_id: str | None = None
    # When the token stops being valid (Unix time): a websocket is closed then.
    expires_at: int | None = None
    # Set when the session is an impersonation: the admin who really acts as this viewer.
    impersonator_id: int | None = None

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)

    @property
    def is_agent(self) -> bool:
        """Staff: light agents, agents, admins and the owner."""
        return self.role.at_least(Role.LIGHT_AGENT)


class Context:
    """Strawberry's `info.context`. Loaders are per instance: one per HTTP request, and
    one per event in a subscription (`for_event`), so nothing cached outlives a read."""

    __slots__ = (
        "_loaders",
        "bus",
        "client_ip",
        "connection_params",
        "response_headers",
        "settings",
        "viewer",
        "websocket",
    )

    def __init__(self, settings: Settings, viewer: Viewer | None, bus: Any = None) -> None:
        self.settings = settings
        self.viewer = viewer
        self.bus = bus
        # The websocket connection_init payload (strawberry sets it).
        self.connection_params: dict[str, Any] | None = None
        self._loaders: dict[Batch, BatchLoader] = {}
        # The client's address (after trusted proxies), for per-client limits.
        self.client_ip: str | None = None
        # Headers a rule wants on the HTTP response (e.g. Retry-After of a locked sign-in).
        self.response_headers: dict[str, str] = {}
        # The websocket this context belongs to (None for an HTTP request).
        self.websocket: Any = None

    def loader(self, batch: Batch) -> BatchLoader:
        found = self._loaders.get(batch)
        if found is None:

            async def load(keys: list[Any], batch: Batch = batch) -> list[Any]:
                return await batch(self, keys)

            found = self._loaders[batch] = BatchLoader(load)
        return found

    async def visible_one(self, batch: Batch, key: Any, message: str | None = None) -> Any:
        """One object through its batch function, which applies the viewer's visibility, or
        NotFound: what does not exist and what the viewer may not see answer alike."""
        found = await self.loader(batch).load(key)
        if found is None:
            raise NotFound(message)
        return found

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise Unauthenticated()
        return self.viewer

    def next_event(self) -> None:
        """Forget loaded values: a websocket's context lives as long as the connection,
        so each subscription event starts with empty loaders."""
        self._loaders = {}
