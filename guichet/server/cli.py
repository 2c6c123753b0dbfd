"""The `guichet` command.

Each command imports what it runs inside its own function (the database, the schema,
uvicorn, the worker): all of them up front would cost every command about a second more
(0.4 s against 1.5 s to import, on a 2-core machine) before `guichet --help` or
`guichet migrate` even starts. No import here is deferred to dodge a cycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated

import typer

from guichet.models.people import Role
from guichet.server.settings import Settings, SettingsError, load_settings

cli = typer.Typer(
    help="Guichet, a helpdesk back end: one GraphQL API for tickets and everything around them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"guichet: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise _fail(str(error), 2) from None


async def _with_database(settings: Settings, work):
    from guichet.models.db import close_database, open_database

    await open_database(settings.database_url)
    try:
        return await work()
    finally:
        await close_database()


def _migrate(settings: Settings) -> list[str]:
    from guichet.models.migrate import DatabaseUnavailable, apply_migrations

    try:
        return asyncio.run(apply_migrations(settings.database_url))
    except DatabaseUnavailable as error:
        raise _fail(f"{error} (check GUICHET_DATABASE_URL)") from None


@cli.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run again)."""
    settings = _settings()
    applied = _migrate(settings)
    typer.echo(
        f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
    )


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (PostgreSQL only above 1).", min=1, max=64)
    ] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run background jobs in this server.")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log a line per HTTP request (a proxy in front often logs them already).",
        ),
    ] = True,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data into an empty database first.")
    ] = False,
) -> None:
    """Apply pending migrations, then serve the API at /graphql."""
    import uvicorn

    from guichet.server.lean_websocket import WEBSOCKET_OPTIONS

    settings = _settings()
    if workers > 1 and settings.is_sqlite:
        raise _fail(
            "SQLite allows one writer process: --workers above 1 needs PostgreSQL "
            "(set GUICHET_DATABASE_URL=postgres://...).",
            2,
        )
    _migrate(settings)
    if demo:
        from guichet.server.demo import load_demo

        loaded = asyncio.run(_with_database(settings, load_demo))
        typer.echo(loaded.summary if loaded else "demo: the database is not empty, left as it is")
    os.environ["GUICHET_RUN_WORKER"] = "0" if no_worker else "1"
    uvicorn.run(
        "guichet.server.asgi:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **WEBSOCKET_OPTIONS,
        access_log=access_log,
        # Who the client is behind a proxy is GUICHET_TRUSTED_PROXIES' call alone.
        proxy_headers=False,
    )


@cli.command()
def worker() -> None:
    """Run the background jobs alone (for a server started with --no-worker)."""
    from guichet.server.worker import Worker
    from guichet.subscriptions.bus import Bus

    settings = _settings()
    _migrate(settings)

    async def run() -> None:
        bus = Bus(settings.broadcast_url, settings.topic_prefix)
        await bus.connect()
        try:
            await Worker(settings, bus).run()
        finally:
            await bus.disconnect()

    try:
        asyncio.run(_with_database(settings, run))
    except KeyboardInterrupt:
        pass


@cli.command()
def smtpd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 2525,
) -> None:
    """Take mail an MTA relays here (SMTP): replies become comments, other mail tickets."""
    from guichet.server.smtpd import start_smtpd
    from guichet.subscriptions.bus import Bus

    settings = _settings()
    _migrate(settings)
    # aiosmtpd logs every SMTP command at INFO: addresses of every message, and noise.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    async def run() -> None:
        bus = Bus(settings.broadcast_url, settings.topic_prefix)
        await bus.connect()
        server = await start_smtpd(settings, host, port, bus)
        typer.echo(f"guichet smtpd: listening on {host}:{port}")
        try:
            await server.serve_forever()
        finally:
            server.close()
            await bus.disconnect()

    try:
        asyncio.run(_with_database(settings, run))
    except KeyboardInterrupt:
        pass


@cli.command("create-user")
def create_user(
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="E-mail address (the sign-in name).")],
    password: Annotated[str, typer.Option(help="Password, at least 10 characters.")],
    role: Annotated[
        Role,
        typer.Option(help="END_USER, LIGHT_AGENT, AGENT, ADMIN or OWNER.", case_sensitive=False),
    ],
) -> None:
    """Add a user; the first thing to do is to add the OWNER (there is exactly one)."""
    from guichet.resolvers.errors import Refused
    from guichet.resolvers.people import accounts, auth, people

    settings = _settings()
    _migrate(settings)

    async def create():
        if problem := people.password_error(password, ["password"]):
            raise Refused(problem)
        return await accounts.create_user(
            None,
            name=name,
            email=email,
            role=role,
            password_hash=await auth.hash_password(password),
        )

    try:
        user = asyncio.run(_with_database(settings, create))
    except Refused as refused:
        raise _fail("; ".join(e.message for e in refused.errors)) from None
    typer.echo(f"created {user.role.value} {user.name} <{user.email_address}> (id {user.id})")


@cli.command("export-schema")
def export_schema() -> None:
    """Print the served GraphQL schema (SDL). Needs no database."""
    from guichet.schema.root import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")


@cli.command()
def demo() -> None:
    """Load a small, realistic helpdesk into an empty database."""
    from guichet.server.demo import load_demo

    settings = _settings()
    _migrate(settings)
    loaded = asyncio.run(_with_database(settings, load_demo))
    if loaded is None:
        raise _fail("the database is not empty; the demo loads only into an empty one")
    typer.echo(loaded.summary)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cli()
