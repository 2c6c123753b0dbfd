"""Counting views: many counts in one statement, each by the ticket list's own rules.

A view's count is `tickets(filter: view.filter)`'s totalCount for the same viewer: the
condition is `ticket_search.build_where`'s. Several counts (a viewer's views, the
dashboard's figures) run as one statement of scalar subqueries, each using its own
indexes, in one round trip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from guichet.resolvers import access, sql
from guichet.resolvers.errors import BadRequest
from guichet.resolvers.tickets.ticket_search import build_where
from guichet.resolvers.views.view_filters import depends_on_viewer, filter_of

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer
    from guichet.resolvers.views.views import ViewRow

# A count: SQL text of one scalar SELECT, numbered from $1, and its values.
Count = tuple[str, Sequence[Any]]


def tickets_count(viewer: Viewer, view: ViewRow) -> Count | None:
    """How to count a view's tickets for the viewer; None when its filter no longer reads
    (such a view counts nothing, anywhere, until someone fixes it)."""
    try:
        text, params = build_where(viewer, view.ticket_filter_value).part
    except BadRequest:
        return None
    return f"SELECT COUNT(*) FROM ticket t WHERE {text}", params


async def count_all(counts: Sequence[Count]) -> list[int]:
    """Every count, in order, in one statement."""
    if not counts:
        return []
    combined = sql.Where()
    for count in counts:
        combined.given(count)
    selects = ", ".join(f"({text}) AS c{i}" for i, text in enumerate(combined.conditions))
    row = (await sql.fetch(f"SELECT {selects}", *combined.params))[0]
    return [int(row[f"c{i}"]) for i in range(len(counts))]


def sharing_key(viewer: Viewer, view: ViewRow) -> tuple:
    """Viewers with the same key see the same count of this view: staff of one role see the
    same tickets (`access.visibility_class`), and a filter that says `me` is each viewer's own."""
    try:
        mine = viewer.id if depends_on_viewer(view.ticket_filter_value) else None
    except BadRequest:
        mine = viewer.id
    return (view.pk, view.ticket_filter, access.visibility_class(viewer), mine)


async def view_counts(viewer: Viewer, views: Sequence[ViewRow]) -> dict[int, int]:
    """The views' counts for the viewer (views whose filter no longer reads left out)."""
    found = {v.pk: tickets_count(viewer, v) for v in views}
    usable = [(pk, c) for pk, c in found.items() if c is not None]
    totals = await count_all([c for _, c in usable])
    return {pk: total for (pk, _), total in zip(usable, totals, strict=True)}


async def counts_by_filter(context: Context, keys: Sequence[str]) -> list[int | None]:
    """Batch function: the count of each stored filter (a view's `ticket_filter` text) for
    the viewer, all in one statement; None for a filter that no longer reads."""
    viewer = context.require_viewer()
    counts: list[Count | None] = []
    for text in keys:
        try:
            where = build_where(viewer, filter_of(json.loads(text)))
        except BadRequest:
            counts.append(None)
            continue
        condition, params = where.part
        counts.append((f"SELECT COUNT(*) FROM ticket t WHERE {condition}", params))
    totals = iter(await count_all([c for c in counts if c is not None]))
    return [None if c is None else next(totals) for c in counts]
