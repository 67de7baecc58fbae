"""The one settlement mechanism every model shares (C-7, ADR 0002).

`settle_batch` settles a queue's pending inbox items in one bounded batch: one transaction that
starts with a conditional UPDATE of the queue's version (the fence), loads the batch, hands it to
the model's handler (which asks the domain) and writes postings and state. A job whose lock
expired and that lost the race writes nothing. The transaction is bounded (`db.settling`, the
queue row read NOWAIT): a settler that finds the queue held returns 0 at once. Before it, the head
item's attempts are counted (committed), so an item whose batch keeps raising, or keeps killing
its worker, is settled alone and then isolated as FAILED, and the queue goes on past it
(docs/operations.md). The arq job holding the queue's lock is `workers.main.drain_queue`; the
intake side enqueues it with `enqueue_drains`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from domain.ledger import Posting
from domain.money import from_fen, to_fen
from services import metrics
from services.appreciation import settle_appreciation
from services.batch import Batch, FenceLost, Item
from services.distribution import settle_distribution
from services.model_settings import read_once
from services.order_dividend import settle_order_dividend
from services.points_dividend import settle_points_dividend
from services.queue_rebate import finish_queue_rebate, prepare_queue_rebate, settle_queue_rebate
from services.union_queue import settle_union_queue
from store import db, inbox
from store.inbox import pending_queues
from store.ledger import transfer_rows, write_transfers
from store.queue import Fenced, lock_and_advance, lock_and_advance_many, lock_queue, save_positions

log = logging.getLogger("rebate.worker")

BATCH_SIZE = 500
MAX_ATTEMPTS = 3  # an item that raised is tried this often (alone, one sweep apart) before it is FAILED
CRASH_ATTEMPTS = 8  # batches begun at an item that never reported back (the worker died) before it is FAILED
FAILED_ITEMS = Counter("rebate_settlement_failed_items_total", "Inbox items isolated as FAILED after their settlement kept raising")
Handler = Callable[[Batch], Awaitable[None]]
HANDLERS: dict[str, Handler] = {  # queue id prefix → the model's batch handler (a new model registers here)
    "qr": settle_queue_rebate,
    "od": settle_order_dividend,
    "uq": settle_union_queue,
    "dr": settle_distribution,
    "pd": settle_points_dividend,
    "ca": settle_appreciation,
}


PREPARE: dict[str, Callable[[list[Batch]], Awaitable[None]]] = {  # queue id prefix → what reads a transaction's batches of the model at once
    "qr": prepare_queue_rebate,
}
FINISH: dict[str, Callable[[list[Batch]], Awaitable[None]]] = {  # queue id prefix → what writes what its prepared batches left for the end
    "qr": finish_queue_rebate,
}


def handler_for(queue_id: str) -> Handler:
    return HANDLERS[queue_id.split(":", 1)[0]]


def drain_job_id(queue_id: str) -> str:
    return f"drain:{queue_id}"


READY = "rebate:drain:ready"
"""Redis set of the queues that have items waiting for a drain: a hint (the inbox in the database is
the truth, and the sweeper finds what a lost hint leaves), so that a call reporting many orders
enqueues a job only for the queues not already waiting, and a running drain job takes the others."""
LOCK_PREFIX = "rebate:lock:"
"""A queue's Redis lock is this key + its id (`workers/locks.py`): a drain job holds it while it drains the queue."""
_MARK = (  # SADD each queue; returns those that were not marked yet and whose lock nobody holds
    "local fresh = {} for _, q in ipairs(ARGV) do "
    f"if redis.call('SADD', KEYS[1], q) == 1 and redis.call('EXISTS', '{LOCK_PREFIX}' .. q) == 0 then fresh[#fresh + 1] = q end end return fresh"
)


async def enqueue_drains(redis: Any, queues: list[str], tick: str | None = None) -> None:
    """Mark the queues ready and enqueue a drain job for each one that was not marked yet and is not
    held (a marked queue's job is queued or running, or a running job takes the mark; a held
    queue's drain takes its mark before it lets the queue go, in the same Redis step as the
    release: `workers.locks.QueueLocks.finish`); arq refuses a second job
    with the same id while one is queued or running. The sweeper passes its tick and enqueues one
    for every queue it names, so that neither a job stuck with a killed worker nor a stale mark
    can block it."""
    if tick is not None:
        for q in queues:
            await redis.enqueue_job("drain_queue", q, _job_id=f"{drain_job_id(q)}:sweep:{tick}")
        return
    if not queues:
        return
    for fresh in await redis.eval(_MARK, 1, READY, *queues):
        q = fresh.decode() if isinstance(fresh, bytes) else str(fresh)
        await redis.enqueue_job("drain_queue", q, _job_id=drain_job_id(q))


