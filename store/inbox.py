"""Events and their inbox items (C-6, C-7): what intake records and the settlement works through."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store import db
from store.db import Connection
from store.models import Event
from store.sql import dialect, execute, execute_many, fetch

_ENCODE: Callable[[Any], str] = Event._meta.fields_map["payload"].encoder  # type: ignore[attr-defined]
INSERT_ITEM = "INSERT INTO inbox_item (queue_id, event_id, status, attempts, created_at) VALUES (?, ?, 'PENDING', 0, CURRENT_TIMESTAMP)"


async def pending_items(conn: Connection, queue_id: str, size: int) -> list[dict[str, Any]]:
    """The queue's next `size` PENDING items in inbox order, with their event's type, payload
    (decoded) and time (aware UTC)."""
    rows = await fetch(
        conn,
        "SELECT i.id AS id, i.event_id AS event_id, i.attempts AS attempts, e.type AS type, e.payload AS payload, e.occurred_at AS occurred_at "
        "FROM inbox_item i JOIN event e ON e.id = i.event_id WHERE i.queue_id = ? AND i.status = 'PENDING' ORDER BY i.id LIMIT ?",
        (queue_id, size),
    )
    return [{**r, "payload": _json(r["payload"]), "occurred_at": _when(r["occurred_at"])} for r in rows]


PENDING_ITEMS = (  # PostgreSQL: `pending_items` of each queue, through the (queue_id, status, id) index
    "SELECT q.id AS queue_id, x.* FROM unnest(?::text[]) AS q(id) CROSS JOIN LATERAL ("
    "SELECT i.id AS id, i.event_id AS event_id, i.attempts AS attempts, e.type AS type, e.payload AS payload, e.occurred_at AS occurred_at "
    "FROM inbox_item i JOIN event e ON e.id = i.event_id WHERE i.queue_id = q.id AND i.status = 'PENDING' ORDER BY i.id LIMIT ?) x"
)


async def pending_items_many(conn: Connection, queue_ids: Sequence[str], size: int) -> dict[str, list[dict[str, Any]]]:
    """`pending_items` of several queues, by queue id (on PostgreSQL in one statement)."""
    if dialect(conn) != "postgres":
        return {q: await pending_items(conn, q, size) for q in queue_ids}
    found: dict[str, list[dict[str, Any]]] = {q: [] for q in queue_ids}
    for r in await fetch(conn, PENDING_ITEMS, (list(queue_ids), size)):
        queue_id = r.pop("queue_id")
        found[queue_id].append({**r, "payload": _json(r["payload"]), "occurred_at": _when(r["occurred_at"])})
    return found


async def finish_items(conn: Connection, done: Sequence[int], failed: Mapping[int, str]) -> None:
    """Mark settled items DONE and refused ones FAILED with their error. On PostgreSQL the DONE ones
    in one statement (their ids as one array, found through the primary key), not one a row."""
    if dialect(conn) == "postgres" and len(done) > 1:
        await execute(conn, "UPDATE inbox_item SET status = 'DONE' WHERE id = ANY(?::bigint[])", (list(done),))
    else:
        await execute_many(conn, "UPDATE inbox_item SET status = 'DONE' WHERE id = ?", [(i,) for i in done])
    await execute_many(conn, "UPDATE inbox_item SET status = 'FAILED', error = ?, failed_at = CURRENT_TIMESTAMP WHERE id = ?", [(e, i) for i, e in failed.items()])


async def claim_head(conn: Connection, queue_id: str) -> dict[str, Any] | None:
    """The queue's first PENDING item (id, attempts, error) as it was, its attempts counted up by
    one: the count is committed before the batch runs, so a worker that dies in it leaves a trace."""
    rows = await fetch(conn, "SELECT id, attempts, error FROM inbox_item WHERE queue_id = ? AND status = 'PENDING' ORDER BY id LIMIT 1", (queue_id,))
    if not rows:
        return None
    await execute(conn, "UPDATE inbox_item SET attempts = attempts + 1 WHERE id = ?", (rows[0]["id"],))
    return rows[0]


CLAIM_HEAD = (  # PostgreSQL: the queue row NOWAIT (held by a settler: 55P03), its head item counted up, as it was
    "WITH q AS (SELECT id FROM queue WHERE id = ? FOR UPDATE NOWAIT), "
    "h AS (SELECT i.id, i.attempts, i.error FROM inbox_item i JOIN q ON i.queue_id = q.id WHERE i.status = 'PENDING' ORDER BY i.id LIMIT 1) "
    "UPDATE inbox_item u SET attempts = u.attempts + 1 FROM h WHERE u.id = h.id RETURNING h.id AS id, h.attempts AS attempts, h.error AS error"
)


async def claim_head_now(queue_id: str) -> dict[str, Any] | None:
    """`claim_head` as one statement committed by itself (PostgreSQL, see `claims_in_one_statement`),
    the queue row locked NOWAIT for it as `lock_queue` does (a settler holds it: `db.is_locked`)."""
    rows = await fetch(db.default(), CLAIM_HEAD, (queue_id,))
    return rows[0] if rows else None


CLAIM_HEADS = (  # PostgreSQL: `CLAIM_HEAD` of several queues, their rows NOWAIT in id order
    "WITH q AS (SELECT id FROM queue WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE NOWAIT), "
    "h AS (SELECT x.* FROM q CROSS JOIN LATERAL (SELECT i.id, i.queue_id, i.attempts, i.error FROM inbox_item i "
    "WHERE i.queue_id = q.id AND i.status = 'PENDING' ORDER BY i.id LIMIT 1) x) "
    "UPDATE inbox_item u SET attempts = u.attempts + 1 FROM h WHERE u.id = h.id "
    "RETURNING h.id AS id, h.queue_id AS queue_id, h.attempts AS attempts, h.error AS error"
)


async def claim_heads_now(queue_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`claim_head_now` of several queues in one statement (PostgreSQL), by queue id; a queue
    with nothing pending is left out; one of them held by a settler fails it all (`db.is_locked`)."""
    rows = await fetch(db.default(), CLAIM_HEADS, (sorted(queue_ids),))
    return {r.pop("queue_id"): r for r in rows}


