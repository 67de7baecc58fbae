"""What a queue rebate batch knows of the world, loaded through `store.queue_rebate` and handed to
the pure domain (QR-10, QR-11, QR-13, QR-20): the window of WAITING entitlements from the head, the
member's level (recorded on the order when it was paid, M-2), completed-order totals per cumulative
window (a SUM over at most N per-day rows of `member_spend_day`, kept by intake), entitlement
counts per limit scope (an indexed COUNT plus this batch's own), the payment's platform-local time
(C-9), and the products, stores and cashiers with their settings parsed once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from domain import queue_rebate as qr
from domain.queue_rebate_features import (
    MemberCounts,
)
from domain.queue_rebate_settings import (
    Channel,
    EntitySettings,
    LineContext,
    ProductInfo,
    Source,
    cumulative_scope,
    cumulative_windows,
    limit_scopes,
)
from services.batch import Batch, Item
from services.runtime import platform_zone
from store import queue_rebate as store
from store.db import Connection

WINDOW = 256  # entitlements a window loads when it needs more


def first_chunk(items: int) -> int:
    """The first chunk of a batch's window, read before it settles: about what `items` events pay
    at the head (a batch of single payments pays a few entitlements), not a whole WINDOW; a
    batch that needs more asks for it (`NeedMore`) and loads WINDOW at a time from there."""
    return min(WINDOW, 16 + 2 * items)


ORDER_EVENTS = ("order.paid", "order.completed", "order.refunded")
T = TypeVar("T")


class Window:
    """Loads a queue's WAITING entitlements from the head, a chunk at a time, through the
    (queue_id, position) index: the cost follows what is paid, not the queue length."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.first = batch.head  # the head as the batch found it: nobody waits before it
        self.state = qr.QueueState(batch.queue_id, batch.pool, batch.head, batch.tail, loaded_upto=batch.head - 1, db_tail=batch.tail)
        self.known: dict[str, qr.Entitlement] = {}
        self.created: dict[str, datetime] = {}  # key → created_at (UTC), of loaded and new entitlements

    def adopt(self, row: store.Loaded) -> qr.Entitlement:
        """The batch's one object for a stored entitlement (it may already have changed in this batch)."""
        e, created = row
        self.created.setdefault(e.key, created)
        return self.known.setdefault(e.key, e)

    async def more(self, count: int = WINDOW, rows: list[store.Loaded] | None = None) -> None:
        """The next `count` of the window (`rows`: those, read already with other queues' windows)."""
        s = self.state
        if rows is None:
            rows = await store.load_window(self.batch.conn, s.queue_id, s.loaded_upto, s.db_tail, count)
        loaded = [self.adopt(r) for r in rows]
        upto = rows[-1][0].position if len(rows) == count else s.db_tail
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
            row = await store.entitlement_by_key(self.batch.conn, key)
            if row is not None:
                e = self.adopt(row)
        return e


def scope_key(ctx: LineContext) -> str:
    """QR-13: the limit scope an entitlement counts in: "cashier:<store>" for cashier payments,
    "store:<store>" for a store's online lines, "product:<id>" for mall / product lines."""
    if ctx.channel is Channel.CASHIER:
        return f"cashier:{ctx.store}"
    scope = cumulative_scope(ctx)
    if scope != "mall":
        return scope
    assert ctx.product is not None
    return f"product:{ctx.product.id}"


@dataclass(slots=True)
class Fresh:
    """An entitlement earned in this batch, for the limit counts of later lines (QR-13)."""

    member: str
    scope: str
    product: str | None
    day: date


