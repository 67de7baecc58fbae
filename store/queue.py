"""Queue rows (C-7): head, tail, pool and the version that fences each settlement batch, plus the
model's own per-queue state (JSON)."""

from __future__ import annotations

import json
from typing import Any

from store.db import Connection
from store.sql import dialect, execute, fetch


async def read_queue(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """head, tail, pool_fen and version of a queue (None: no such queue)."""
    rows = await fetch(conn, "SELECT head, tail, pool_fen, version FROM queue WHERE id = ?", (queue_id,))
    return rows[0] if rows else None


async def lock_queue(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """As `read_queue`, inside a settlement transaction: on PostgreSQL the row is locked with
    NOWAIT, so a settler that finds the queue held fails at once (`db.is_locked`) instead of
    queueing behind the holder; on SQLite the transaction already holds the one write lock."""
    sql = "SELECT head, tail, pool_fen, version FROM queue WHERE id = ?"
    rows = await fetch(conn, sql + (" FOR UPDATE NOWAIT" if dialect(conn) == "postgres" else ""), (queue_id,))
    return rows[0] if rows else None


async def lock_and_advance(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """`lock_queue` and `advance_version` at the start of a settlement batch: the row as it was
    (its version before the fence moved it), None when there is no such queue. On PostgreSQL in one
    statement: the row is taken NOWAIT and, held, cannot change between the read and the fence.
    Elsewhere two; a version another writer moved in between raises `Fenced`."""
    if dialect(conn) == "postgres":
        rows = await fetch(
            conn, "UPDATE queue SET version = version + 1 WHERE id = (SELECT id FROM queue WHERE id = ? FOR UPDATE NOWAIT) "
            "RETURNING head, tail, pool_fen, version - 1 AS version", (queue_id,),
        )
        return rows[0] if rows else None
    row = await lock_queue(conn, queue_id)
    if row is not None and not await advance_version(conn, queue_id, int(row["version"])):
        raise Fenced(queue_id)
    return row


class Fenced(Exception):
    """Another writer advanced the queue's version since this transaction read it."""


async def advance_version(conn: Connection, queue_id: str, version: int) -> bool:
    """The fence: version → version + 1, only if nobody advanced it since it was read."""
    return await execute(conn, "UPDATE queue SET version = version + 1 WHERE id = ? AND version = ?", (queue_id, version)) == 1


async def save_position(conn: Connection, queue_id: str, head: int, tail: int, pool_fen: int, version: int) -> bool:
    """head, tail and pool, fenced on the version the batch set; False: another writer won."""
    return await execute(
        conn, "UPDATE queue SET head = ?, tail = ?, pool_fen = ? WHERE id = ? AND version = ?", (head, tail, pool_fen, queue_id, version),
    ) == 1


async def load_state(conn: Connection, queue_id: str) -> dict[str, Any]:
    """The queue's model state (`queue.state`), {} when none."""
    rows = await fetch(conn, "SELECT state FROM queue WHERE id = ?", (queue_id,))
    value = rows[0]["state"] if rows else None
    if value is None:
        return {}
    return dict(json.loads(value) if isinstance(value, (str, bytes)) else value)


async def save_state(conn: Connection, queue_id: str, state: dict[str, Any], version: int) -> bool:
    """The queue's model state, fenced on the version the batch set; False: another writer won."""
    return await execute(conn, "UPDATE queue SET state = ? WHERE id = ? AND version = ?", (json.dumps(state), queue_id, version)) == 1
