"""Keyset pagination: `first` items after an opaque `after` cursor, with the next cursor."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from api.errors import coded
from domain.errors import ErrorCode

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_ROW_NUMBER = 2**63 - 1
_ROW_NUMBER = re.compile(r"[0-9]{1,19}")
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


def row_number(text: str) -> int | None:
    """A position or a row id as sent: ASCII digits fitting a BIGINT column (below 2^63); else None."""
    if not _ROW_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ROW_NUMBER else None


def int_cursor(after: str | None) -> int:
    """A cursor that is a position or an id (non-negative integer)."""
    if after is None:
        return 0
    number = row_number(after)
    if number is None:
        raise coded(ErrorCode.INVALID_INPUT, "after is not a cursor of this list")
    return number


def page(rows: Sequence[T], size: int, cursor_of: Callable[[T], str]) -> Connection[T]:
    """Build a page from `size + 1` fetched rows (the extra one only says there is more)."""
    items = list(rows[:size])
    end = cursor_of(items[-1]) if items else None
    return Connection(items=items, page_info=PageInfo(end_cursor=end, has_next_page=len(rows) > size))