def claims_in_one_statement() -> bool:
    return dialect(db.default()) == "postgres"


async def note_failure(conn: Connection, item_id: int, error: str, suspects: Sequence[int]) -> None:
    """A batch that began at `item_id` raised `error`: keep the error on it, and count one attempt
    on the batch's other items, so that each of them is settled alone next."""
    await execute(conn, "UPDATE inbox_item SET error = ? WHERE id = ?", (error, item_id))
    await execute_many(conn, "UPDATE inbox_item SET attempts = attempts + 1 WHERE id = ? AND status = 'PENDING'", [(i,) for i in suspects])


UNCLAIM = "UPDATE inbox_item SET attempts = attempts - 1 WHERE id = ? AND status = 'PENDING' AND attempts > 0"


async def unclaim(conn: Connection, item_id: int) -> None:
    """Take back the attempt `claim_head` counted, for a batch that did not run."""
    await execute(conn, UNCLAIM, (item_id,))


async def unclaim_many(conn: Connection, item_ids: Sequence[int]) -> None:
    """`unclaim` of several heads (a group of batches that did not run together)."""
    await execute_many(conn, UNCLAIM, [(i,) for i in sorted(item_ids)])


async def isolate(conn: Connection, item_id: int, attempts: int, error: str) -> bool:
    """The item is FAILED after `attempts`: the queue goes on without it (`retry_failed` puts it
    back). False: it was no longer PENDING."""
    return await execute(
        conn, "UPDATE inbox_item SET status = 'FAILED', attempts = ?, error = ?, failed_at = CURRENT_TIMESTAMP WHERE id = ? AND status = 'PENDING'",
        (attempts, error, item_id),
    ) == 1


