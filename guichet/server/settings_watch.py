"""Keeping this process's copy of the help desk's settings up to date, off the request path.

The process that changes them publishes `topics.help_center_settings()` after its commit;
every other process hears it here and reads the row at once. And every POLL_SECONDS the
row is read anyway, so a lost message (a bus outage) delays a change by a second at most.
Requests then take the settings from the copy without a statement
(resolvers/admin/help_center.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from guichet.resolvers import topics
from guichet.resolvers.admin import help_center

log = logging.getLogger("guichet.settings")

# Task names: statements they run are the process's, not a request's.
TASK_NAMES = ("guichet-settings-watch", "guichet-settings-poll")


class SettingsWatch:
    def __init__(
        self, bus: Any, database_url: str, poll_seconds: float = help_center.POLL_SECONDS
    ) -> None:
        self.bus = bus
        self.database_url = database_url
        self.poll_seconds = poll_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    async def start(self) -> None:
        with contextlib.suppress(Exception):  # the database may be away: the poll retries
            await help_center.refresh(self.database_url)
        help_center.watching(self.database_url, True)
        self._tasks = [
            asyncio.create_task(self._listen(), name=TASK_NAMES[0]),
            asyncio.create_task(self._poll(), name=TASK_NAMES[1]),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._listening.wait()

    async def stop(self) -> None:
        if not self._tasks:
            return
        help_center.watching(self.database_url, False)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        while True:
            try:
                async with self.bus.subscribe(topics.help_center_settings()) as messages:
                    self._listening.set()
                    async for _ in messages:
                        # A change, or RESUMED after an outage: read the row now.
                        await help_center.refresh(self.database_url)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listening for settings changes failed; listening again")
                await asyncio.sleep(1)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await help_center.refresh(self.database_url)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away: the next poll retries
                log.warning("reading the settings failed: %s", type(error).__name__)
