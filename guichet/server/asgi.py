"""Entry point for uvicorn's worker processes: the app, from the environment."""

from __future__ import annotations

import os
import sys

from starlette.applications import Starlette

from guichet.server.app import create_app
from guichet.server.settings import SettingsError, load_settings


def app_from_environment() -> Starlette:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"guichet: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return create_app(settings, run_worker=os.environ.get("GUICHET_RUN_WORKER", "1") != "0")
