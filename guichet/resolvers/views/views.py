"""Saved views: who sees which, loading one for a viewer, and making, changing, deleting.

Who may see and change a view is `access` policy (`views_seen_condition`, `may_create_view`,
`may_change_view`). What a view shows is its filter, counted and paged by the ticket list's
own rules (`ticket_search`). A viewer's hiding and order of a view is their
`ViewPreference`, so light agents and people who may not change a shared view still arrange
their own list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from guichet.models.people import Role
from guichet.models.views import View, ViewPreference, ViewScope
from guichet.resolvers import access, ids, sql, topics
from guichet.resolvers.errors import (
    CommonErrorCode,
    Forbidden,
    NotFound,
    Refused,
    UserError,
    text_error,
)
from guichet.resolvers.omitted import OMITTED
from guichet.resolvers.tickets.ticket_search import TicketFilter, TicketSort, build_where
from guichet.resolvers.views import built_in
from guichet.resolvers.views.errors import ViewErrorCode
from guichet.resolvers.views.view_filters import (
    check_filter,
    columns_json,
    filter_json,
    filter_of,
    sort_json,
    sort_of,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

MAX_NAME = 200


@dataclass(slots=True)
class ViewRow:
    pk: int
    name: str
    scope: ViewScope
    owner_id: int | None
    group_id: int | None
    built_in_key: str | None
    ticket_filter: str
    sort_text: str
    columns_text: str
    position: int
    hidden: bool
    viewer_id: int  # whose list this row is from: position and hidden are theirs

    @property
    def id(self) -> str:
        return ids.encode("View", self.pk)

    @property
    def built_in(self) -> bool:
        return self.built_in_key is not None

    @property
    def filter(self) -> dict[str, Any]:
        return json.loads(self.ticket_filter)

    @property
    def sort(self) -> list[TicketSort]:
        return sort_of(self.sort_text)

    @property
    def columns(self) -> list[str]:
        return json.loads(self.columns_text)

    @property
    def ticket_filter_value(self) -> TicketFilter:
        """The filter as `ticket_search` takes it (BadRequest if it no longer reads)."""
        return filter_of(self.filter)


def _row(r: dict[str, Any]) -> ViewRow:
    return ViewRow(
        r["id"], r["name"], ViewScope(r["scope"]), r["owner_id"], r["group_id"], r["built_in"],
        r["ticket_filter"], r["sort"], r["columns"], int(r["position"]), bool(r["hidden"]),
        r["viewer_id"],
    )  # fmt: skip


_COLUMNS = (
    "v.id, v.name, v.scope, v.owner_id, v.group_id, v.built_in, v.ticket_filter, v.sort,"
    " v.columns, COALESCE(p.position, v.position) AS position,"
    " COALESCE(p.hidden, FALSE) AS hidden, u.id AS viewer_id"
)
_SEEN = (
    f'"view" v JOIN "user" u ON {access.views_seen_condition("v", "u")}'
    " LEFT JOIN view_preference p ON p.view_id = v.id AND p.user_id = u.id"
)
_LISTS = (
    sql.select(_COLUMNS, from_=_SEEN)
    .where(sql.among("u.id"))
    .order("u.id", "COALESCE(p.position, v.position)", "v.id")
)
_ONE = sql.select(_COLUMNS, from_=_SEEN).where("u.id = ?", "v.id = ?")


async def views_of(viewer_pks: Sequence[int]) -> dict[int, list[ViewRow]]:
    """Each user's views (hidden ones included), in their order: one statement, plus the
    creation of the built-in views the first time."""
    rows = await _LISTS.fetch(list(viewer_pks))
    present = {r["built_in"] for r in rows if r["built_in"]}
    if viewer_pks and len(present) < len(built_in.BUILT_INS):
        if await built_in.ensure_built_ins(present):
            rows = await _LISTS.fetch(list(viewer_pks))
    found: dict[int, list[ViewRow]] = {pk: [] for pk in viewer_pks}
    for r in rows:
        found[r["viewer_id"]].append(_row(r))
    return found


async def viewer_views(context: Context, *, include_hidden: bool = False) -> list[ViewRow]:
    """The viewer's views in their order: their personal ones, their groups', the shared and
    built-in ones; hidden ones only when asked."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.LIGHT_AGENT)
    rows = (await views_of([viewer.id]))[viewer.id]
    return rows if include_hidden else [r for r in rows if not r.hidden]


async def view_for_viewer(context: Context, pk: int) -> ViewRow:
    """One view the viewer sees; NotFound alike for a missing one and another's."""
    viewer = context.require_viewer()
    rows = await _ONE.fetch(viewer.id, pk)
    if not rows:
        raise NotFound("No such view.")
    return _row(rows[0])


def usable_filter(viewer: Viewer, row: ViewRow) -> TicketFilter:
    """The view's filter, once the ticket list accepts it (BadRequest if it no longer does)."""
    chosen = row.ticket_filter_value
    build_where(viewer, chosen)
    return chosen


# ---------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class NewView:
    name: str
    scope: ViewScope
    filter: TicketFilter
    group_id: str | None = None
    sort: Sequence[TicketSort] | None = None
    columns: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class ViewChanges:
    id: str
    name: Any = OMITTED
    filter: Any = OMITTED
    sort: Any = OMITTED
    columns: Any = OMITTED
    position: Any = OMITTED
    hidden: Any = OMITTED


