"""Queue rows (C-7): head, tail, pool and the version that fences each settlement batch, plus the
model's own per-queue state (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from store.db import Connection
from store.sql import dialect, execute, fetch


async def read_queue(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """head, tail, pool_fen and version of a queue (None: no such queue)."""
    rows = await fetch(conn, "SELECT head, tail, pool_fen, version FROM queue WHERE id = ?", (queue_id,))
    return rows[0] if rows else None


async def lock_queue(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """As `read_queue` (and the model's `state`), inside a settlement transaction: on PostgreSQL
    the row is locked with NOWAIT, so a settler that finds the queue held fails at once
    (`db.is_locked`) instead of queueing behind the holder; on SQLite the transaction already
    holds the one write lock."""
    sql = "SELECT head, tail, pool_fen, version, state FROM queue WHERE id = ?"
    rows = await fetch(conn, sql + (" FOR UPDATE NOWAIT" if dialect(conn) == "postgres" else ""), (queue_id,))
    return rows[0] if rows else None


async def lock_and_advance(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """`lock_queue` and `advance_version` at the start of a settlement batch: the row as it was
    (its version before the fence moved it, its state decoded), None when there is no such queue.
    On PostgreSQL in one statement: the row is taken NOWAIT and, held, cannot change between the
    read and the fence. Elsewhere two; a version another writer moved in between raises `Fenced`."""
    return (await lock_and_advance_many(conn, [queue_id])).get(queue_id)


LOCK_AND_ADVANCE = (  # PostgreSQL: the rows NOWAIT in id order, each fenced, as they were
    "UPDATE queue SET version = version + 1 WHERE id IN (SELECT id FROM queue WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE NOWAIT) "
    "RETURNING id, head, tail, pool_fen, version - 1 AS version, state"
)


async def lock_and_advance_many(conn: Connection, queue_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`lock_and_advance` of several queues (one settlement transaction for their batches), by
    queue id; a queue that does not exist is left out. On PostgreSQL one statement for all."""
    if dialect(conn) == "postgres":
        rows = await fetch(conn, LOCK_AND_ADVANCE, (sorted(queue_ids),))
        return {r["id"]: {**r, "state": _state(r["state"])} for r in rows}
    found = {}
    for queue_id in sorted(queue_ids):
        row = await lock_queue(conn, queue_id)
        if row is None:
            continue
        if not await advance_version(conn, queue_id, int(row["version"])):
            raise Fenced(queue_id)
        found[queue_id] = {**row, "state": _state(row["state"])}
    return found


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


SAVE_POSITIONS = (  # PostgreSQL: `save_position` of several queues, the queues written back
    "UPDATE queue q SET head = v.head, tail = v.tail, pool_fen = v.pool_fen "
    "FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS v(id, head, tail, pool_fen, version) "
    "WHERE q.id = v.id AND q.version = v.version RETURNING q.id"
)


async def save_positions(conn: Connection, positions: Sequence[tuple[str, int, int, int, int]]) -> bool:
    """`save_position` of several queues (queue, head, tail, pool_fen, version each), each fenced
    on its own version; False: another writer won one of them."""
    if dialect(conn) == "postgres":
        ordered = sorted(positions)
        return len(await fetch(conn, SAVE_POSITIONS, tuple(list(column) for column in zip(*ordered, strict=True)))) == len(ordered)
    return all([await save_position(conn, *p) for p in sorted(positions)])


async def load_state(conn: Connection, queue_id: str) -> dict[str, Any]:
    """The queue's model state (`queue.state`), {} when none."""
    rows = await fetch(conn, "SELECT state FROM queue WHERE id = ?", (queue_id,))
    return _state(rows[0]["state"] if rows else None)


def _state(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(json.loads(value) if isinstance(value, (str, bytes)) else value)


async def save_state(conn: Connection, queue_id: str, state: dict[str, Any], version: int) -> bool:
    """The queue's model state, fenced on the version the batch set; False: another writer won."""
    return await execute(conn, "UPDATE queue SET state = ? WHERE id = ? AND version = ?", (json.dumps(state), queue_id, version)) == 1
