"""订单分红 batch handler: completed orders join the dividend queue; refunds leave it (OD-1..OD-4)."""

from __future__ import annotations

from domain import order_dividend as od
from domain.errors import DomainError
from services.batch import Batch, Item
from services.model_settings import load_settings
from services.per_order import OrderFacts, order_facts
from store import order_dividend as store


async def _load(batch: Batch, state: od.DividendState, status: str, count: int) -> list[od.DividendEntry]:
    after = state.waiting_loaded_upto if status == "WAITING" else 0
    return await store.load_entries(batch.conn, status, max(after, batch.head - 1), count)  # nothing before the head is outstanding


async def _more(batch: Batch, state: od.DividendState, count: int) -> None:
    loaded = await _load(batch, state, "WAITING", count)
    upto = loaded[-1].position if len(loaded) == count else state.db_tail
    state.add_loaded(loaded, upto)


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
        entry = await store.entry_by_order(batch.conn, o.id)
        if entry is not None:
            state.touched[o.id] = entry
    while isinstance(od.cancel_order(state, settings, o.id), od.NeedMore):
        await _more(batch, state, settings.slots + 8)


async def _persist(batch: Batch, state: od.DividendState) -> None:
    await store.save_entries(batch.conn, state.touched.values(), max(i.occurred_at for i in batch.items))
