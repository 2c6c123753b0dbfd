"""The time zone reports count days, weeks and months in: the help center's (settings).

PostgreSQL converts with its own zone database (`AT TIME ZONE`). SQLite has none, so a
timestamp's local time is its UTC time shifted by the offset in effect then: a CASE over
the zone's changes of offset (daylight saving) from FIRST_YEAR to LAST_YEAR, computed
once per zone from Python's zone database. Both databases then answer alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guichet.resolvers import sql

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

FIRST_YEAR, LAST_YEAR = 2000, 2050
# A zone name goes into SQL text: only names made of these, and known to zoneinfo.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


def report_time_zone(context: Context) -> str:
    """The help center's time zone (settings' `timeZone`); UTC when it is not a zone."""
    zone = getattr(context.settings, "time_zone", None) or "UTC"
    if zone == "UTC" or not _ZONE_NAME.fullmatch(zone):
        return "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return zone


def local_time(column: str, zone: str) -> str:
    """SQL for the local time of timestamp `column` in `zone`: a PostgreSQL timestamp, or
    SQLite text 'YYYY-MM-DD HH:MM:SS' (or the stored ISO text itself, in UTC)."""
    if sql.dialect() != "sqlite":
        return f"({column} AT TIME ZONE '{zone}')"
    if zone == "UTC":
        return column  # stored as UTC ISO text already
    changes, last = _offset_changes(zone)
    if not changes:
        return f"datetime(substr({column}, 1, 19), '{last:+d} minutes')"
    # Stored timestamps are UTC ISO text: compared as text, they compare as instants.
    cases = [f"WHEN {column} < '{when}' THEN '{before:+d} minutes'" for when, before in changes]
    shift = f"CASE {' '.join(cases)} ELSE '{last:+d} minutes' END"
    return f"datetime(substr({column}, 1, 19), {shift})"


def _offset_at(zone: ZoneInfo, timestamp: float) -> int:
    offset = datetime.fromtimestamp(timestamp, UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


@lru_cache(maxsize=16)
def _offset_changes(zone_name: str) -> tuple[tuple[tuple[str, int], ...], int]:
    """Each change of the zone's offset from FIRST_YEAR to LAST_YEAR, as (the UTC instant
    of the change, as stored text; the offset in minutes in effect BEFORE it), and the
    offset after the last change (earlier and later timestamps take the nearest one)."""
    zone = ZoneInfo(zone_name)
    start = int(datetime(FIRST_YEAR, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC).timestamp())
    current = _offset_at(zone, start)
    changes: list[tuple[str, int]] = []
    day = 86_400
    for low in range(start, end, day):
        high = low + day
        offset = _offset_at(zone, high)
        if offset == current:
            continue
        # The change lies in (low, high]: halve to the second.
        a, b = low, high
        while b - a > 1:
            middle = (a + b) // 2
            if _offset_at(zone, middle) == current:
                a = middle
            else:
                b = middle
        when = datetime.fromtimestamp(b, UTC).strftime("%Y-%m-%d %H:%M:%S")
        changes.append((when, current))
        current = offset
    return tuple(changes), current
