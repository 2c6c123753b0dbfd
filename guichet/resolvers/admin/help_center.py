"""The help desk's settings as every process sees them: the stored row over the environment.

Admins change the settings at run time (`updateSettings`, help_center_changes.py); they
are one row (`HelpCenterSettings`, id 1) whose null columns take the environment's
defaults (GUICHET_*), so a deployment's variables stay the defaults.

Every process keeps a copy of the row, and a server process's watch
(server/settings_watch.py) keeps it up to date, off the request path:
- at once when told: the process that changed it installs the new row in its own copy
  after the commit and publishes `topics.help_center_settings()`, which every other
  process hears (and reads the row);
- at most POLL_SECONDS after a change in any case: the watch reads the row (one
  primary-key read) every POLL_SECONDS, so a lost message delays a change by a second at
  most.
A process without a watch (a script, `guichet worker` alone) reads the row on use when
its copy is older than POLL_SECONDS.

The code that uses a setting reads it where it always did, on `context.settings`: a
request's context carries the *effective* `Settings` (`effective_settings`: the environment's
with the stored values laid over, built once per change). `current(context)` answers the
`HelpCenter` itself (for the `settings` query, and for "today" and "this week" in the time
zone: `HelpCenter.day_starts_at`, `week_starts_at`, `month_starts_at`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from guichet.resolvers import sql
from guichet.resolvers.sql import as_bool, as_datetime

if TYPE_CHECKING:
    from guichet.resolvers.context import Context
    from guichet.server.settings import Settings

POLL_SECONDS = 1.0
# Until admins change anything, `updatedAt` says "never": the epoch.
NEVER = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True, slots=True)
class Stored:
    """The row as stored: None where the environment's default applies."""

    help_center_name: str | None = None
    support_email: str | None = None
    time_zone: str | None = None
    agents_use_portal: bool | None = None
    sign_up_open: bool | None = None
    csat_enabled: bool | None = None
    csat_window_days: int | None = None
    auto_close_solved_after_days: int | None = None
    version: int = 0
    updated_at: datetime | None = None


def _maybe_bool(value: Any) -> bool | None:
    # NULL is "the environment's default"; sql.optional would read a stored false as NULL.
    return None if value is None else as_bool(value)


STORED = sql.Table(
    "help_center_settings", "h", Stored,
    "help_center_name", "support_email", "time_zone",
    ("agents_use_portal", _maybe_bool), ("sign_up_open", _maybe_bool), ("csat_enabled", _maybe_bool),
    "csat_window_days", "auto_close_solved_after_days", "version", ("updated_at", as_datetime),
)  # fmt: skip
_ROW = sql.select(STORED).where("h.id = 1")
UNSET = Stored()


