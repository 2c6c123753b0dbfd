"""A second server process for the settings tests: it opens the same database and bus,
runs a settings watch as `create_app` does, and answers each line read on stdin with the
help-center name in effect there (`python -m tests.resolvers.admin.settings_process URL BUS`)."""

from __future__ import annotations

import asyncio
import sys

from guichet.models.db import close_database, open_database
from guichet.resolvers.admin import help_center
from guichet.server.settings import Settings
from guichet.server.settings_watch import SettingsWatch
from guichet.subscriptions.bus import Bus


async def main(database_url: str, broadcast_url: str) -> None:
    settings = Settings(database_url=database_url, broadcast_url=broadcast_url)
    await open_database(database_url)
    bus = Bus(broadcast_url)
    await bus.connect()
    watch = SettingsWatch(bus, database_url)
    await watch.start()
    loop = asyncio.get_running_loop()
    try:
        print("ready", flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "quit":
                break
            effective = await help_center.effective_settings(settings)
            print(effective.help_center_name, flush=True)
    finally:
        await watch.stop()
        await bus.disconnect()
        await close_database()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
