"""The one settlement mechanism every model shares (C-7, ADR 0002).

`drain_queue` holds the queue's Redis lock and settles its pending inbox items in bounded
batches. Each batch is one transaction that starts with a conditional UPDATE of the queue's
version (the fence): a job whose lock expired and that lost the race writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from tortoise import connections
from tortoise.exceptions import OperationalError, TransactionManagementError
from tortoise.transactions import in_transaction

from domain.money import from_fen, to_fen
from store.ledger import write_postings
from store.sql import claim_writer, execute, execute_many, fetch
from workers.batch import Batch, Item

log = logging.getLogger("rebate.worker")

BATCH_SIZE = 500
LOCK_TIMEOUT = 10  # seconds; renewed after every batch, so only a dead holder lets it lapse
Handler = Callable[[Batch], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


class FenceLost(Exception):
    """Another writer advanced the queue since this batch read it: nothing may be written."""


def handles(prefix: str) -> Callable[[Handler], Handler]:
    """Register a model's batch handler for the queues whose id starts with `prefix`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[prefix] = fn
        return fn

    return register


def handler_for(queue_id: str) -> Handler:
    import workers.handlers  # noqa: F401  (registers every model; imported late to avoid a cycle)

    return HANDLERS[queue_id.split(":", 1)[0]]


async def drain_queue(ctx: dict[str, Any], queue_id: str) -> int:
    """arq job: settle every pending item of one queue, batch after batch, under its lock."""
    redis: Redis = ctx["redis"]
    lock = redis.lock(f"rebate:lock:{queue_id}", timeout=LOCK_TIMEOUT, blocking_timeout=0.2)
    if not await lock.acquire():
        return 0  # the holder drains what is pending; the sweeper catches a late arrival
    settled = 0
    try:
        while done := await settle_batch(queue_id, ctx.get("publish")):
            settled += done
            await lock.reacquire()
        return settled
    finally:
        try:
            await lock.release()
        except Exception:
            log.warning("lock of %s expired before release", queue_id)


async def settle_batch(queue_id: str, publish: Callable[[str, list[dict[str, Any]], int], Awaitable[None]] | None = None, size: int = BATCH_SIZE) -> int:
    """One transaction: fence, load, decide, write. Returns how many items it settled (0: none pending)."""
    for attempt in range(5):
        try:
            batch = await _settle_once(queue_id, size)
            break
        except FenceLost:
            log.info("fence lost on %s: another writer settled it", queue_id)
            return 0
        except _NothingToDo:
            return 0
        except (OperationalError, TransactionManagementError) as exc:  # SQLite busy: retry
            if "locked" not in str(exc) and "busy" not in str(exc).lower():
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    else:
        raise RuntimeError(f"queue {queue_id}: database stayed busy")
    if batch is None:
        return 0
    if publish is not None and batch.payouts:
        await publish(queue_id, batch.payouts, batch.version + 1)
    return max(len(batch.finished), 1)  # a long item (a daily settlement) that moved on counts as progress


async def _settle_once(queue_id: str, size: int) -> Batch | None:
    async with in_transaction() as conn:
        await claim_writer(conn)
        rows = await fetch(conn, "SELECT head, tail, pool_fen, version FROM queue WHERE id = ?", (queue_id,))
        if not rows:
            return None
        row = rows[0]
        version = int(row["version"])
        if await execute(conn, "UPDATE queue SET version = version + 1 WHERE id = ? AND version = ?", (queue_id, version)) != 1:
            raise FenceLost(queue_id)
        items = await _pending(conn, queue_id, size)
        if not items:
            raise _NothingToDo()
        batch = Batch(conn, queue_id, int(row["head"]), int(row["tail"]), from_fen(int(row["pool_fen"])), version, items)
        await handler_for(queue_id)(batch)
        now = max(i.occurred_at for i in items)
        await write_postings(conn, batch.postings, queue_id, now)
        await _finish(conn, batch)
        return batch


class _NothingToDo(Exception):
    pass


async def _pending(conn: Any, queue_id: str, size: int) -> list[Item]:
    rows = await fetch(
        conn,
        "SELECT i.id AS id, i.event_id AS event_id, e.type AS type, e.payload AS payload, e.occurred_at AS occurred_at "
        "FROM inbox_item i JOIN event e ON e.id = i.event_id WHERE i.queue_id = ? AND i.status = 'PENDING' ORDER BY i.id LIMIT ?",
        (queue_id, size),
    )
    return [Item(int(r["id"]), int(r["event_id"]), r["type"], _json(r["payload"]), _when(r["occurred_at"])) for r in rows]


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else dict(value)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _finish(conn: Any, batch: Batch) -> None:
    """Queue state, fenced again on the version this batch set, and the items' outcome."""
    changed = await execute(
        conn, "UPDATE queue SET head = ?, tail = ?, pool_fen = ? WHERE id = ? AND version = ?",
        (batch.head, batch.tail, to_fen(batch.pool), batch.queue_id, batch.version + 1),
    )
    if changed != 1:
        raise FenceLost(batch.queue_id)
    done = [(i.id,) for i in batch.finished if i.id not in batch.failed]
    await execute_many(conn, "UPDATE inbox_item SET status = 'DONE' WHERE id = ?", done)
    await execute_many(conn, "UPDATE inbox_item SET status = 'FAILED', error = ? WHERE id = ?", [(e, i) for i, e in batch.failed.items()])


async def pending_queues() -> list[str]:
    """Queues with items still pending (the sweeper's work list)."""
    conn = connections.get("default")
    rows = await fetch(conn, "SELECT DISTINCT queue_id FROM inbox_item WHERE status = 'PENDING'")
    return [r["queue_id"] for r in rows]

