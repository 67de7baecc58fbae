"""排队返利 batch handler: paid / completed / refunded lines of one queue, in inbox order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from domain import queue_rebate as qr
from domain.errors import DomainError
from domain.ledger import Asset, Wallet, member_account
from domain.money import from_fen, to_fen
from domain.queue_rebate_settings import Channel, PluginSettings, resolve_line
from services.catalog import load_settings
from services.intake import line_context
from store.models import Cashier, Product, Store
from store.sql import execute_many, fetch
from workers.batch import Batch, Item
from workers.drain import handles

WINDOW = 256
T = TypeVar("T")
ENTITLEMENT_COLUMNS = "id, key, member_id, order_id, line, queue_id, position, total_fen, received_fen, status, order_completed, ratio, ratio_source"


class Window:
    """Loads a queue's WAITING entitlements from the head, a chunk at a time, through the
    (queue_id, status, position) index: the cost follows what is paid, not the queue length."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.state = qr.QueueState(batch.queue_id, batch.pool, batch.head, batch.tail, loaded_upto=batch.head - 1, db_tail=batch.tail)
        self.known: dict[str, qr.Entitlement] = {}

    async def more(self, count: int = WINDOW) -> None:
        s = self.state
        rows = await fetch(
            self.batch.conn,
            f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE queue_id = ? AND status = 'WAITING' AND position > ? AND position <= ? "
            "ORDER BY position LIMIT ?",
            (s.queue_id, s.loaded_upto, s.db_tail, count),
        )
        loaded = [self.known.setdefault(r["key"], _entitlement(r)) for r in rows]
        upto = int(rows[-1]["position"]) if len(rows) == count else s.db_tail
        s.add_loaded(loaded, upto)

    async def until_done(self, step: Callable[[], T | qr.NeedMore]) -> T:
        """Run a domain step, loading more of the window whenever it asks for it."""
        while True:
            result = step()
            if not isinstance(result, qr.NeedMore):
                return result
            await self.more()

    async def get(self, key: str) -> qr.Entitlement | None:
        e = self.known.get(key) or self.state.find(key)
        if e is None:
            rows = await fetch(self.batch.conn, f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE model = 'queue_rebate' AND key = ?", (key,))
            if rows:
                e = self.known.setdefault(key, _entitlement(rows[0]))
        return e


def _entitlement(r: dict[str, Any]) -> qr.Entitlement:
    from decimal import Decimal

    return qr.Entitlement(
        key=r["key"], member=r["member_id"], order=r["order_id"], line=int(r["line"]), queue=r["queue_id"], position=int(r["position"]),
        total=from_fen(int(r["total_fen"])), received=from_fen(int(r["received_fen"])), status=qr.Status(r["status"]),
        order_completed=bool(r["order_completed"]), ratio=Decimal(r["ratio"]), ratio_source=r["ratio_source"], db_id=int(r["id"]),
    )


@handles("qr")
async def settle_queue_rebate(batch: Batch) -> None:
    plugin: PluginSettings = await load_settings("queue_rebate", batch.conn)
    window = Window(batch)
    await window.more()
    lines = await _lines(batch)
    catalog = await _Catalog.load(batch, lines)
    apply = {"order.paid": _paid, "order.completed": _completed, "order.refunded": _refunded}
    for item in batch.items:
        try:
            await apply[item.type](batch, window, plugin, item, lines.get(item.payload["order"], []), catalog)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    s = window.state
    batch.head, batch.tail, batch.pool = s.head, s.tail, s.pool
    await _persist(batch, window, lines)


async def _lines(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    orders = sorted({i.payload["order"] for i in batch.items})
    marks = ", ".join("?" for _ in orders)
    rows = await fetch(
        batch.conn, f"SELECT * FROM order_line WHERE queue_id = ? AND order_id IN ({marks}) ORDER BY order_id, \"index\"", (batch.queue_id, *orders)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["_dirty"] = False
        out.setdefault(r["order_id"], []).append(r)
    return out


class _Catalog:
    def __init__(self, products: dict[str, Product], stores: dict[str, Store], cashiers: dict[str, Cashier]) -> None:
        self.products, self.stores, self.cashiers = products, stores, cashiers

    @classmethod
    async def load(cls, batch: Batch, lines: dict[str, list[dict[str, Any]]]) -> _Catalog:
        product_ids = {r["product_id"] for rows in lines.values() for r in rows if r["product_id"]}
        stores = {i.payload.get("store") for i in batch.items if i.payload.get("store")}
        cashiers = {i.payload.get("cashier") for i in batch.items if i.payload.get("cashier")}
        products = {p.id: p for p in await Product.filter(id__in=product_ids).using_db(batch.conn)}
        stores |= {p.store_id for p in products.values() if p.store_id}
        return cls(
            products,
            {s.id: s for s in await Store.filter(id__in=stores).using_db(batch.conn)},
            {c.id: c for c in await Cashier.filter(id__in=cashiers).using_db(batch.conn)},
        )


async def _paid(batch: Batch, window: Window, plugin: PluginSettings, item: Item, lines: list[dict[str, Any]], catalog: _Catalog) -> None:
    """QR-3 for each line of the order in this queue, in line order; QR-6 decides the extraction."""
    p = item.payload
    rules = plugin.rules
    for r in lines:
        product = catalog.products.get(r["product_id"]) if r["product_id"] else None
        store_id = p.get("store")
        ln = {"paid": from_fen(int(r["paid_fen"])), "deduction": from_fen(int(r["deduction_fen"]))}
        ctx = line_context(
            f"{r['order_id']}:{r['index']}", p["member"], r["order_id"], int(r["index"]), Channel(p.get("channel", "MALL")), ln, product,
            catalog.stores.get((product.store_id if product and product.store_id else store_id) or ""), catalog.cashiers.get(p.get("cashier") or ""), store_id,
        )
        line = resolve_line(ctx, plugin)
        entitlement, postings = await window.until_done(lambda line=line: qr.settle_paid_line(window.state, line, rules))
        if entitlement is not None:
            entitlement.order_completed = False
            window.known[entitlement.key] = entitlement
        batch.post(postings, item)
        r.update(extraction_fen=to_fen(line.extraction), extracted=rules.settle_on is qr.SettleOn.ON_PAY and not rules.paused, _dirty=True)


async def _completed(batch: Batch, window: Window, plugin: PluginSettings, item: Item, lines: list[dict[str, Any]], catalog: _Catalog) -> None:
    """QR-7 marks the entitlement's order completed; under ON_COMPLETE the extraction runs now."""
    rules = plugin.rules
    for r in lines:
        key = f"{r['order_id']}:{r['index']}"
        e = await window.get(key)
        if e is not None and e.status is qr.Status.WAITING:
            qr.mark_order_completed(window.state, e)
        if r["extracted"] or r["cancelled"] or r["extraction_fen"] is None or rules.paused:
            continue
        line = qr.Line(key, "", r["order_id"], int(r["index"]), from_fen(int(r["paid_fen"])), from_fen(int(r["extraction_fen"])), False, from_fen(0), "")
        batch.post(await window.until_done(lambda line=line: qr.extract(window.state, line, rules)), item)
        r.update(extracted=True, _dirty=True)


async def _refunded(batch: Batch, window: Window, plugin: PluginSettings, item: Item, lines: list[dict[str, Any]], catalog: _Catalog) -> None:
    """QR-8: the line's entitlement is cancelled; an extraction that has not run never will."""
    wanted = item.payload.get("line")
    for r in lines:
        if r["cancelled"] or (wanted is not None and int(r["index"]) != wanted):
            continue
        e = await window.get(f"{r['order_id']}:{r['index']}")
        if e is not None:
            cash = await batch.balance(member_account(e.member, Wallet.CASH), Asset.CNY)
            batch.post(qr.cancel(window.state, e, plugin.rules, cash), item)
        r.update(cancelled=True, _dirty=True)


async def _persist(batch: Batch, window: Window, lines: dict[str, list[dict[str, Any]]]) -> None:
    now = max(i.occurred_at for i in batch.items)
    touched = window.state.touched.values()
    await execute_many(
        batch.conn,
        "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, ratio, ratio_source, "
        "paid_fen, boost_fen, lottery_source, scope_key, created_at) VALUES (?, 'queue_rebate', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?)",
        [(e.key, e.queue, e.position, e.member, e.order, e.line, to_fen(e.total), to_fen(e.received), e.status.value, e.order_completed, str(e.ratio), e.ratio_source,
          to_fen(e.paid), e.lottery_source, now)
         for e in touched if e.db_id is None],
    )
    await execute_many(
        batch.conn, "UPDATE entitlement SET received_fen = ?, status = ?, order_completed = ? WHERE id = ?",
        [(to_fen(e.received), e.status.value, e.order_completed, e.db_id) for e in touched if e.db_id is not None],
    )
    await execute_many(
        batch.conn, "UPDATE order_line SET extraction_fen = ?, extracted = ?, cancelled = ? WHERE id = ?",
        [(r["extraction_fen"], bool(r["extracted"]), bool(r["cancelled"]), r["id"]) for rows in lines.values() for r in rows if r["_dirty"]],
    )

