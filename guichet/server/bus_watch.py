"""Hearing one topic on the bus, with the database checked on a timer as a second chance.

Each process keeps something in step with what other processes commit (ended sessions,
the help desk's settings). The bus brings the news at once; a poll every few seconds
covers what an outage of the bus hid. Both run as background tasks of the process, and
neither stops on an error: the bus is listened to again, the next poll retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

# How long `start` waits for the subscription before serving without it (the poll covers).
LISTEN_TIMEOUT_SECONDS = 5


class BusWatch:
    def __init__(
        self,
        bus: Any,
        topic: str,
        *,
        heard: Callable[[Any], Awaitable[None]],
        poll: Callable[[], Awaitable[None]],
        poll_seconds: float,
        task_names: tuple[str, str],
        log: logging.Logger,
        what: str,
    ) -> None:
        """`heard` gets every message (RESUMED too, after an outage); `poll` runs every
        `poll_seconds`. `what` names the news in the log ("ended sessions")."""
        self.bus = bus
        self.topic = topic
        self.heard = heard
        self.poll = poll
        self.poll_seconds = poll_seconds
        self.task_names = task_names
        self.log = log
        self.what = what
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name=self.task_names[0]),
            asyncio.create_task(self._poll(), name=self.task_names[1]),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LISTEN_TIMEOUT_SECONDS):
                await self._listening.wait()

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        while True:
            try:
                async with self.bus.subscribe(self.topic) as messages:
                    self._listening.set()
                    async for message in messages:
                        await self.heard(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("listening for %s failed; listening again", self.what)
                await asyncio.sleep(1)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away: the next poll retries
                self.log.warning("checking for %s failed: %s", self.what, type(error).__name__)
