"""Who is asking, and what one request (or one subscription event) shares: its loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from guichet.models.people import Role
from guichet.resolvers.errors import Unauthenticated

if TYPE_CHECKING:
    from guichet.server.settings import Settings

# A batch function: `async def things_by_key(context, keys) -> list[value | None]`, in key order.
Batch = Callable[["Context", Sequence[Any]], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True)
class Viewer:
    id: int
    name: str
    email: str
    role: Role
    session_id: str | None = None

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)

    @property
    def is_agent(self) -> bool:
        """Staff: light agents, agents, admins and the owner."""
        return self.role.at_least(Role.LIGHT_AGENT)


class Context:
    """Strawberry's `info.context`. Loaders are per instance: one per HTTP request, and
    one per event in a subscription (`for_event`), so nothing cached outlives a read."""

    __slots__ = ("_loaders", "bus", "connection_params", "settings", "viewer")

    def __init__(self, settings: Settings, viewer: Viewer | None, bus: Any = None) -> None:
        self.settings = settings
        self.viewer = viewer
        self.bus = bus
        # The websocket connection_init payload (strawberry sets it).
        self.connection_params: dict[str, Any] | None = None
        self._loaders: dict[Batch, DataLoader] = {}

    def loader(self, batch: Batch) -> DataLoader:
        found = self._loaders.get(batch)
        if found is None:

            async def load(keys: list[Any], batch: Batch = batch) -> list[Any]:
                return await batch(self, keys)

            found = self._loaders[batch] = DataLoader(load_fn=load)
        return found

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise Unauthenticated()
        return self.viewer

    def next_event(self) -> None:
        """Forget loaded values: a websocket's context lives as long as the connection,
        so each subscription event starts with empty loaders."""
        self._loaders = {}
