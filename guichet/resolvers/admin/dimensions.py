"""What analytics group tickets by: each dimension's SQL key, its display label, and how a
key reaches the API. One declaration for ticketStats, responseTimes and
satisfactionBreakdown, so a dimension reads the same everywhere.

Labels come from the grouping statement itself: once the tickets are grouped, a dimension
naming a person, group or organization LEFT JOINs that table on the bucket's key and
takes its name; enum values and dates are their own labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from guichet.resolvers import ids, sql
from guichet.resolvers.admin.report_zone import local_time


def _period(unit: str, column: str, zone: str) -> tuple[str, str | None]:
    """The day, ISO week (from Monday) or month of a timestamp in the report's time zone:
    what to group by, and how a grouped value becomes YYYY-MM-DD text (None: it is that
    text already)."""
    local = local_time(column, zone)
    if sql.dialect() == "sqlite":  # local time as ISO text
        day = f"substr({local}, 1, 10)"
        # 'weekday 0' moves forward to Sunday (or stays on one): six days back is Monday.
        return {
            "day": day,
            "week": f"date({day}, 'weekday 0', '-6 days')",
            "month": f"substr({local}, 1, 7) || '-01'",
        }[unit], None
    # Truncating is cheap; text is made once per bucket, not once per ticket.
    return f"date_trunc('{unit}', {local})", "to_char({}, 'YYYY-MM-DD')"


def _plain(value: Any) -> str | None:
    return None if value is None else str(value)


def _node(type_name: str) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else ids.encode(type_name, value)


@dataclass(frozen=True, slots=True)
class Dimension:
    """`key`: SQL over ticket `t` to group by; `shape`: a key's value as the API gives it;
    `text`: how a grouped value becomes the key's text ("{}" stands for it; None: as it
    is); `table`: where the display name is (a table with `id` and `name`; None: the key's
    own text is its label)."""

    key: str
    shape: Callable[[Any], str | None] = _plain
    text: str | None = None
    table: str | None = None


def _named(column: str, table: str, type_name: str) -> Dimension:
    return Dimension(column, _node(type_name), table=table)


def _dated(unit: str, zone: str) -> Dimension:
    key, text = _period(unit, "t.created_at", zone)
    return Dimension(key, text=text)


def dimensions(zone: str) -> dict[str, Dimension]:
    """Every dimension by its API name (AGENT is the assignee, as satisfaction names it);
    dates in `zone` (report_zone.report_time_zone)."""
    assignee = _named("t.assignee_id", '"user"', "User")
    return {
        "STATUS": Dimension("t.status"),
        "PRIORITY": Dimension("t.priority"),
        "TYPE": Dimension("t.type"),
        "CHANNEL": Dimension("t.via"),
        "ASSIGNEE": assignee,
        "AGENT": assignee,
        "GROUP": _named("t.group_id", '"group"', "Group"),
        "ORGANIZATION": _named("t.organization_id", "organization", "Organization"),
        "CREATED_DAY": _dated("day", zone),
        "CREATED_WEEK": _dated("week", zone),
        "CREATED_MONTH": _dated("month", zone),
    }


@dataclass(frozen=True, slots=True)
class Grouping:
    """A GROUP BY over chosen dimensions, in two steps: the grouping statement selects
    `keys` (key i as `g{i}`) and groups by `group_by()`; `around` then reads its rows,
    turning each `g{i}` into the key's text `k{i}` and joining the names `l{i}` — once
    per bucket, not once per ticket. No dimension: one bucket for everything."""

    chosen: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [f"{d.key} AS g{i}" for i, d in enumerate(self.chosen)]

    @property
    def names(self) -> list[str]:
        """The grouped keys' names, for a later GROUP BY or PARTITION BY over them."""
        return [f"g{i}" for i in range(len(self.chosen))]

    def group_by(self) -> str:
        return f" GROUP BY {', '.join(d.key for d in self.chosen)}" if self.chosen else ""

    def around(self, source: str, measures: Sequence[str]) -> str:
        """SELECT keys, labels and `measures` (columns of `source`) FROM `source` (a
        subquery or a WITH name, aliased `q`)."""
        columns, joins = [], []
        for i, d in enumerate(self.chosen):
            value = f"q.g{i}"
            columns.append(f"{d.text.format(value) if d.text else value} AS k{i}")
            if d.table:
                joins.append(f" LEFT JOIN {d.table} n{i} ON n{i}.id = {value}")
                columns.append(f"n{i}.name AS l{i}")
        columns += [f"q.{m}" for m in measures]
        return f"SELECT {', '.join(columns)} FROM {source} q{''.join(joins)}"

    def keys_of(self, row: dict[str, Any]) -> list[str | None]:
        return [d.shape(row[f"k{i}"]) for i, d in enumerate(self.chosen)]

    def labels_of(self, row: dict[str, Any]) -> list[str | None]:
        return [
            row[f"l{i}"] if d.table else _plain(row[f"k{i}"]) for i, d in enumerate(self.chosen)
        ]


def grouping(names: Sequence[str], zone: str = "UTC") -> Grouping:
    table = dimensions(zone)
    return Grouping(tuple(table[n] for n in names))