@dataclass(frozen=True, slots=True)
class HelpCenter:
    """The settings in effect."""

    help_center_name: str
    support_email: str
    time_zone: str
    agents_use_portal: bool
    sign_up_open: bool
    csat_enabled: bool
    csat_window_days: int
    auto_close_solved_after_days: int
    updated_at: datetime
    version: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def day_starts_at(self, now: datetime | None = None) -> datetime:
        """When today began in the help center's time zone (as UTC)."""
        local = (now or datetime.now(UTC)).astimezone(self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    def week_starts_at(self, now: datetime | None = None) -> datetime:
        """When this week (from Monday) began in the help center's time zone (as UTC)."""
        local = (now or datetime.now(UTC)).astimezone(self.zone)
        monday = (local - timedelta(days=local.weekday())).date()
        return datetime(monday.year, monday.month, monday.day, tzinfo=self.zone).astimezone(UTC)

    def month_starts_at(self, now: datetime | None = None) -> datetime:
        """When this month began in the help center's time zone (as UTC)."""
        local = (now or datetime.now(UTC)).astimezone(self.zone)
        return datetime(local.year, local.month, 1, tzinfo=self.zone).astimezone(UTC)


class _Copy:
    """One process's copy of one database's row, and the effective settings made from it."""

    __slots__ = ("checked_at", "effective", "installed_at", "stored", "watchers")

    def __init__(self) -> None:
        self.stored: Stored | None = None
        self.checked_at = float("-inf")
        # When this process last installed a row it knows to be current (its own commit):
        # a read that started earlier may predate that commit and is thrown away.
        self.installed_at = float("-inf")
        # id(environment's Settings) -> (those Settings, the effective ones), for `stored`.
        self.effective: dict[int, tuple[Any, Any]] = {}
        # Settings watches running for this database (server/settings_watch.py).
        self.watchers = 0

    def install(self, row: Stored) -> None:
        if row != self.stored:
            self.stored = row
            self.effective = {}
        self.checked_at = time.monotonic()


# By database URL: a process serves one database (tests may open two apps on one).
_copies: dict[str, _Copy] = {}


def _copy(database_url: str) -> _Copy:
    found = _copies.get(database_url)
    if found is None:
        found = _copies[database_url] = _Copy()
    return found


async def stored(database_url: str) -> Stored:
    """The stored row. While a watch keeps the copy up to date (a server process), the copy
    as it is: a request reads no settings. Otherwise (a script, a lone worker) the row is
    read again when the copy is older than POLL_SECONDS."""
    copy = _copy(database_url)
    if copy.stored is not None and (
        copy.watchers or time.monotonic() - copy.checked_at < POLL_SECONDS
    ):
        return copy.stored
    return await refresh(database_url)


async def refresh(database_url: str) -> Stored:
    """Read the row now (a watch's poll, or a change announced by another process)."""
    copy = _copy(database_url)
    started = time.monotonic()
    rows = await _ROW.fetch()
    found = STORED.row(rows[0]) if rows else UNSET
    if started <= copy.installed_at and copy.stored is not None:
        return copy.stored  # read before this process's own change: older than the copy
    copy.install(found)
    return found


def remember(database_url: str, row: Stored) -> None:
    """The row this process just committed: in effect here before the answer is sent. An
    older version committed meanwhile by a concurrent change never replaces a newer one."""
    copy = _copy(database_url)
    if copy.stored is None or row.version >= copy.stored.version:
        copy.install(row)
        copy.installed_at = time.monotonic()


def start_over(database_url: str) -> None:
    """The table was emptied (tests): the environment's defaults, without a read."""
    copy = _copy(database_url)
    copy.install(UNSET)
    copy.installed_at = time.monotonic()


def watching(database_url: str, on: bool) -> None:
    """A watch starts (or stops) keeping this database's copy up to date."""
    _copy(database_url).watchers += 1 if on else -1


def _environment(settings: Settings) -> Settings:
    """The environment's settings behind possibly effective ones."""
    return getattr(settings, "_environment", None) or settings


def overlay(environment: Settings, row: Stored) -> Settings:
    """The environment's settings with the stored values laid over."""
    display, address = parseaddr(environment.mail_from)
    name = row.help_center_name
    if row.help_center_name is not None or row.support_email is not None:
        mail_from = formataddr((name or display, row.support_email or address))
    else:
        mail_from = environment.mail_from
    return replace(
        environment,
        mail_from=mail_from,
        help_center_name=_pick(row.help_center_name, environment.help_center_name),
        time_zone=_pick(row.time_zone, environment.time_zone),
        agents_use_portal=_pick(row.agents_use_portal, environment.agents_use_portal),
        sign_up_open=_pick(row.sign_up_open, environment.sign_up_open),
        csat_enabled=_pick(row.csat_enabled, environment.csat_enabled),
        csat_window_days=_pick(row.csat_window_days, environment.csat_window_days),
        auto_close_solved_after_days=_pick(
            row.auto_close_solved_after_days, environment.auto_close_solved_after_days
        ),
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


async def effective_settings(settings: Settings) -> Settings:
    """The settings in effect now: the environment's with the stored row laid over. The same
    object until the row changes (so what is cached per Settings stays cached)."""
    environment = _environment(settings)
    row = await stored(environment.database_url)
    copy = _copy(environment.database_url)
    made = copy.effective.get(id(environment))
    if made is None or made[0] is not environment:
        effective = overlay(environment, row)
        # Frozen dataclass: remember the environment behind it without a field of its own.
        object.__setattr__(effective, "_environment", environment)
        made = copy.effective[id(environment)] = (environment, effective)
    return made[1]


def help_center_of(settings: Settings, row: Stored) -> HelpCenter:
    effective = overlay(_environment(settings), row)
    return HelpCenter(
        help_center_name=effective.help_center_name,
        support_email=parseaddr(effective.mail_from)[1],
        time_zone=effective.time_zone,
        agents_use_portal=effective.agents_use_portal,
        sign_up_open=effective.sign_up_open,
        csat_enabled=effective.csat_enabled,
        csat_window_days=effective.csat_window_days,
        auto_close_solved_after_days=effective.auto_close_solved_after_days,
        updated_at=row.updated_at or NEVER,
        version=row.version,
    )


async def current(context: Context) -> HelpCenter:
    """The settings in effect now, for any rule that needs one (a dashboard's "today")."""
    return await current_for(context.settings)


async def current_for(settings: Settings) -> HelpCenter:
    environment = _environment(settings)
    return help_center_of(environment, await stored(environment.database_url))
