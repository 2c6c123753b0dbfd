"""Keeping this process's copy of the help desk's settings up to date, off the request path.

The process that changes them publishes `topics.help_center_settings()` after its commit;
every other process hears it here and reads the row at once. And every POLL_SECONDS the
row is read anyway, so a lost message (a bus outage) delays a change by a second at most.
Requests then take the settings from the copy without a statement
(resolvers/admin/help_center.py).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from guichet.resolvers import topics
from guichet.resolvers.admin import help_center
from guichet.server.bus_watch import BusWatch

log = logging.getLogger("guichet.settings")

# Task names: statements they run are the process's, not a request's.
TASK_NAMES = ("guichet-settings-watch", "guichet-settings-poll")


class SettingsWatch:
    def __init__(
        self, bus: Any, database_url: str, poll_seconds: float = help_center.POLL_SECONDS
    ) -> None:
        self.database_url = database_url
        self._watch = BusWatch(
            bus,
            topics.help_center_settings(),
            heard=self._heard,  # a change, or RESUMED after an outage: read the row now
            poll=self._read,
            poll_seconds=poll_seconds,
            task_names=TASK_NAMES,
            log=log,
            what="settings changes",
        )

    async def start(self) -> None:
        with contextlib.suppress(Exception):  # the database may be away: the poll retries
            await self._read()
        help_center.watching(self.database_url, True)
        await self._watch.start()

    async def stop(self) -> None:
        if not self._watch.started:
            return
        help_center.watching(self.database_url, False)
        await self._watch.stop()

    async def _heard(self, _message: Any) -> None:
        await self._read()

    async def _read(self) -> None:
        await help_center.refresh(self.database_url)
