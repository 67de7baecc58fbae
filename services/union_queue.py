"""工会排队 batch handler: completed orders feed the pool and join; the daily settlement pays in
full in position order, streamed in chunks (UQ-1..UQ-4)."""

from __future__ import annotations

from typing import Any

from domain import union_queue as uq
from domain.errors import DomainError
from domain.money import to_fen
from services.batch import Batch, Item
from services.model_settings import load_settings
from services.per_order import order_facts
from store import jobs
from store import union_queue as store

DAILY_SETTLEMENT = "union_queue.daily_settlement"
CHUNK = 5000  # entitlements per transaction of a daily settlement


async def settle_union_queue(batch: Batch) -> None:
    settings: uq.UnionQueueSettings = await load_settings("union_queue", batch.conn)
    orders = await order_facts(batch)
    touched: dict[str, uq.UEntitlement] = {}
    head_from = batch.head  # no entitlement before this position waits (the head is searched from here)
    for item in batch.items:
        try:
            if item.type == DAILY_SETTLEMENT:
                finished, head_from = await _daily(batch, item, touched)
                if not finished:
                    batch.resume_at = item.id
                    break
            elif (facts := _taking_part(orders, item, settings)) is not None and item.type == "order.completed":
                await _completed(batch, settings, item, facts, touched)
            elif facts is not None and item.type == "order.refunded" and item.payload.get("line") is None:
                for e in await store.by_order(batch.conn, facts.id):
                    e = touched.setdefault(e.key, e)
                    batch.post(uq.cancel(e), item)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    await _persist(batch, touched, head_from)


def _taking_part(orders: dict[str, Any], item: Item, settings: uq.UnionQueueSettings) -> Any:
    facts = orders.get(str(item.payload.get("order")))
    return facts.taking_part(settings.excluded_products) if facts is not None else None


async def _completed(batch: Batch, settings: uq.UnionQueueSettings, item: Item, o: Any, touched: dict[str, uq.UEntitlement]) -> None:
    contribution, postings = uq.contribute(o.id, o.profit, settings)
    batch.pool += contribution
    entitlement, joined = uq.join(o.id, o.member, o.amount, batch.tail, settings)
    if entitlement is not None:
        batch.tail = entitlement.position
        touched[entitlement.key] = entitlement
    if o.referrer is not None and contribution > 0 and settings.acceleration_ratio > 0:
        oldest = await store.oldest_waiting(batch.conn, o.referrer)
        target = next((touched[e.key] for e in oldest if e.key in touched), oldest[0] if oldest else None)
        if target is not None and uq.accelerate(target, contribution, settings) > 0:
            touched[target.key] = target
    batch.post(postings + joined, item)


async def _daily(batch: Batch, item: Item, touched: dict[str, uq.UEntitlement]) -> tuple[bool, int]:
    """One chunk of the day's settlement: whether the day is finished, and the position the head
    is at or after once this chunk is written. Progress (cursor, whether boosts are paid) lives in
    job_run, written in the same fenced transaction as the payouts.

    The chunk is read with one entitlement more than it settles: when the chunk pays all of its
    own, that one is where the head moves (and when there is none, the day is finished now
    rather than after reading an empty chunk). When the chunk stops, the head is the entitlement
    it stopped at. Either way the head's search starts at it, not at the old head (the chunk's
    paid entitlements are not scanned again)."""
    day = str(item.payload["day"])
    state = await _run_state(batch, day)
    run = uq.SettlementRun(day=day, pool=batch.pool, touched=touched)  # sees what this batch changed before it
    if not state["boosts_paid"]:
        boosted = await store.boosted_waiting(batch.conn)
        batch.post(uq.pay_boosts(run, boosted), item)
        state["boosts_paid"] = True
    if not touched and store.pays_in_sql(batch.conn):
        last, more, waiting = await _chunk_in_sql(batch, item, run, state["cursor"])
    else:
        last, more, waiting = await _chunk(batch, item, run, state["cursor"])
    batch.pool = run.pool
    state["cursor"] = last if last is not None else state["cursor"]
    state["paid_fen"] += to_fen(run.paid)
    state["paid_count"] += run.paid_count
    finished = run.stopped or not more
    await jobs.save_run(batch.conn, DAILY_SETTLEMENT, day, state, state["cursor"], finished)
    return finished, waiting if waiting is not None else state["cursor"] + 1


async def _chunk(batch: Batch, item: Item, run: uq.SettlementRun, cursor: int) -> tuple[int | None, bool, int | None]:
    """The chunk after `cursor` settled by the domain, its postings posted to the batch: the
    chunk's last position (None: empty), whether more wait after it, the first read still WAITING."""
    read = await store.waiting_after(batch.conn, cursor, CHUNK + 1)
    chunk = read[:CHUNK]
    postings, _ = uq.settle_batch(run, chunk)
    batch.post(postings, item)
    waiting = next((e.position for e in read if run.current(e).status is uq.Status.WAITING), None)
    return (chunk[-1].position if chunk else None), len(read) > CHUNK, waiting


async def _chunk_in_sql(batch: Batch, item: Item, run: uq.SettlementRun, cursor: int) -> tuple[int | None, bool, int | None]:
    """`_chunk` when nothing this batch changed is still unwritten: the domain decides on the
    chunk's remaining amounts, the store pays that range in one statement (PostgreSQL)."""
    read = await store.waiting_dues(batch.conn, cursor, CHUNK + 1)
    chunk = read[:CHUNK]
    count = run.paid_count
    through = uq.settle_dues(run, chunk)
    if through is not None:
        now = max(i.occurred_at for i in batch.items)
        paid = await store.pay_through(batch.conn, run.day, cursor, through, item.event_id, now)
        if len(paid) != run.paid_count - count:
            raise RuntimeError(f"union queue {run.day}: {len(paid)} entitlements paid where {run.paid_count - count} were due")
        batch.paid_out_many(paid.members, paid.fens, paid.keys, item, "pay")
    waiting = next((position for position, due in read if through is None or position > through or due <= 0), None)
    return (chunk[-1][0] if chunk else None), len(read) > CHUNK, waiting


async def _run_state(batch: Batch, day: str) -> dict[str, Any]:
    state = await jobs.run_state(batch.conn, DAILY_SETTLEMENT, day)
    if state is not None:
        return state
    # the day's scan starts at the head (nobody waits before it; what no longer waits is in no index)
    state = {"cursor": batch.head - 1, "boosts_paid": False, "paid_fen": 0, "paid_count": 0, "pool_start_fen": to_fen(batch.pool)}
    await jobs.start_run(batch.conn, DAILY_SETTLEMENT, day, state)
    return state


async def _persist(batch: Batch, touched: dict[str, uq.UEntitlement], head_from: int) -> None:
    await store.save_entitlements(batch.conn, touched.values(), max(i.occurred_at for i in batch.items))
    head = await store.waiting_head(batch.conn, head_from)
    batch.head = head if head is not None else batch.tail + 1