def _refuse(code: str, message: str, *path: str) -> Refused:
    return Refused(UserError(message, code, ["input", *path]))


async def _member_of(viewer: Viewer, group_pk: int | None) -> bool:
    if group_pk is None:
        return False
    found = await sql.fetch(
        "SELECT 1 AS found FROM group_member WHERE group_id = $1 AND user_id = $2",
        group_pk,
        viewer.id,
    )
    return bool(found)


async def _announce(context: Context, pk: int) -> None:
    """After commit: live view counts (subscriptions/view_counts.py) list views anew."""
    if context.bus is not None:
        await context.bus.publish(topics.view_counts_changed(), {"view": pk})


def _checked_name(name: str) -> str:
    if error := text_error(name, ["input", "name"], max_length=MAX_NAME):
        raise Refused(error)
    return name.strip()


async def create_view(context: Context, new: NewView) -> ViewRow:
    viewer = context.require_viewer()
    access.require_role(viewer, Role.AGENT)
    name = _checked_name(new.name)
    group_pk = None
    if new.scope is ViewScope.GROUP:
        if not new.group_id:
            raise _refuse(ViewErrorCode.GROUP_REQUIRED, "A GROUP view needs groupId.", "groupId")
        group_pk = ids.decode_as(new.group_id, "Group")
        active = group_pk and await sql.fetch(
            'SELECT 1 AS found FROM "group" WHERE id = $1 AND active = TRUE', group_pk
        )
        if not active:
            raise _refuse(CommonErrorCode.NOT_FOUND, "No active group has this id.", "groupId")
    if not access.may_create_view(viewer, new.scope, await _member_of(viewer, group_pk)):
        raise _refuse(
            ViewErrorCode.NOT_ALLOWED,
            f"Your role or groups do not allow a {new.scope.value} view.",
            "scope",
        )
    await check_filter(viewer, new.filter)
    columns = columns_json(new.columns)
    async with in_transaction():
        last = await sql.fetch('SELECT COALESCE(MAX(position), 0) AS last FROM "view"')
        view = await View.create(
            name=name,
            scope=new.scope,
            owner_id=viewer.id,
            group_id=group_pk,
            ticket_filter=filter_json(new.filter),
            sort=sort_json(new.sort),
            columns=columns,
            position=int(last[0]["last"]) + 1,
        )
    await _announce(context, view.id)
    return await view_for_viewer(context, view.id)


def _wants_definition(changes: ViewChanges) -> bool:
    return any(
        getattr(changes, name) is not OMITTED for name in ("name", "filter", "sort", "columns")
    )


async def update_view(context: Context, changes: ViewChanges) -> ViewRow:
    """Definition changes (name, filter, sort, columns) by whoever may change the view;
    `position` and `hidden` are the viewer's own arrangement, for anyone who sees it."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.LIGHT_AGENT)
    row = await view_for_viewer(context, ids.decode_as(changes.id, "View") or 0)
    if _wants_definition(changes):
        if row.built_in:
            raise _refuse(ViewErrorCode.BUILT_IN, "Built-in views can be hidden or moved only.")
        member = await _member_of(viewer, row.group_id)
        if not access.may_change_view(viewer, row.scope, row.owner_id, member, row.built_in):
            raise _refuse(ViewErrorCode.NOT_ALLOWED, "You may hide or move this view only.")
    definition: dict[str, Any] = {}
    if changes.name is not OMITTED:
        definition["name"] = _checked_name(changes.name or "")
    if changes.filter is not OMITTED:
        if changes.filter is None:
            raise _refuse(CommonErrorCode.REQUIRED, "A view needs a filter.", "filter")
        await check_filter(viewer, changes.filter)
        definition["ticket_filter"] = filter_json(changes.filter)
    if changes.sort is not OMITTED:
        definition["sort"] = sort_json(changes.sort)
    if changes.columns is not OMITTED:
        definition["columns"] = columns_json(changes.columns)
    arrangement: dict[str, Any] = {}
    if changes.hidden is not OMITTED and changes.hidden is not None:
        arrangement["hidden"] = changes.hidden
    if changes.position is not OMITTED:
        arrangement["position"] = changes.position
    async with in_transaction():
        if definition:
            await View.filter(id=row.pk).update(**definition)
        if arrangement:
            preference, _ = await ViewPreference.get_or_create(view_id=row.pk, user_id=viewer.id)
            await ViewPreference.filter(id=preference.id).update(**arrangement)
    await _announce(context, row.pk)
    return await view_for_viewer(context, row.pk)


async def delete_view(context: Context, view_id: str) -> ViewRow:
    """Delete a view (not a built-in one): whoever may change it. Answers it as it was."""
    viewer = context.require_viewer()
    if not viewer.at_least(Role.AGENT):
        raise Forbidden()
    row = await view_for_viewer(context, ids.decode_as(view_id, "View") or 0)
    if row.built_in:
        raise _refuse(ViewErrorCode.BUILT_IN, "Built-in views cannot be deleted; hide them.")
    member = await _member_of(viewer, row.group_id)
    if not access.may_change_view(viewer, row.scope, row.owner_id, member, row.built_in):
        raise _refuse(ViewErrorCode.NOT_ALLOWED, "You may not delete this view.")
    async with in_transaction():
        await View.filter(id=row.pk).delete()
    await _announce(context, row.pk)
    return row
