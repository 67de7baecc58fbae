"""Keyset pagination: `first` items after an opaque `after` cursor, with the next cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from api.errors import coded
from domain.errors import ErrorCode

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 200


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class Connection(Generic[T]):
    """A page of items in a stable order; pass `pageInfo.endCursor` as `after` for the next one."""

    items: list[T]
    page_info: PageInfo


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise coded(ErrorCode.INVALID_INPUT, f"first must be within 1..{MAX_PAGE}")
    return size


def int_cursor(after: str | None) -> int:
    """A cursor that is a position or an id (non-negative integer)."""
    if after is None:
        return 0
    if not after.isdigit():
        raise coded(ErrorCode.INVALID_INPUT, f"after is not a cursor of this list: {after!r}")
    return int(after)


def page(rows: Sequence[T], size: int, cursor_of: Callable[[T], str]) -> Connection[T]:
    """Build a page from `size + 1` fetched rows (the extra one only says there is more)."""
    items = list(rows[:size])
    end = cursor_of(items[-1]) if items else None
    return Connection(items=items, page_info=PageInfo(end_cursor=end, has_next_page=len(rows) > size))
