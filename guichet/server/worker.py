"""The background worker: periodic jobs that run beside the server (or alone, with
`guichet worker`). Every job is safe to run in several processes at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from guichet.resolvers import idempotency
from guichet.resolvers.admin import help_center
from guichet.resolvers.context import Context
from guichet.resolvers.mail import outbox, ticket_mail
from guichet.resolvers.people import auth, password_reset, sign_up
from guichet.resolvers.tickets import attachments
from guichet.resolvers.work import auto_close, reminders
from guichet.server.mailer import senders_for
from guichet.server.settings import Settings

log = logging.getLogger("guichet.worker")

Job = Callable[[], Awaitable[object]]


class Worker:
    def __init__(self, settings: Settings, bus: object, *, interval_seconds: float = 1.0) -> None:
        self.settings = settings
        self.bus = bus
        self.interval_seconds = interval_seconds
        senders = senders_for(settings)

        async def deliver_outbox() -> None:
            # Drain what is due now; a full batch means more may be waiting.
            while await outbox.deliver_due(senders, ticket_mail.checks(settings)) >= outbox.BATCH:
                pass

        async def send_reminders() -> None:
            # Claims due activity reminders (once each, whatever number of workers run),
            # queues their e-mails and SMS, which deliver_outbox sends in the same tick, and
            # stores their POPUP notifications with the claim (then publishes their ids).
            # Their mails sign with the support address in effect (help_center.py).
            effective = await help_center.effective_settings(settings)
            await reminders.send_due_reminders(Context(effective, None, bus))

        async def close_solved_tickets() -> None:
            # Tickets solved more than autoCloseSolvedAfterDays ago (a setting admins
            # change at run time), each closed once whatever number of workers run.
            await auto_close.close_solved_tickets(Context(settings, None, bus))

        async def sweep_orphan_files() -> None:
            await attachments.sweep_orphans(settings)

        # (job, run every N ticks)
        self.jobs: list[tuple[Job, int]] = [
            (send_reminders, 1),
            (deliver_outbox, 1),
            (close_solved_tickets, 60),
            (auth.purge_expired_sign_in_state, 300),
            (password_reset.purge_expired_resets, 300),
            (sign_up.purge_expired_sign_ups, 300),
            (sweep_orphan_files, 3600),
            (idempotency.purge_expired, 300),
        ]
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="guichet-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self, tick: int = 0) -> None:
        for job, every in self.jobs:
            if tick % every:
                continue
            try:
                await job()
            except Exception:  # one failing job must not stop the others
                log.exception("worker job %s failed", getattr(job, "__name__", job))

    async def run(self) -> None:
        tick = 0
        while True:
            await self.run_once(tick)
            tick += 1
            await asyncio.sleep(self.interval_seconds)
