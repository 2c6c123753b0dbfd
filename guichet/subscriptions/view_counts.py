"""viewCounts: each subscriber's view counts, at once and then when they change.

One `Hub` per process (per bus) listens to one topic, `topics.view_counts_changed()`, which
every committed ticket change and every change of a view publishes. A message only marks
the hub dirty; the hub then recounts, at most once a second, for all its subscribers
together: one statement lists every subscriber's views (`views.views_of`), and one counts
each distinct (view, filter, visibility class, viewer when the filter says `me`) once,
however many subscribers share it. Each subscriber is pushed its list only when it differs
from what it was last sent, and never twice within a second. Processes share nothing but
the bus: each recounts for its own subscribers.

Counts that time alone moves (an activity falling overdue, `solved<7d`) are refreshed
every `REFRESH_SECONDS` even without a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from guichet.models.people import Role
from guichet.resolvers import access, topics
from guichet.resolvers.views.dashboard import ViewCount
from guichet.resolvers.views.view_counts import count_all, sharing_key, tickets_count
from guichet.resolvers.views.views import views_of

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

log = logging.getLogger("guichet.view_counts")

MIN_INTERVAL_SECONDS = 1.0
REFRESH_SECONDS = 60.0


class Subscriber:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.latest: asyncio.Queue[list[ViewCount]] = asyncio.Queue()
        self.sent: tuple | None = None
        self.last_push = float("-inf")

    def push(self, counts: list[ViewCount], signature: tuple) -> None:
        while not self.latest.empty():  # only the newest list matters
            self.latest.get_nowait()
        self.latest.put_nowait(counts)
        self.sent = signature
        self.last_push = time.monotonic()


class Hub:
    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.subscribers: dict[Subscriber, None] = {}
        self.dirty = asyncio.Event()
        self.lock = asyncio.Lock()  # one recount at a time
        self.ready: asyncio.Future[None] | None = None
        self.tasks: list[asyncio.Task] = []

    async def join(self, viewer: Viewer) -> Subscriber:
        """A subscriber, listening to the bus before its first count (nothing is missed)."""
        subscriber = Subscriber(viewer)
        self.subscribers[subscriber] = None
        if self.ready is None:
            loop = asyncio.get_running_loop()
            self.ready = loop.create_future()
            self.tasks = [
                loop.create_task(self._listen(), context=contextvars.Context()),
                loop.create_task(self._recount_when_dirty(), context=contextvars.Context()),
            ]
        try:
            await asyncio.shield(self.ready)
            await self.recount([subscriber])
        except BaseException:
            self.leave(subscriber)
            raise
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.pop(subscriber, None)
        if self.subscribers:
            return
        for task in self.tasks:
            task.cancel()
        if self.ready is not None and self.ready.done() and not self.ready.cancelled():
            with contextlib.suppress(Exception):
                self.ready.exception()
        self.tasks, self.ready = [], None
        if _hubs.get(self.bus) is self:
            del _hubs[self.bus]

    async def _listen(self) -> None:
        ready = self.ready
        try:
            async with self.bus.subscribe(topics.view_counts_changed()) as live:
                if ready is not None and not ready.done():
                    ready.set_result(None)
                async for _message in live:  # RESUMED too: something may have changed
                    self.dirty.set()
        except Exception as error:
            if ready is not None and not ready.done():
                ready.set_exception(error)
            raise

    async def _recount_when_dirty(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_SECONDS):
                    await self.dirty.wait()
            self.dirty.clear()
            try:
                await self.recount(list(self.subscribers))
            except Exception:
                log.exception("recounting views failed")
                self.dirty.set()
            await asyncio.sleep(MIN_INTERVAL_SECONDS)

    async def recount(self, subscribers: list[Subscriber]) -> None:
        """Count every subscriber's views, each shared count once, and push what changed."""
        if not subscribers:
            return
        async with self.lock:
            lists = await views_of(list(dict.fromkeys(s.viewer.id for s in subscribers)))
            wanted: dict[tuple, Any] = {}
            plans: list[tuple[Subscriber, list[tuple[Any, tuple]]]] = []
            for subscriber in subscribers:
                plan = []
                for view in lists.get(subscriber.viewer.id, []):
                    if view.hidden:
                        continue
                    key = sharing_key(subscriber.viewer, view)
                    if key not in wanted:
                        wanted[key] = tickets_count(subscriber.viewer, view)
                    if wanted[key] is not None:
                        plan.append((view, key))
                plans.append((subscriber, plan))
            keys = [k for k, c in wanted.items() if c is not None]
            totals = dict(zip(keys, await count_all([wanted[k] for k in keys]), strict=True))
        now = time.monotonic()
        for subscriber, plan in plans:
            counts = [ViewCount(view, totals[key]) for view, key in plan]
            signature = tuple(
                (v.pk, v.name, v.position, n) for v, n in ((c.view, c.count) for c in counts)
            )
            if signature == subscriber.sent or subscriber not in self.subscribers:
                continue
            if now - subscriber.last_push < MIN_INTERVAL_SECONDS:
                self.dirty.set()  # too soon for this one: the next round sends it
                continue
            subscriber.push(counts, signature)


_hubs: weakref.WeakKeyDictionary[Any, Hub] = weakref.WeakKeyDictionary()


def registry(bus: Any) -> Hub:
    found = _hubs.get(bus)
    if found is None:
        found = _hubs[bus] = Hub(bus)
    return found


async def view_counts(context: Context) -> AsyncIterator[list[ViewCount]]:
    """Refuse before the stream starts (staff only), then stream the viewer's counts."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.LIGHT_AGENT)
    return _stream(context, viewer)


async def _stream(context: Context, viewer: Viewer) -> AsyncIterator[list[ViewCount]]:
    hub = registry(context.bus)
    subscriber = await hub.join(viewer)
    try:
        while True:
            counts = await subscriber.latest.get()
            context.next_event()
            yield counts
    finally:
        hub.leave(subscriber)
