"""订单分红 batch handler: completed orders join the dividend queue; refunds leave it (OD-1..OD-4)."""

from __future__ import annotations

from typing import Any

from domain import order_dividend as od
from domain.errors import DomainError
from domain.money import from_fen, to_fen
from services.catalog import load_settings
from store.sql import execute_many, fetch
from workers.batch import Batch, Item
from workers.drain import handles
from workers.per_order import OrderFacts, order_facts

COLUMNS = "id, key, member_id, position, paid_fen, total_fen, received_fen, status"


def _entry(r: dict[str, Any]) -> od.DividendEntry:
    return od.DividendEntry(
        key=r["key"], member=r["member_id"], position=int(r["position"]), amount=from_fen(int(r["paid_fen"])),
        cap=from_fen(int(r["total_fen"])), received=from_fen(int(r["received_fen"])), status=od.Status(r["status"]), db_id=int(r["id"]),
    )


async def _load(batch: Batch, state: od.DividendState, status: str, count: int) -> list[od.DividendEntry]:
    after = state.waiting_loaded_upto if status == "WAITING" else 0
    rows = await fetch(
        batch.conn, f"SELECT {COLUMNS} FROM entitlement WHERE queue_id = 'od' AND status = ? AND position > ? ORDER BY position LIMIT ?",
        (status, after, count),
    )
    return [_entry(r) for r in rows]


async def _more(batch: Batch, state: od.DividendState, count: int) -> None:
    loaded = await _load(batch, state, "WAITING", count)
    upto = loaded[-1].position if len(loaded) == count else state.db_tail
    state.add_loaded(loaded, upto)


@handles("od")
async def settle_order_dividend(batch: Batch) -> None:
    settings: od.OrderDividendSettings = await load_settings("order_dividend", batch.conn)
    state = od.DividendState(pool=batch.pool, next_position=batch.tail + 1, db_tail=batch.tail)
    state.active = await _load(batch, state, "ACTIVE", 10_000)
    await _more(batch, state, settings.slots + 8)
    orders = await order_facts(batch)
    for item in batch.items:
        facts = orders.get(str(item.payload.get("order")))
        facts = facts.taking_part(settings.excluded_products) if facts is not None else None
        try:
            if facts is not None and item.type == "order.completed":
                await _completed(batch, state, settings, item, facts)
            elif facts is not None and item.type == "order.refunded" and item.payload.get("line") is None:
                await _refunded(batch, state, settings, facts)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    batch.pool, batch.tail = state.pool, state.next_position - 1
    head = state.active or list(state.waiting) or state.fresh
    batch.head = head[0].position if head else batch.tail + 1
    await _persist(batch, state)


async def _completed(batch: Batch, state: od.DividendState, settings: od.OrderDividendSettings, item: Item, o: OrderFacts) -> None:
    while isinstance(result := od.settle_completed_order(state, settings, o.id, o.member, o.referrer, o.amount), od.NeedMore):
        await _more(batch, state, settings.slots + 8)
    batch.post(result, item)


async def _refunded(batch: Batch, state: od.DividendState, settings: od.OrderDividendSettings, o: OrderFacts) -> None:
    """A refunded order still queued leaves the queue; what it received stays (docs/order_dividend.md)."""
    if state.find(o.id) is None:
        rows = await fetch(batch.conn, f"SELECT {COLUMNS} FROM entitlement WHERE model = 'order_dividend' AND key = ?", (o.id,))
        if rows:
            state.touched[o.id] = _entry(rows[0])
    while isinstance(od.cancel_order(state, settings, o.id), od.NeedMore):
        await _more(batch, state, settings.slots + 8)


async def _persist(batch: Batch, state: od.DividendState) -> None:
    now = max(i.occurred_at for i in batch.items)
    touched = list(state.touched.values())
    await execute_many(
        batch.conn,
        "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, "
        "ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) "
        "VALUES (?, 'order_dividend', 'od', ?, ?, ?, 0, ?, ?, ?, TRUE, '0', 'order_dividend.free_ratio', ?, 0, '', '', ?)",
        [(e.key, e.position, e.member, e.key, to_fen(e.cap), to_fen(e.received), e.status.value, to_fen(e.amount), now) for e in touched if e.db_id is None],
    )
    await execute_many(
        batch.conn, "UPDATE entitlement SET received_fen = ?, status = ? WHERE id = ?",
        [(to_fen(e.received), e.status.value, e.db_id) for e in touched if e.db_id is not None],
    )
