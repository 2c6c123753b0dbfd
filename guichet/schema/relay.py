"""Relay plumbing: the Node interface, connections, cursors and the page-size cap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from guichet.resolvers import ids
from guichet.resolvers.errors import BadRequest

# Every connection returns at most this many edges per page (`first`/`last` above it
# are refused); without `first`/`last` a page has DEFAULT_PAGE_SIZE edges.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")


@strawberry.interface(description="An object with a global id (opaque; use it as is).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many objects the whole list holds.")


def page_size(first: int | None, last: int | None = None) -> int:
    """The number of edges asked for, within 1..MAX_PAGE_SIZE."""
    asked = first if first is not None else last
    if asked is None:
        return DEFAULT_PAGE_SIZE
    if asked < 0:
        raise BadRequest("first and last must not be negative.")
    if asked > MAX_PAGE_SIZE:
        raise BadRequest(f"A page holds at most {MAX_PAGE_SIZE} items; ask for fewer.")
    return asked


def after_position(after: str | None) -> int:
    """The key an `after` cursor stands for (0 before the first item)."""
    if after is None:
        return 0
    position = ids.decode_cursor(after)
    if position is None:
        raise BadRequest("That cursor is not one this API gave out.")
    return position


def positions(offset: int) -> Callable[[Any], int]:
    """The `key` of `connection` for a page of a list counted from `offset`: 1-based positions."""
    counter = iter(range(offset + 1, offset + 10_000))
    return lambda _row: next(counter)


def connection(
    rows: Sequence[Any],
    total: int,
    *,
    key: Callable[[Any], int],
    has_next: bool,
    has_previous: bool,
) -> Connection[Any]:
    edges = [Edge(cursor=ids.encode_cursor(key(row)), node=row) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


def offset_connection(rows: Sequence[Any], total: int, offset: int) -> Connection[Any]:
    """A page of `total` items that starts after the first `offset` ones."""
    return connection(
        rows,
        total,
        key=positions(offset),
        has_next=offset + len(rows) < total,
        has_previous=offset > 0,
    )