async def failed_items(after: int, limit: int) -> list[dict[str, Any]]:
    """FAILED items in id order after the id `after`, with their event's key and type."""
    rows = await fetch(
        db.default(),
        "SELECT i.id AS id, i.queue_id AS queue_id, e.key AS event_key, e.type AS type, i.error AS error, i.attempts AS attempts, "
        "i.failed_at AS failed_at, e.occurred_at AS occurred_at FROM inbox_item i JOIN event e ON e.id = i.event_id "
        "WHERE i.status = 'FAILED' AND i.id > ? ORDER BY i.id LIMIT ?",
        (after, limit),
    )
    return [{**r, "failed_at": _when(r["failed_at"]) if r["failed_at"] is not None else None} for r in rows]


async def count_failed() -> int:
    rows = await fetch(db.default(), "SELECT COUNT(*) AS n FROM inbox_item WHERE status = 'FAILED'")
    return int(rows[0]["n"])


async def retry_failed(item_id: int) -> str | None:
    """A FAILED item back to PENDING with its attempts reset; returns its queue (None: no such FAILED item)."""
    async with db.writing() as conn:
        rows = await fetch(conn, "SELECT queue_id FROM inbox_item WHERE id = ? AND status = 'FAILED'", (item_id,))
        if not rows:
            return None
        await execute(conn, "UPDATE inbox_item SET status = 'PENDING', attempts = 0, error = NULL, failed_at = NULL WHERE id = ?", (item_id,))
        return str(rows[0]["queue_id"])


async def pending_queues() -> list[str]:
    """Queues with items still pending (the sweeper's work list)."""
    rows = await fetch(db.default(), "SELECT DISTINCT queue_id FROM inbox_item WHERE status = 'PENDING'")
    return [r["queue_id"] for r in rows]


async def event_by_key(scope: str, key: str, conn: Connection | None = None) -> Event | None:
    """The event of this key in this key scope (another scope's same key is another event)."""
    query = Event.get_or_none(scope=scope, key=key)
    return await (query.using_db(conn) if conn is not None else query)


async def record_event(conn: Connection, scope: str, key: str, digest: str, kind: str, payload: Mapping[str, Any], occurred_at: datetime, queues: Sequence[str]) -> int:
    """One event row (its key in key `scope`) and a PENDING inbox item per queue; returns the event's id."""
    event = await Event.create(scope=scope, key=key, digest=digest, type=kind, payload=dict(payload), occurred_at=occurred_at, using_db=conn)
    for q in queues:
        await execute(conn, INSERT_ITEM, (q, event.id))
    return int(event.id)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The stored form of a payload (what the ORM's JSON field writes)."""
    return _ENCODE(dict(payload))


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Backlog:
    """One queue's unfinished inbox items: how many are PENDING (and since when) and FAILED."""

    queue_id: str
    pending: int
    oldest_pending: datetime | None
    failed: int


async def backlog() -> list[Backlog]:
    """Per queue with PENDING or FAILED items (the metrics' view of the inbox)."""
    rows = await fetch(
        db.default(),
        "SELECT queue_id, status, COUNT(*) AS n, MIN(created_at) AS oldest FROM inbox_item WHERE status IN ('PENDING', 'FAILED') GROUP BY queue_id, status",
    )
    found: dict[str, Backlog] = {}
    for r in rows:
        q = found.get(r["queue_id"]) or Backlog(r["queue_id"], 0, None, 0)
        if r["status"] == "PENDING":
            q = Backlog(q.queue_id, int(r["n"]), _when(r["oldest"]), q.failed)
        else:
            q = Backlog(q.queue_id, q.pending, q.oldest_pending, int(r["n"]))
        found[q.queue_id] = q
    return [found[k] for k in sorted(found)]
