"""Raw SQL for the hot paths (bulk writes), written once for PostgreSQL and SQLite."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

# A placeholder is a `?` outside string literals ('…', '' inside) and quoted identifiers ("…").
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


def dialect(conn: BaseDBAsyncClient) -> str:
    return str(conn.capabilities.dialect)


def q(conn: BaseDBAsyncClient, sql: str) -> str:
    """Write SQL with `?` placeholders; PostgreSQL gets `$1, $2, …`."""
    if dialect(conn) != "postgres":
        return sql
    return _numbered(sql)


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """`?` → `$1, $2, …`, leaving a `?` inside a string literal or a quoted identifier alone."""
    counter = iter(range(1, 1_000_000))
    return _TOKEN.sub(lambda m: f"${next(counter)}" if m.group() == "?" else m.group(), sql)


async def execute(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement; returns the number of rows it changed."""
    rows, _ = await conn.execute_query(q(conn, sql), list(params))
    return int(rows)


async def fetch(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.execute_query_dict(q(conn, sql), list(params))]


async def execute_many(conn: BaseDBAsyncClient, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await conn.execute_many(q(conn, sql), [list(r) for r in rows])


async def claim_writer(conn: BaseDBAsyncClient) -> None:
    """Take SQLite's write lock first thing in a transaction (a no-op elsewhere).

    tortoise opens SQLite transactions with a deferred BEGIN; in WAL mode a transaction that has
    read and then tries to write after another connection committed fails at once with "database
    is locked" (busy_timeout cannot help). A write as the first statement waits for the lock instead.
    """
    if dialect(conn) == "sqlite":
        await conn.execute_query("UPDATE queue SET version = version WHERE 1 = 0")
