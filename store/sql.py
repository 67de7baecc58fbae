"""Raw SQL for the hot paths (bulk writes), written once for PostgreSQL, SQLite and MySQL / MariaDB.

The SQL is written as PostgreSQL and SQLite share it: `?` placeholders, "quoted" identifiers,
`ON CONFLICT (…) DO NOTHING / DO UPDATE SET … excluded.col`. `q` turns it into the connection's
dialect. MySQL sessions run with ANSI_QUOTES (store/config.py), so "order" stays as written; `q`
gives it `%s` placeholders (and `%%` for a literal `%`), quotes the bare columns that MySQL
reserves (`key`, `cursor`), doubles backslashes in string literals, writes `CAST(… AS CHAR)` for
`CAST(… AS TEXT)`, and an upsert as `ON DUPLICATE KEY UPDATE` (`excluded.col` → `VALUES(col)`).
`RETURNING` is not in MySQL 8: callers that need ids back read them by their unique key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

# A placeholder is a `?` outside string literals ('…', '' inside) and quoted identifiers ("…").
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")
# MySQL: the tokens `q` rewrites (string literals and quoted identifiers are matched first, so
# nothing inside them is taken for a placeholder or a word).
_MYSQL_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%|\b(?:key|cursor)\b|\bAS TEXT\)")
_MYSQL_RESERVED = {"key", "cursor"}
_CONFLICT = re.compile(r"\s+ON CONFLICT \(([^)]*)\) DO (NOTHING|UPDATE SET (.*))$", re.S)


def dialect(conn: BaseDBAsyncClient) -> str:
    return str(conn.capabilities.dialect)


def q(conn: BaseDBAsyncClient, sql: str) -> str:
    """Write SQL with `?` placeholders; PostgreSQL gets `$1, $2, …`, MySQL its own dialect (above)."""
    kind = dialect(conn)
    if kind == "postgres":
        return _numbered(sql)
    if kind == "mysql":
        return _mysql(sql)
    return sql


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """`?` → `$1, $2, …`, leaving a `?` inside a string literal or a quoted identifier alone."""
    counter = iter(range(1, 1_000_000))
    return _TOKEN.sub(lambda m: f"${next(counter)}" if m.group() == "?" else m.group(), sql)


@lru_cache(maxsize=1024)
def _mysql(sql: str) -> str:
    conflict = _CONFLICT.search(sql)
    head = sql[:conflict.start()] if conflict else sql
    out = _MYSQL_TOKEN.sub(_mysql_token, head)
    if conflict is None:
        return out
    columns, action, updates = conflict.group(1), conflict.group(2), conflict.group(3)
    if action == "NOTHING":  # a no-op update of the key's first column: the row stays as it is
        first = _MYSQL_TOKEN.sub(_mysql_token, columns.split(",")[0].strip())
        return f"{out} ON DUPLICATE KEY UPDATE {first} = {first}"
    updates = re.sub(r"\bexcluded\.(\w+)", r"VALUES(\1)", updates)
    updates = re.sub(r"\b\w+\.(\w+)", r"\1", updates)  # `table.col` of the row already there → `col`
    return f"{out} ON DUPLICATE KEY UPDATE {_MYSQL_TOKEN.sub(_mysql_token, updates)}"


def _mysql_token(m: re.Match[str]) -> str:
    token = m.group()
    if token == "?":
        return "%s"
    if token == "%":
        return "%%"
    if token in _MYSQL_RESERVED:
        return f'"{token}"'
    if token == "AS TEXT)":
        return "AS CHAR)"
    if token.startswith("'"):
        return token.replace("\\", "\\\\").replace("%", "%%")
    return token


def values(conn: BaseDBAsyncClient, params: Sequence[Any]) -> list[Any]:
    """Parameters as the driver takes them: MySQL's DATETIME has no zone, so aware times are
    written as naive UTC (the session's zone, store/config.py)."""
    if dialect(conn) != "mysql":
        return list(params)
    return [p.astimezone(UTC).replace(tzinfo=None) if isinstance(p, datetime) and p.tzinfo is not None else p for p in params]


async def execute(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement; returns the number of rows it changed."""
    rows, _ = await conn.execute_query(q(conn, sql), values(conn, params))
    return int(rows)


async def fetch(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.execute_query_dict(q(conn, sql), values(conn, params))]


IN_CHUNK = 500  # values per IN list of `select_in` (within SQLite's and PostgreSQL's parameter limits)


async def select_in(conn: BaseDBAsyncClient, head: str, values: Iterable[Any], tail: str = "") -> list[dict[str, Any]]:
    """`head IN (values) tail`, in chunks of IN_CHUNK values; no values, no statement."""
    items = list(values)
    out: list[dict[str, Any]] = []
    for start in range(0, len(items), IN_CHUNK):
        chunk = items[start:start + IN_CHUNK]
        out += await fetch(conn, f"{head} IN ({', '.join('?' for _ in chunk)}){tail}", chunk)
    return out


async def fetch_rows(conn: BaseDBAsyncClient, sql: str, params: Sequence[Any] = ()) -> Sequence[Mapping[str, Any]]:
    """As `fetch`, but the driver's own rows (read by column name), not copied into dicts: for a large read."""
    _, rows = await conn.execute_query(q(conn, sql), values(conn, params))
    return rows


async def execute_many(conn: BaseDBAsyncClient, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await conn.execute_many(q(conn, sql), [values(conn, r) for r in rows])


COPY_ROWS = 100  # PostgreSQL: from this many rows on, `insert_rows` writes with COPY


async def insert_rows(conn: BaseDBAsyncClient, table: str, columns: Sequence[str] | Mapping[str, str], rows: Sequence[Sequence[Any]]) -> None:
    """Many rows into `table` in the connection's transaction. On PostgreSQL, from COPY_ROWS rows on,
    one binary COPY (asyncpg's `copy_records_to_table`); below that, when `columns` maps each name to
    its PostgreSQL type, one INSERT … SELECT FROM unnest(arrays), one array per column (one statement,
    and one firing of the table's statement triggers, where executemany runs both once a row).
    Else the driver's executemany of one INSERT. A unique or other constraint the rows break raises
    IntegrityError either way."""
    if not rows:
        return
    names = list(columns)
    if dialect(conn) == "postgres" and len(rows) >= COPY_ROWS:
        import asyncpg
        from tortoise.exceptions import IntegrityError

        async with conn.acquire_connection() as raw:  # the transaction's own asyncpg connection (or a pooled one outside it)
            try:
                await raw.copy_records_to_table(table, columns=names, records=rows)
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise IntegrityError(exc) from exc
        return
    if isinstance(columns, Mapping) and dialect(conn) == "postgres" and len(rows) > 1:
        arrays = [list(column) for column in zip(*rows, strict=True)]
        unnest = ", ".join(f"?::{t}[]" for t in columns.values())
        await execute(conn, f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({unnest})", arrays)
        return
    marks = ", ".join("?" for _ in names)
    await execute_many(conn, f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)


async def upsert_rows(conn: BaseDBAsyncClient, one: str, over_arrays: str, rows: Sequence[Sequence[Any]]) -> None:
    """`one` (a statement of one row's values) for each row; on PostgreSQL, for more than one row,
    `over_arrays` once instead: the same statement over one array per column (`unnest`, in the
    rows' order)."""
    if dialect(conn) == "postgres" and len(rows) > 1:
        await execute(conn, over_arrays, [list(column) for column in zip(*rows, strict=True)])
    else:
        await execute_many(conn, one, rows)


async def update_rows(conn: BaseDBAsyncClient, table: str, key: str, columns: dict[str, str], rows: Sequence[Sequence[Any]],
                      key_type: str = "bigint", keep_if_null: Collection[str] = ()) -> None:
    """Set `columns` (name → PostgreSQL type) of many rows found by `key` (of `key_type`); each
    row holds the columns' values in order, then the key's. A column of `keep_if_null` keeps its
    stored value where the row's is None. On PostgreSQL one UPDATE … FROM unnest(arrays), one
    array per column; else the driver's executemany of one UPDATE per row."""
    if not rows:
        return
    names = list(columns)

    def value(n: str, new: str, old: str) -> str:
        return f"COALESCE({new}, {old})" if n in keep_if_null else new

    if dialect(conn) != "postgres" or len(rows) == 1:
        await execute_many(conn, f"UPDATE {table} SET {', '.join(f'{n} = ' + value(n, '?', n) for n in names)} WHERE {key} = ?", rows)
        return
    arrays = [list(column) for column in zip(*rows, strict=True)]
    types = [*columns.values(), key_type]
    unnest = ", ".join(f"?::{t}[]" for t in types)
    await execute(conn, f"UPDATE {table} AS t SET {', '.join(f'{n} = ' + value(n, f'v.{n}', f't.{n}') for n in names)} "
                  f"FROM unnest({unnest}) AS v({', '.join(names)}, {key}) WHERE t.{key} = v.{key}", arrays)


async def claim_writer(conn: BaseDBAsyncClient) -> None:
    """Take SQLite's write lock first thing in a transaction (a no-op elsewhere).

    tortoise opens SQLite transactions with a deferred BEGIN; in WAL mode a transaction that has
    read and then tries to write after another connection committed fails at once with "database
    is locked" (busy_timeout cannot help). A write as the first statement waits for the lock instead.
    """
    if dialect(conn) == "sqlite":
        await conn.execute_query("UPDATE queue SET version = version WHERE 1 = 0")
