"""updateSettings: admins change the help desk's settings, checked all at once, stored in one
transaction with its audit entry, then announced to every process (help_center.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from guichet.models.admin import HelpCenterSettings
from guichet.models.people import Role
from guichet.resolvers import access, sql, topics
from guichet.resolvers.admin import help_center
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import Refused, UserError, text_error
from guichet.resolvers.people import people

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

MAX_NAME = 200
MAX_DAYS = 3650

_CREATE = sql.statement(
    "INSERT INTO help_center_settings (id, version, updated_at) VALUES (1, 0, ?)"
    " ON CONFLICT (id) DO NOTHING"
)


class SettingsErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    INVALID_EMAIL = "INVALID_EMAIL"
    UNKNOWN_TIME_ZONE = "UNKNOWN_TIME_ZONE"
    OUT_OF_RANGE = "OUT_OF_RANGE"


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """What to change; None leaves a setting as it is."""

    help_center_name: str | None = None
    support_email: str | None = None
    time_zone: str | None = None
    agents_use_portal: bool | None = None
    sign_up_open: bool | None = None
    csat_enabled: bool | None = None
    csat_window_days: int | None = None
    auto_close_solved_after_days: int | None = None


# Every setting admins change, by its Python name.
SETTINGS = tuple(f.name for f in fields(SettingsChanges))

# Python name -> the input's field name, for error paths.
_INPUT = {
    "help_center_name": "helpCenterName",
    "support_email": "supportEmail",
    "time_zone": "timeZone",
    "csat_window_days": "csatWindowDays",
    "auto_close_solved_after_days": "autoCloseSolvedAfterDays",
}


def _path(name: str) -> list[str]:
    return ["input", _INPUT[name]]


def _days_error(name: str, value: int | None, least: int) -> UserError | None:
    if value is None or least <= value <= MAX_DAYS:
        return None
    return UserError(
        f"{_INPUT[name]} must be between {least} and {MAX_DAYS}.",
        SettingsErrorCode.OUT_OF_RANGE,
        _path(name),
    )


def _time_zone_error(value: str | None) -> UserError | None:
    if value is None:
        return None
    try:
        if not value or len(value) > 64:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UserError(
            "Not a time zone: use an IANA name such as Europe/Zurich.",
            SettingsErrorCode.UNKNOWN_TIME_ZONE,
            _path("time_zone"),
        )
    return None


def checked(changes: SettingsChanges) -> dict[str, Any]:
    """The columns to write, or Refused with every problem at once (nothing is written)."""
    errors: list[UserError | None] = []
    values = {f.name: getattr(changes, f.name) for f in fields(changes)}
    if (name := changes.help_center_name) is not None:
        errors.append(text_error(name, _path("help_center_name"), max_length=MAX_NAME))
        values["help_center_name"] = name.strip()
    if (email := changes.support_email) is not None:
        address = people.normalize_email(email)
        if not people.EMAIL.match(address) or len(address) > 254:
            errors.append(
                UserError(
                    "Not an e-mail address.",
                    SettingsErrorCode.INVALID_EMAIL,
                    _path("support_email"),
                )
            )
        values["support_email"] = address
    errors.append(_time_zone_error(changes.time_zone))
    errors.append(_days_error("csat_window_days", changes.csat_window_days, 1))
    errors.append(
        _days_error("auto_close_solved_after_days", changes.auto_close_solved_after_days, 0)
    )
    if problems := [e for e in errors if e is not None]:
        raise Refused(*problems)
    return {k: v for k, v in values.items() if v is not None}


async def update_settings(context: Context, changes: SettingsChanges) -> help_center.HelpCenter:
    """Change the settings (admins): applied on every process at once (within a second if a
    message is lost); audited with each changed setting's value before and after."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.ADMIN)
    columns = checked(changes)
    environment = context.settings
    async with in_transaction():
        now = datetime.now(UTC)
        await _CREATE.execute(now)
        # Locked (PostgreSQL): concurrent changes queue, each counting the version up once.
        row = await HelpCenterSettings.filter(id=1).select_for_update().first()
        before_row = help_center.STORED.row_of(row)
        before = help_center.help_center_of(environment, before_row)
        for name, value in columns.items():
            setattr(row, name, value)
        row.version = before_row.version + 1
        row.updated_by_id = viewer.id
        await row.save()
        after_row = help_center.STORED.row_of(row)
        after = help_center.help_center_of(environment, after_row)
        changed = {
            name: [getattr(before, name), getattr(after, name)]
            for name in SETTINGS
            if getattr(before, name) != getattr(after, name)
        }
        await audit(viewer, "settings.updated", target_type=None, target_id=None, changes=changed)
    # This process applies it before answering; the others hear it now or read it within
    # a second (help_center.POLL_SECONDS).
    help_center.remember(environment.database_url, after_row)
    if context.bus is not None:
        await context.bus.publish(topics.help_center_settings(), {"version": row.version})
    return after