Publish = Callable[[str, list[dict[str, Any]], int, list[int]], Awaitable[None]]
"""After commit: the queue, the batch's payouts, the queue's new version, the settled events (tickets)."""


async def settle_batch(queue_id: str, publish: Publish | None = None, size: int = BATCH_SIZE) -> int:
    """Claim the head, then one transaction: fence, load, decide, write. Returns how many items it
    settled or isolated (0: none pending, the queue is held elsewhere, or the head failed again)."""
    return (await settle_next(queue_id, publish, size)).count


@dataclass(frozen=True, slots=True)
class Settled:
    """One batch's outcome: how many items it settled or isolated (as `settle_batch` returns), and
    whether the queue had more pending than the batch took (so a drain goes on without asking)."""

    count: int
    more: bool


async def settle_next(queue_id: str, publish: Publish | None = None, size: int = BATCH_SIZE) -> Settled:
    """`settle_batch`, telling whether more is pending: the batch reads one item beyond its size,
    so a drain knows from its last batch that the queue is empty (no second, empty batch)."""
    for attempt in range(5):
        head = None
        try:
            head = await _claim(queue_id)
            if head is None:
                return Settled(0, False)
            if _exhausted(head):
                await _isolate(queue_id, head)
                return Settled(1, True)
            batch, more = await _settle_once(queue_id, 1 if head["attempts"] else size)
            break
        except FenceLost:
            log.info("fence lost on %s: another writer settled it", queue_id)
            metrics.FENCE_LOST.labels(metrics.model_of(queue_id)).inc()
            await _unclaim(head)
            return Settled(0, False)
        except _NothingToDo:
            await _unclaim(head)
            return Settled(0, False)
        except _ItemFailed as failed:
            await _note(queue_id, failed)
            if len(failed.ids) > 1:  # not yet known which item: settle the batch's items one by one
                return await settle_next(queue_id, publish, size)
            return Settled(0, False)  # the same item again after the sweeper's next tick, until MAX_ATTEMPTS
        except Exception as exc:
            if db.is_locked(exc):
                log.info("queue %s is held by another settler: leaving it to the holder", queue_id)
                await _unclaim(head)
                return Settled(0, False)
            if not db.is_busy(exc):  # SQLite busy: retry
                raise
            metrics.DB_BUSY.labels(metrics.model_of(queue_id)).inc()
            await _unclaim(head)
            await asyncio.sleep(0.05 * (attempt + 1))
    else:
        raise RuntimeError(f"queue {queue_id}: database stayed busy")
    return await _committed(queue_id, batch, more, publish)


async def _committed(queue_id: str, batch: Batch | None, more: bool, publish: Publish | None) -> Settled:
    """After a batch's commit: its metrics and its messages."""
    if batch is None:
        return Settled(0, False)
    metrics.batch_committed(queue_id, [i.id for i in batch.finished], batch.failed)
    if publish is not None and (batch.payouts or batch.finished):
        await publish(queue_id, batch.payouts, batch.version + 1, sorted({i.event_id for i in batch.finished}))
    return Settled(max(len(batch.finished), 1), more)  # a long item (a daily settlement) that moved on counts as progress


async def settle_group(queue_ids: Sequence[str], publish: Publish | None = None, size: int = BATCH_SIZE) -> dict[str, Settled]:
    """`settle_next` of several queues (each under its own lock, which the caller holds) at about
    the fixed cost of one: their heads claimed in one statement (committed), then one transaction
    that fences every queue on its own row, settles each queue's batch in turn and commits once.
    A queue whose head is suspect (a batch of it failed or never came back) is settled alone, and
    so is every queue of a group whose transaction failed for any reason (a poison item, a lost
    fence, a held row): `settle_next` then finds which queue it was and deals with it as ever."""
    if len(queue_ids) < 2:
        return {q: await settle_next(q, publish, size) for q in queue_ids}
    try:
        heads = await _claim_many(queue_ids)
    except Exception as exc:
        if not (db.is_locked(exc) or db.is_busy(exc)):
            raise
        return {q: await settle_next(q, publish, size) for q in queue_ids}
    out = {q: Settled(0, False) for q in queue_ids if q not in heads}
    alone = sorted(q for q, head in heads.items() if head["attempts"])
    together = sorted(q for q in heads if q not in alone)
    done: dict[str, tuple[Batch, bool]] = {}
    try:
        done = await _settle_together(together, size) if together else {}
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("a group of %d queues goes queue by queue: %s: %s", len(together), type(exc).__name__, exc)
        alone += together
    await _unclaim_many([heads[q] for q in alone])  # settle_next claims them again
    for q in together:
        out[q] = await _committed(q, *done[q], publish) if q in done else Settled(0, False)  # not in done: no such queue row
    for q in sorted(alone):
        out[q] = await settle_next(q, publish, size)
    return out