@dataclass
class Facts:
    """What the settings need to know of the world for one line (QR-10, QR-11, QR-13)."""

    batch: Batch
    levels: dict[str, str | None]  # order id → the member's level when it was paid (M-2)
    fresh: list[Fresh] = field(default_factory=list)
    totals: dict[tuple[str, str, int, datetime], Decimal] = field(default_factory=dict)

    @classmethod
    async def load(cls, batch: Batch) -> Facts:
        return cls(batch, await levels_of(batch.conn, batch.items))

    async def enrich(self, ctx: LineContext, when: datetime) -> LineContext:
        """M-2: the member's level recorded on the order when it was paid (a later change of the
        member's level does not touch it)."""
        local = when.astimezone(platform_zone())
        totals = {days: await self.cumulative(ctx, days, when) for days in cumulative_windows(ctx)}
        counts = {scope: await self.counts(ctx, scope, local) for scope in limit_scopes(ctx).values()}
        return replace(ctx, member_level=self.levels.get(ctx.order), cumulative_totals=totals,
                       local_time=local.replace(tzinfo=None), member_counts=counts)

    async def cumulative(self, ctx: LineContext, days: int, when: datetime) -> Decimal:
        """QR-11: the member's completed, unrefunded paid amounts in the line's scope (self-operated
        and supplier lines of mall orders, or the store's cashier and online orders), completed
        in the platform-local days (day of `when` - days, day of `when`]: a window of whole local
        days, ending with the day of payment. Intake keeps the per-day totals (`member_spend_day`),
        so this reads at most `days` rows whatever the number of orders in the window."""
        scope = cumulative_scope(ctx)
        cached = self.totals.get((ctx.member, scope, days, when))
        if cached is not None:
            return cached
        zone = platform_zone()
        first, last = (when - timedelta(days=days)).astimezone(zone).date().isoformat(), when.astimezone(zone).date().isoformat()
        total = self.totals[(ctx.member, scope, days, when)] = await store.spend_total(self.batch.conn, ctx.member, scope, first, last)
        return total

    async def counts(self, ctx: LineContext, scope: str, local: datetime) -> MemberCounts:
        """QR-13: the member's entitlements in a limit scope, earned today (local day) and ever,
        whatever their status now, plus those earned earlier in this batch."""
        own = scope_key(ctx)
        product = scope.split(":", 1)[1] if scope.startswith("product:") and own != scope else None
        start, end = _local_day(local)
        # a store product's line: its store's entitlements from lines of that product
        total, today = await store.scope_counts(self.batch.conn, ctx.member, own if product is not None else scope, product, start, end)
        mine = [f for f in self.fresh if f.member == ctx.member and (f.scope == scope if product is None else (f.scope == own and f.product == product))]
        today += sum(1 for f in mine if f.day == local.date())
        return MemberCounts(today=today, total=total + len(mine))


def _local_day(local: datetime) -> tuple[datetime, datetime]:
    """The UTC bounds of the platform-local day of `local` (C-9; DST-safe)."""
    zone = platform_zone()
    start = datetime.combine(local.date(), time(), zone)
    end = datetime.combine(local.date() + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


class Catalog:
    """The batch's products, stores and cashiers with their own settings (QR-20), parsed once per
    batch, not once per line."""

    def __init__(self, products: dict[str, store.Entity], stores: dict[str, store.Entity], cashiers: dict[str, store.Entity]) -> None:
        self.products: dict[str, ProductInfo] = {
            p.id: ProductInfo(p.id, Source(p.source), p.store_id, p.listed, EntitySettings.parse(p.queue_rebate)) for p in products.values()
        }
        self.stores = {s.id: EntitySettings.parse(s.queue_rebate) for s in stores.values()}
        self.cashiers = {c.id: EntitySettings.parse(c.queue_rebate) for c in cashiers.values()}
        self.nothing = EntitySettings.parse(None)

    @classmethod
    async def load(cls, batch: Batch, lines: dict[str, list[dict[str, Any]]]) -> Catalog:
        return await cls.of(batch.conn, batch.items, [lines])

    @classmethod
    async def of(cls, conn: Connection, items: Iterable[Item], lines: Iterable[dict[str, list[dict[str, Any]]]]) -> Catalog:
        """What the items' orders and their lines (by order, of one queue or of several) name."""
        orders = [i for i in items if i.type in ORDER_EVENTS]
        product_ids = {r["product_id"] for found in lines for rows in found.values() for r in rows if r["product_id"]}
        stores = {i.payload.get("store") for i in orders if i.payload.get("store")}
        cashiers = {i.payload.get("cashier") for i in orders if i.payload.get("cashier")}
        return cls(*await store.catalog(conn, product_ids, stores, cashiers))


async def levels_of(conn: Connection, items: Iterable[Item]) -> dict[str, str | None]:
    """M-2: the level each paid order recorded (Facts.levels) of these items."""
    orders = {str(i.payload["order"]) for i in items if i.type == "order.paid" and i.payload.get("order")}
    return await store.order_levels(conn, orders)
