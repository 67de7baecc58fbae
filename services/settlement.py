"""The one settlement mechanism every model shares (C-7, ADR 0002).

`settle_batch` settles a queue's pending inbox items in one bounded batch: one transaction that
starts with a conditional UPDATE of the queue's version (the fence), loads the batch, hands it to
the model's handler (which asks the domain) and writes postings and state. A job whose lock
expired and that lost the race writes nothing. The arq job holding the queue's lock is
`workers.main.drain_queue`; the intake side enqueues it with `enqueue_drains`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain.money import from_fen, to_fen
from services.appreciation import settle_appreciation
from services.batch import Batch, FenceLost, Item
from services.order_dividend import settle_order_dividend
from services.queue_rebate import settle_queue_rebate
from services.union_queue import settle_union_queue
from store import db, inbox
from store.inbox import pending_queues
from store.ledger import write_postings
from store.queue import advance_version, read_queue, save_position

log = logging.getLogger("rebate.worker")

BATCH_SIZE = 500
Handler = Callable[[Batch], Awaitable[None]]
HANDLERS: dict[str, Handler] = {  # queue id prefix → the model's batch handler (a new model registers here)
    "qr": settle_queue_rebate,
    "od": settle_order_dividend,
    "uq": settle_union_queue,
    "ca": settle_appreciation,
}


def handler_for(queue_id: str) -> Handler:
    return HANDLERS[queue_id.split(":", 1)[0]]


def drain_job_id(queue_id: str) -> str:
    return f"drain:{queue_id}"


async def enqueue_drains(redis: Any, queues: list[str], tick: str | None = None) -> None:
    """One drain job per queue; arq refuses a second with the same id while one is queued or
    running. The sweeper passes its tick, so a job stuck with a killed worker cannot block it."""
    for q in queues:
        job_id = drain_job_id(q) if tick is None else f"{drain_job_id(q)}:sweep:{tick}"
        await redis.enqueue_job("drain_queue", q, _job_id=job_id)


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
        except Exception as exc:  # SQLite busy: retry
            if not db.is_busy(exc):
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
    async with db.writing() as conn:
        row = await read_queue(conn, queue_id)
        if row is None:
            return None
        version = int(row["version"])
        if not await advance_version(conn, queue_id, version):
            raise FenceLost(queue_id)
        items = [Item(int(r["id"]), int(r["event_id"]), r["type"], r["payload"], r["occurred_at"]) for r in await inbox.pending_items(conn, queue_id, size)]
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


async def _finish(conn: db.Connection, batch: Batch) -> None:
    """Queue state, fenced again on the version this batch set, and the items' outcome."""
    if not await save_position(conn, batch.queue_id, batch.head, batch.tail, to_fen(batch.pool), batch.version + 1):
        raise FenceLost(batch.queue_id)
    await inbox.finish_items(conn, [i.id for i in batch.finished if i.id not in batch.failed], batch.failed)


__all__ = ["BATCH_SIZE", "HANDLERS", "FenceLost", "Handler", "drain_job_id", "enqueue_drains", "handler_for", "pending_queues", "settle_batch"]