async def _claim_many(queue_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`_claim` of several queues, by queue id (those with nothing pending are left out)."""
    if inbox.claims_in_one_statement():
        return await inbox.claim_heads_now(queue_ids)
    heads = {}
    async with db.settling() as conn:
        for q in sorted(queue_ids):
            if await lock_queue(conn, q) is not None and (head := await inbox.claim_head(conn, q)) is not None:
                heads[q] = head
    return heads


async def _unclaim_many(heads: list[dict[str, Any]]) -> None:
    if not heads:
        return
    try:
        async with db.settling() as conn:
            await inbox.unclaim_many(conn, [int(h["id"]) for h in heads])
    except Exception as exc:  # as `_unclaim`
        if not (db.is_locked(exc) or db.is_busy(exc)):
            raise


async def _settle_together(queue_ids: list[str], size: int) -> dict[str, tuple[Batch, bool]]:
    """One transaction: every queue fenced (its own row, in id order), then each queue's batch as
    `_settle_once` settles it, the settings read once; raises whatever one batch raised."""
    async with db.settling() as conn:
        with read_once(conn):
            try:
                rows = await lock_and_advance_many(conn, queue_ids)
            except Fenced:
                raise FenceLost(",".join(queue_ids)) from None
            found = await inbox.pending_items_many(conn, list(rows), size + 1)
            made = {q: _batch_of(conn, q, row, found[q], size) for q, row in rows.items()}
            batches = [batch for batch, _ in made.values()]
            await _per_model(PREPARE, batches)
            earlier: list[tuple[Posting, int | None]] = []
            for batch in batches:
                batch.earlier = list(earlier)
                await _decide(batch)
                earlier += batch.postings
            await _per_model(FINISH, batches)
            await _finish_all(conn, batches)
            return {q: (batch, beyond or batch.resume_at is not None) for q, (batch, beyond) in made.items()}


async def _per_model(hooks: dict[str, Callable[[list[Batch]], Awaitable[None]]], batches: list[Batch]) -> None:
    """Each model's hook (`PREPARE`, `FINISH`) on the transaction's batches of that model."""
    for prefix, hook in hooks.items():
        if mine := [b for b in batches if b.queue_id.split(":", 1)[0] == prefix]:
            await hook(mine)


async def _claim(queue_id: str) -> dict[str, Any] | None:
    """The head item before this attempt (its attempts counted up, committed); None: none pending."""
    if inbox.claims_in_one_statement():
        return await inbox.claim_head_now(queue_id)
    async with db.settling() as conn:
        if await lock_queue(conn, queue_id) is None:
            return None
        return await inbox.claim_head(conn, queue_id)


async def _unclaim(head: dict[str, Any] | None) -> None:
    """The batch did not run (another settler holds or settled the queue): take the attempt back."""
    if head is None:
        return
    try:
        async with db.settling() as conn:
            await inbox.unclaim(conn, int(head["id"]))
    except Exception as exc:  # held by the settler that is finishing it: then it is no longer PENDING
        if not (db.is_locked(exc) or db.is_busy(exc)):
            raise


def _exhausted(head: dict[str, Any]) -> bool:
    """MAX_ATTEMPTS failed batches of this item alone, or CRASH_ATTEMPTS batches that never came
    back (the worker died in them, or lost the queue to another settler)."""
    return int(head["attempts"]) >= (MAX_ATTEMPTS if head["error"] is not None else CRASH_ATTEMPTS)


async def _isolate(queue_id: str, head: dict[str, Any]) -> None:
    error = head["error"] or f"the worker did not come back from {head['attempts']} batches that began at this item"
    async with db.settling() as conn:
        if not await inbox.isolate(conn, int(head["id"]), int(head["attempts"]), error):
            return
    FAILED_ITEMS.inc()
    log.error("queue %s: item %s FAILED after %s attempts, the queue goes on without it: %s", queue_id, head["id"], head["attempts"], error)


async def _note(queue_id: str, failed: _ItemFailed) -> None:
    log.warning("queue %s: a batch of %d items from item %s failed: %s", queue_id, len(failed.ids), failed.ids[0], failed.error)
    async with db.settling() as conn:
        await inbox.note_failure(conn, failed.ids[0], failed.error, failed.ids[1:])


async def _settle_once(queue_id: str, size: int) -> tuple[Batch | None, bool]:
    """The batch, and whether items beyond it are pending (it reads one more than it takes)."""
    async with db.settling() as conn:
        try:
            row = await lock_and_advance(conn, queue_id)
        except Fenced:
            raise FenceLost(queue_id) from None
        if row is None:
            return None, False
        return await _run_batch(conn, queue_id, row, await inbox.pending_items(conn, queue_id, size + 1), size)


async def _run_batch(conn: db.Connection, queue_id: str, row: dict[str, Any], found: list[dict[str, Any]], size: int) -> tuple[Batch, bool]:
    """A fenced queue's batch from its pending items (`size` + 1 read): decide and write."""
    batch, beyond = _batch_of(conn, queue_id, row, found, size)
    await _decide(batch, finish=True)
    return batch, beyond or batch.resume_at is not None


def _batch_of(conn: db.Connection, queue_id: str, row: dict[str, Any], found: list[dict[str, Any]], size: int) -> tuple[Batch, bool]:
    """The batch of a fenced queue (its row as the fence read it), and whether items beyond it are pending."""
    rows = found[:1] + list(itertools.takewhile(lambda r: not r["attempts"], found[1:size]))  # a suspect item is settled alone
    items = [Item(int(r["id"]), int(r["event_id"]), r["type"], r["payload"], r["occurred_at"]) for r in rows]
    if not items:
        raise _NothingToDo()
    batch = Batch(conn, queue_id, int(row["head"]), int(row["tail"]), from_fen(int(row["pool_fen"])), int(row["version"]), items, state=row["state"])
    return batch, len(found) > len(rows)


async def _decide(batch: Batch, finish: bool = False) -> None:
    """The model's handler on the batch, and with `finish` its writes (in a transaction of several
    batches the writes that every batch makes are left to the caller: `_finish_all` of them all)."""
    await _pause_for_tests(batch.queue_id)
    try:
        await handler_for(batch.queue_id)(batch)
        if finish:
            await _finish_all(batch.conn, [batch])
    except (FenceLost, asyncio.CancelledError):
        raise
    except Exception as exc:
        if db.is_busy(exc) or db.is_locked(exc) or db.is_race(exc) or db.is_disconnect(exc):
            raise
        raise _ItemFailed([i.id for i in batch.items], f"{type(exc).__name__}: {exc}"[:2000]) from exc


async def _pause_for_tests(queue_id: str) -> None:
    """Test hook (REBATE_TEST_PAUSE_FILE): say "inside a batch" through that file and wait 3 s,
    so that a test can stop this process (SIGSTOP) while it holds the queue's transaction."""
    path = os.environ.get("REBATE_TEST_PAUSE_FILE")
    if path and not os.path.exists(path):
        with open(path, "w") as f:
            f.write(f"{os.getpid()} {queue_id}\n")
        await asyncio.sleep(3)


class _ItemFailed(Exception):
    """A batch raised for a reason of its own (not the fence, a busy database or a lost connection)."""

    def __init__(self, ids: list[int], error: str) -> None:
        super().__init__(error)
        self.ids, self.error = ids, error


class _NothingToDo(Exception):
    pass


async def _finish_all(conn: db.Connection, batches: list[Batch]) -> None:
    """The batches' queue state, each fenced again on the version its batch set, their items'
    outcome, and last their transfers: the accounts that every batch moves (the platform's) stay
    locked only from there to the commit. A transaction of several batches writes each of these
    in one statement for all of them."""
    if not await save_positions(conn, [(b.queue_id, b.head, b.tail, to_fen(b.pool), b.version + 1) for b in batches]):
        raise FenceLost(",".join(b.queue_id for b in batches))
    done = [i.id for b in batches for i in b.finished if i.id not in b.failed]
    await inbox.finish_items(conn, done, {i: error for b in batches for i, error in b.failed.items()})
    for b in batches:
        if b.resume_at is not None:  # a long item that made progress: this batch came back from it
            await inbox.unclaim(conn, b.resume_at)
    await write_transfers(conn, [row for b in batches for row in transfer_rows(b.postings, b.queue_id, max(i.occurred_at for i in b.items))])


__all__ = ["BATCH_SIZE", "HANDLERS", "LOCK_PREFIX", "READY", "FenceLost", "Handler", "Publish", "Settled", "drain_job_id", "enqueue_drains", "handler_for", "pending_queues",
           "settle_batch", "settle_group", "settle_next"]
