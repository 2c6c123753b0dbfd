"""Settings read from the environment, once, at start-up.

Every setting is listed with its default in the README. A bad value raises
`SettingsError` with one line that names the variable; the CLI prints it and exits.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit

from guichet.server import mail_settings
from guichet.server.setting_values import SettingsError, flag, limit, positive_int

__all__ = ["Settings", "SettingsError", "load_settings"]

log = logging.getLogger("guichet.settings")

DEFAULT_DATABASE_URL = "sqlite://guichet.sqlite3"
DEFAULT_BROADCAST_URL = "memory://"
# The most objects one operation may ask for (protection.estimated_nodes), and the query-cost
# budget of each viewer: the 50-ticket dashboard list with 5 comments each asks for 1,250
# points, so a full bucket runs 16 of them at once, and 500 points a second pay for one every
# 2.5 seconds for as long as it lasts (every 2 once the objects not returned are refunded).
DEFAULT_MAX_QUERY_COST = 10_000
DEFAULT_COST_BUDGET = 20_000
DEFAULT_COST_RESTORE_RATE = 500
DEFAULT_SIGN_IN_RATE_PER_MINUTE = 30


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    broadcast_url: str = DEFAULT_BROADCAST_URL
    secret_key: str = field(default="", repr=False)
    storage_dir: Path = Path("guichet-storage")
    smtp_url: str | None = None
    inbound_token: str | None = field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8000"
    token_ttl_days: int = 30
    debug: bool = False
    legacy_graphql_ws: bool = False
    max_subscriptions_per_connection: int = 20
    allowed_origins: tuple[str, ...] = ()
    csat_window_days: int = 28
    mail_from: str = "Guichet <no-reply@guichet.invalid>"
    sms_sender: str | None = None
    # Prepended to every pub/sub channel: deployments sharing one Redis do not hear each other.
    topic_prefix: str = ""
    # Rate limits (server/rate_limits.py); 0 turns the sign-in limit or the cost budget off.
    sign_in_rate_per_minute: int = DEFAULT_SIGN_IN_RATE_PER_MINUTE
    cost_budget: int = DEFAULT_COST_BUDGET
    cost_restore_rate: int = DEFAULT_COST_RESTORE_RATE
    max_query_cost: int = DEFAULT_MAX_QUERY_COST
    # Networks (CIDR) of the proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()
    # Queries the planned executor understands run planned (guichet/schema/execution);
    # GUICHET_PLANNER=off runs every operation through strawberry's executor.
    planner: bool = True
    # On PostgreSQL, planned queries whose fields all say what they are in SQL are answered
    # by one statement that writes the JSON (schema/execution/answers.py);
    # GUICHET_SQL_ANSWERS=off shapes every answer in Python.
    sql_answers: bool = True
    # Mail and files (issue 13): the largest upload, and when the survey follows the solved
    # notice (0: in the same mail).
    max_upload_mb: int = 50
    csat_survey_delay_minutes: int = 0
    # Links in mails, to the deployment's front end: templates with {number} and {id} of
    # the ticket ({token} and {score} in the survey's; {token} in the password reset's and
    # the sign-up's).
    ticket_link: str = "http://127.0.0.1:8000/tickets/{number}"
    satisfaction_link: str = "http://127.0.0.1:8000/satisfaction?token={token}&score={score}"
    password_reset_link: str = "http://127.0.0.1:8000/reset-password?token={token}"
    sign_up_link: str = "http://127.0.0.1:8000/sign-up?token={token}"
    # Help-center settings (issue 14): the defaults of what admins change at run time
    # (resolvers/admin/help_center.py overlays the stored ones on every process).
    help_center_name: str = "Guichet"
    time_zone: str = "UTC"
    agents_use_portal: bool = True
    # Customers may sign up in the portal (requestSignUp).
    sign_up_open: bool = True
    csat_enabled: bool = True
    auto_close_solved_after_days: int = 0

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def _database_url(env: Mapping[str, str]) -> str:
    url = env.get("GUICHET_DATABASE_URL") or DEFAULT_DATABASE_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        return url
    if scheme in ("postgres", "postgresql", "asyncpg"):
        parts = urlsplit(url)
        if not parts.hostname or not parts.path.strip("/"):
            raise SettingsError(
                "GUICHET_DATABASE_URL must name a host and a database, "
                "e.g. postgres://user:password@127.0.0.1:5432/guichet"
            )
        # Tortoise names the asyncpg engine "postgres".
        return "postgres" + url[len(scheme) :]
    raise SettingsError(
        "GUICHET_DATABASE_URL must start with sqlite:// or postgres://, "
        f"got {url.split('://', 1)[0]!r}"
    )


def _broadcast_url(env: Mapping[str, str]) -> str:
    url = env.get("GUICHET_BROADCAST_URL") or DEFAULT_BROADCAST_URL
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return url
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise SettingsError(
                "GUICHET_BROADCAST_URL must name a host, e.g. redis://127.0.0.1:6379/0"
            )
        return url
    raise SettingsError(
        f"GUICHET_BROADCAST_URL must start with memory:// or redis://, got {parts.scheme or url!r}"
    )


def _public_url(env: Mapping[str, str]) -> str:
    url = env.get("GUICHET_PUBLIC_URL") or "http://127.0.0.1:8000"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"GUICHET_PUBLIC_URL must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _secret_key(env: Mapping[str, str], database_url: str, sqlite_path: Path | None) -> str:
    key = env.get("GUICHET_SECRET_KEY") or ""
    if key:
        if len(key) < 32:
            raise SettingsError("GUICHET_SECRET_KEY must be at least 32 characters long")
        return key
    if not database_url.startswith("sqlite://"):
        raise SettingsError(
            "GUICHET_SECRET_KEY must be set when the database is PostgreSQL "
            "(every process must sign tokens with the same key)"
        )
    if sqlite_path is None:
        # An in-memory database lives as long as the process; so does its key.
        return secrets.token_urlsafe(48)
    key_file = sqlite_path.with_name(sqlite_path.name + ".secret")
    if key_file.exists():
        stored = key_file.read_text().strip()
        if len(stored) >= 32:
            return stored
    key = secrets.token_urlsafe(48)
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
    except OSError as error:
        raise SettingsError(
            f"GUICHET_SECRET_KEY is not set and no key can be kept in {key_file} "
            f"({error.strerror or error}): set GUICHET_SECRET_KEY or check GUICHET_DATABASE_URL"
        ) from None
    log.warning(
        "GUICHET_SECRET_KEY is not set: generated one and kept it in %s. "
        "Set GUICHET_SECRET_KEY in production.",
        key_file,
    )
    return key


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("GUICHET_ALLOWED_ORIGINS") or ""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        # An origin is scheme://host[:port], nothing more: a browser never sends a path.
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            raise SettingsError(f"GUICHET_ALLOWED_ORIGINS has {origin!r}, which is not an origin")
    return origins


def _topic_prefix(env: Mapping[str, str]) -> str:
    value = env.get("GUICHET_TOPIC_PREFIX") or ""
    if len(value) > 64 or not all(c.isalnum() or c in "-_.:" for c in value):
        raise SettingsError(
            "GUICHET_TOPIC_PREFIX takes at most 64 letters, digits, '-', '_', '.' or ':', "
            f"got {value!r}"
        )
    return value


def _cost_budget(env: Mapping[str, str], max_query_cost: int) -> int:
    budget = limit(env, "GUICHET_COST_BUDGET", DEFAULT_COST_BUDGET, 100_000_000)
    if 0 < budget < max_query_cost:
        raise SettingsError(
            f"GUICHET_COST_BUDGET must be 0 (off) or at least GUICHET_MAX_QUERY_COST "
            f"({max_query_cost}), or the costliest allowed query could never run; got {budget}"
        )
    return budget


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("GUICHET_TRUSTED_PROXIES") or ""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(str(ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(
                f"GUICHET_TRUSTED_PROXIES has {part!r}, which is not an address or a network "
                "like 10.0.0.0/8"
            ) from None
    return tuple(networks)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every GUICHET_* setting; raise SettingsError on the first bad one."""
    env = os.environ if env is None else env
    database_url = _database_url(env)
    probe = Settings(database_url=database_url)
    storage = Path(env.get("GUICHET_STORAGE_DIR") or "guichet-storage")
    max_query_cost = positive_int(
        env, "GUICHET_MAX_QUERY_COST", DEFAULT_MAX_QUERY_COST, 100_000_000
    )
    settings = Settings(
        database_url=database_url,
        broadcast_url=_broadcast_url(env),
        storage_dir=storage,
        smtp_url=mail_settings.smtp_url(env),
        inbound_token=env.get("GUICHET_INBOUND_TOKEN") or None,
        public_url=_public_url(env),
        token_ttl_days=positive_int(env, "GUICHET_TOKEN_TTL_DAYS", 30, 3650),
        debug=flag(env, "GUICHET_DEBUG", False),
        legacy_graphql_ws=flag(env, "GUICHET_LEGACY_GRAPHQL_WS", False),
        max_subscriptions_per_connection=positive_int(
            env, "GUICHET_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20, 1000
        ),
        allowed_origins=_origins(env),
        csat_window_days=positive_int(env, "GUICHET_CSAT_WINDOW_DAYS", 28, 3650),
        sms_sender=mail_settings.sms_sender(env),
        mail_from=mail_settings.mail_from(env),
        topic_prefix=_topic_prefix(env),
        sign_in_rate_per_minute=limit(
            env, "GUICHET_SIGN_IN_RATE_PER_MINUTE", DEFAULT_SIGN_IN_RATE_PER_MINUTE, 1_000_000
        ),
        cost_budget=_cost_budget(env, max_query_cost),
        cost_restore_rate=positive_int(
            env, "GUICHET_COST_RESTORE_RATE", DEFAULT_COST_RESTORE_RATE, 100_000_000
        ),
        max_query_cost=max_query_cost,
        trusted_proxies=_trusted_proxies(env),
        planner=flag(env, "GUICHET_PLANNER", True),
        sql_answers=flag(env, "GUICHET_SQL_ANSWERS", True),
        max_upload_mb=positive_int(env, "GUICHET_MAX_UPLOAD_MB", 50, 10_000),
        csat_survey_delay_minutes=limit(env, "GUICHET_CSAT_SURVEY_DELAY_MINUTES", 0, 60 * 24 * 90),
        **mail_settings.mail_links(env, _public_url(env)),
        help_center_name=mail_settings.help_center_name(env),
        time_zone=mail_settings.time_zone(env),
        agents_use_portal=flag(env, "GUICHET_AGENTS_USE_PORTAL", True),
        sign_up_open=flag(env, "GUICHET_SIGN_UP_OPEN", True),
        csat_enabled=flag(env, "GUICHET_CSAT_ENABLED", True),
        auto_close_solved_after_days=limit(env, "GUICHET_AUTO_CLOSE_SOLVED_AFTER_DAYS", 0, 3650),
    )
    # Last: a key generated for SQLite is written to disk only once every other value is good.
    return replace(settings, secret_key=_secret_key(env, database_url, probe.sqlite_path))
