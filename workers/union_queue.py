"""工会排队 batch handler: completed orders feed the pool and join; the daily settlement pays in
full in position order, streamed in chunks (UQ-1..UQ-4)."""

from __future__ import annotations

from typing import Any

from domain import union_queue as uq
from domain.errors import DomainError
from domain.money import from_fen, to_fen
from services.catalog import load_settings
from store.sql import execute, execute_many, fetch
from workers.batch import Batch, Item
from workers.drain import handles
from workers.per_order import order_facts

DAILY_SETTLEMENT = "union_queue.daily_settlement"
CHUNK = 5000  # entitlements per transaction of a daily settlement
COLUMNS = "id, key, member_id, order_id, position, total_fen, received_fen, boost_fen, status"


def _entitlement(r: dict[str, Any]) -> uq.UEntitlement:
    return uq.UEntitlement(
        key=r["key"], member=r["member_id"], order=r["order_id"], position=int(r["position"]), total=from_fen(int(r["total_fen"])),
        received=from_fen(int(r["received_fen"])), boost=from_fen(int(r["boost_fen"])), status=uq.Status(r["status"]), db_id=int(r["id"]),
    )


async def _select(batch: Batch, where: str, params: tuple[Any, ...]) -> list[uq.UEntitlement]:
    rows = await fetch(batch.conn, f"SELECT {COLUMNS} FROM entitlement WHERE queue_id = 'uq' AND {where}", params)
    return [_entitlement(r) for r in rows]


@handles("uq")
async def settle_union_queue(batch: Batch) -> None:
    settings: uq.UnionQueueSettings = await load_settings("union_queue", batch.conn)
    orders = await order_facts(batch)
    touched: dict[str, uq.UEntitlement] = {}
    for item in batch.items:
        try:
            if item.type == DAILY_SETTLEMENT:
                if not await _daily(batch, item, touched):
                    batch.resume_at = item.id
                    break
            elif (facts := _taking_part(orders, item, settings)) is not None and item.type == "order.completed":
                await _completed(batch, settings, item, facts, touched)
            elif facts is not None and item.type == "order.refunded" and item.payload.get("line") is None:
                for e in await _select(batch, "model = 'union_queue' AND key = ?", (facts.id,)):
                    e = touched.setdefault(e.key, e)
                    batch.post(uq.cancel(e), item)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    await _persist(batch, touched)


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
        oldest = await _select(batch, "member_id = ? AND status = 'WAITING' ORDER BY position LIMIT 1", (o.referrer,))
        target = next((touched[e.key] for e in oldest if e.key in touched), oldest[0] if oldest else None)
        if target is not None and uq.accelerate(target, contribution, settings) > 0:
            touched[target.key] = target
    batch.post(postings + joined, item)


async def _daily(batch: Batch, item: Item, touched: dict[str, uq.UEntitlement]) -> bool:
    """One chunk of the day's settlement; True when the day is finished. Progress (cursor, whether
    boosts are paid) lives in job_run, written in the same fenced transaction as the payouts."""
    day = str(item.payload["day"])
    state = await _run_state(batch, day)
    run = uq.SettlementRun(day=day, pool=batch.pool)
    if not state["boosts_paid"]:
        boosted = await _select(batch, "boost_fen > 0 AND status = 'WAITING' ORDER BY position", ())
        batch.post(uq.pay_boosts(run, boosted), item)
        state["boosts_paid"] = True
    chunk = await _select(batch, "status = 'WAITING' AND position > ? ORDER BY position LIMIT ?", (state["cursor"], CHUNK))
    postings, stopped = uq.settle_batch(run, chunk)
    batch.post(postings, item)
    touched.update(run.touched)
    batch.pool = run.pool
    state["cursor"] = chunk[-1].position if chunk else state["cursor"]
    state["paid_fen"] += to_fen(run.paid)
    state["paid_count"] += run.paid_count
    finished = stopped or len(chunk) < CHUNK
    await execute(batch.conn, "UPDATE job_run SET state = ?, cursor = ?, status = ? WHERE job = ? AND day = ?",
                  (_json(state), state["cursor"], "DONE" if finished else "RUNNING", DAILY_SETTLEMENT, day))
    return finished


async def _run_state(batch: Batch, day: str) -> dict[str, Any]:
    rows = await fetch(batch.conn, "SELECT state FROM job_run WHERE job = ? AND day = ?", (DAILY_SETTLEMENT, day))
    if rows:
        import json

        value = rows[0]["state"]
        return dict(json.loads(value) if isinstance(value, (str, bytes)) else value)
    state = {"cursor": 0, "boosts_paid": False, "paid_fen": 0, "paid_count": 0, "pool_start_fen": to_fen(batch.pool)}
    await execute(batch.conn, "INSERT INTO job_run (job, day, status, cursor, state, started_at) VALUES (?, ?, 'RUNNING', 0, ?, CURRENT_TIMESTAMP)",
                  (DAILY_SETTLEMENT, day, _json(state)))
    return state


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


async def _persist(batch: Batch, touched: dict[str, uq.UEntitlement]) -> None:
    now = max(i.occurred_at for i in batch.items)
    await execute_many(
        batch.conn,
        "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, "
        "ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) "
        "VALUES (?, 'union_queue', 'uq', ?, ?, ?, 0, ?, ?, ?, TRUE, '0', 'union_queue.quota_ratio', 0, ?, '', '', ?)",
        [(e.key, e.position, e.member, e.order, to_fen(e.total), to_fen(e.received), e.status.value, to_fen(e.boost), now) for e in touched.values() if e.db_id is None],
    )
    await execute_many(
        batch.conn, "UPDATE entitlement SET received_fen = ?, boost_fen = ?, status = ? WHERE id = ?",
        [(to_fen(e.received), to_fen(e.boost), e.status.value, e.db_id) for e in touched.values() if e.db_id is not None],
    )
    head = await fetch(batch.conn, "SELECT MIN(position) AS head FROM entitlement WHERE queue_id = 'uq' AND status = 'WAITING' AND position >= ?", (batch.head,))
    batch.head = int(head[0]["head"]) if head and head[0]["head"] is not None else batch.tail + 1
