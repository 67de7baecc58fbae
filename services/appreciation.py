"""消费增值 batch handler of the pool's own queue `ca` (CA-1..CA-7), its events and its reads.

Every mint, sale, subsidy, refund clawback and exit of the pool is an item of the `ca` queue,
settled in inbox order under the queue's lock and fence (`services.settlement`), so no sale or
order ever reads a stale price. One batch loads the pool's state and its events' holders up
front, applies the events in order through `domain.appreciation`, loads by index range only the
holders a price change can reach, and writes state, holders, postings, sales and price history
in the batch's one fenced transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from domain import appreciation as ca
from domain.appreciation_holders import Holder, NeedHolders
from domain.errors import DomainError, ErrorCode
from domain.money import ZERO, round_exact
from services import intake
from services.batch import Batch, FenceLost, Item
from services.model_settings import load_settings
from services.per_order import OrderFacts, order_facts
from store import appreciation as store
from store import db, inbox
from store.appreciation import OrderMint
from store.db import Connection

SELL = "points.sell"
SUBSIDY = "appreciation.subsidy"
EVENTS = (SELL, SUBSIDY)
QUEUE = ca.POOL_ID


class StoreHolderIndex:
    """`HolderIndex` over the store: the batch's members loaded up front; a range the domain asks
    for is answered once the handler has loaded it (`NeedHolders` until then)."""

    def __init__(self, loaded: Mapping[str, Holder]) -> None:
        self._holders = dict(loaded)
        self._supplied: tuple[Fraction | None, Fraction, Sequence[Holder]] | None = None

    def get(self, member: str) -> Holder | None:
        return self._holders.get(member)

    def save(self, holder: Holder) -> None:
        self._holders[holder.member] = holder

    def reaching(self, lower: Fraction | None, upper: Fraction) -> Sequence[Holder] | NeedHolders:
        s = self._supplied
        if s is not None and s[0] == lower and upper <= s[1]:
            self._supplied = None
            return s[2]
        return NeedHolders(lower, upper)

    def supply(self, need: NeedHolders, found: Sequence[Holder]) -> None:
        self._supplied = (need.lower, need.upper, found)


@dataclass(slots=True)
class _Run:
    batch: Batch
    pool: ca.AppreciationPool
    index: StoreHolderIndex
    orders: dict[str, OrderFacts]
    mints: dict[str, OrderMint]
    history: list[ca.PriceRecord]
    sales: list[tuple[int, ca.Sale, datetime]]
    touched: dict[str, OrderMint]


async def settle_appreciation(batch: Batch) -> None:
    settings: ca.AppreciationSettings = await load_settings(ca.MODEL, batch.conn)
    orders = await order_facts(batch)
    refunded = sorted({str(i.payload["order"]) for i in batch.items if i.type == "order.refunded"})
    members = sorted({o.member for o in orders.values()} | {str(i.payload["member"]) for i in batch.items if i.type == SELL})
    index = StoreHolderIndex(await store.holders(batch.conn, members))
    lowest = await store.lowest_key(batch.conn)  # the holders as stored before this batch (it writes them at the end)
    state = await store.load_pool(batch.conn)
    run = _Run(batch, ca.AppreciationPool(settings, state, index), index, orders, await store.order_mints(batch.conn, refunded), [], [], {})
    for item in batch.items:
        try:
            out = _apply(run, item)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
            continue
        while True:
            batch.post(out.postings, item)
            run.history += out.history
            run.sales += [(item.event_id, s, item.occurred_at) for s in out.sales]
            if out.need is None:
                break
            # a range below every stored key (most price changes) needs no query: each one's plan
            # would probe the cost index's ends, and that planning grows with the table
            below = store.below_every_key(lowest, out.need.upper)
            index.supply(out.need, [] if below else await store.holders_reaching(batch.conn, out.need.lower, out.need.upper))
            out = run.pool.continue_exits()
    await _persist(run)


def _apply(run: _Run, item: Item) -> ca.Outcome:
    p, pool, now = item.payload, run.pool, item.occurred_at
    key = str(p["key"])
    if item.type == SELL:
        return pool.sell(key, str(p["member"]), p.get("points"), now)
    if item.type == SUBSIDY:
        return pool.subsidize(key, p.get("amount"), now)
    facts = run.orders.get(str(p.get("order")))
    o = facts.taking_part(pool.settings.excluded_products) if facts is not None else None
    if o is None:
        return ca.Outcome()
    if item.type == "order.completed":
        h = pool.holder(o.member)
        participation = h.participation + (0 if h.started_at is not None else 1)
        out = pool.complete_order(key, o.member, o.amount, o.profit, now)
        if out.postings:
            run.touched[o.id] = OrderMint(o.id, o.member, o.amount, out.minted, participation, stored=False)
        return out
    if item.type == "order.refunded":
        return _refund(run, key, o, p.get("line"), now)
    return ca.Outcome()


def _refund(run: _Run, key: str, o: OrderFacts, line: Any, now: datetime) -> ca.Outcome:
    """A refund of the order (or one line): its spend and the points it minted come back."""
    mint = run.touched.get(o.id) or run.mints.get(o.id)
    if mint is None or mint.amount <= 0:
        return ca.Outcome()
    if line is None:
        amount = mint.amount
    else:
        product, paid = o.lines[int(line)] if 0 <= int(line) < len(o.lines) else (None, ZERO)
        amount = ZERO if product in run.pool.settings.excluded_products else min(paid, mint.amount)
    if amount <= 0:
        return ca.Outcome()
    points = ca.clawback(mint.points, mint.amount, amount)
    out = run.pool.refund_order(key, o.member, amount, points, mint.participation, now)
    mint.amount -= amount
    mint.points -= points
    run.touched[o.id] = mint
    return out


async def _persist(run: _Run) -> None:
    batch, conn, state = run.batch, run.batch.conn, run.pool.state
    batch.pool = state.pool
    if not await store.save_pool(conn, state, batch.version + 1):
        raise FenceLost(batch.queue_id)
    await store.save_holders(conn, run.pool.changed.values())
    await store.add_prices(conn, run.history)
    await store.add_sales(conn, run.sales)
    await store.save_order_mints(conn, run.touched.values())


# --- events: a sale (member) and a subsidy (admin) ---------------------------------------------


async def record(payload: Mapping[str, Any], now: datetime, scope: str = intake.PLATFORM_SCOPE) -> intake.Ticket:
    """Record `points.sell` / `appreciation.subsidy` (I-7) for the `ca` queue; the caller enqueues
    `ticket.queues`. A sale of more than the member holds now is refused (INSUFFICIENT_POINTS,
    nothing written); the worker checks again when it settles, in order with everything else.
    `scope`: whose key it is (a member's own keys, or the platform's)."""
    kind = payload.get("type")
    if kind not in EVENTS:
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown event type {kind!r}; one of {', '.join(EVENTS)}", "type")
    key = payload.get("key")
    if kind == SELL and not (isinstance(key, str) and await inbox.event_by_key(scope, key) is not None):
        await check_sale(payload.get("member"), payload.get("points"))
    return await intake.record(payload, now, scope=scope)


async def check_sale(member: Any, points: Any) -> Decimal:
    """The quantity to sell, if the member holds it now (INVALID_AMOUNT / INSUFFICIENT_POINTS)."""
    q = ca.positive_amount(points, "points")
    h = await store.holder(db.default(), str(member)) if isinstance(member, str) else None
    held = h.points if h is not None else ZERO
    if q > held:
        raise DomainError(ErrorCode.INSUFFICIENT_POINTS, f"member {member} holds {held} appreciation points, not {q}", "points")
    return q


# --- reads --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolView:
    pool: Decimal
    circulating: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class HoldingView:
    member: str
    points: Decimal
    value: Decimal
    spend: Decimal
    exit_price: Decimal | None


async def pool_view(conn: Connection | None = None) -> PoolView:
    settings: ca.AppreciationSettings = await load_settings(ca.MODEL, conn)
    state = await store.load_pool(conn or db.default())
    return PoolView(state.pool, state.circulating, state.quote(settings).display)


async def holding(member: str) -> HoldingView:
    """A member's points, their worth at the current price, its spend since the last exit and the
    price at which it will be forced out (CA-4; None without points)."""
    settings: ca.AppreciationSettings = await load_settings(ca.MODEL)
    conn = db.default()
    state = await store.load_pool(conn)
    return _holding(await store.holder(conn, member) or Holder(member), settings, state.price(settings))


def _holding(h: Holder, settings: ca.AppreciationSettings, price: Fraction) -> HoldingView:
    exit_price = h.exit_price(settings.exit_multiple)
    return HoldingView(h.member, h.points, round_exact(Fraction(h.points) * price), h.spend, round_exact(exit_price) if exit_price is not None else None)


async def near_exit(limit: int) -> list[HoldingView]:
    """CA-4: the holders nearest to a forced exit (lowest exit price first) with their holdings."""
    settings: ca.AppreciationSettings = await load_settings(ca.MODEL)
    conn = db.default()
    price = (await store.load_pool(conn)).price(settings)
    return [_holding(h, settings, price) for h in await store.lowest_cost_holders(conn, limit)]


async def price_history(after: int, limit: int) -> list[dict[str, Any]]:
    return await store.price_history(db.default(), after, limit)


async def daily_prices(start: datetime, days: int) -> list[dict[str, Any]]:
    """One bucket per day from `start` (UTC days): open, close, high, low and the changes that day;
    a day without changes carries the last close (None before the first change)."""
    conn = db.default()
    rows = await store.prices_between(conn, start, start + timedelta(days=days))
    before = await store.last_price_before(conn, start)
    last = before["price"] if before else None
    out = []
    for d in range(days):
        day_start = start + timedelta(days=d)
        today = [r["price"] for r in rows if day_start <= r["at"] < day_start + timedelta(days=1)]
        opening = last if last is not None else (today[0] if today else None)
        close = today[-1] if today else last
        prices = [x for x in (opening, *today) if x is not None]
        out.append({"day": day_start.date(), "open": opening, "close": close, "high": max(prices, default=None),
                    "low": min(prices, default=None), "changes": len(today)})
        last = close
    return out


async def event_of(event_id: int) -> dict[str, Any] | None:
    """A sale's or subsidy's event: id, key, type and the member (None for a subsidy)."""
    return await store.event_row(db.default(), event_id, EVENTS)


async def sale_result(event_id: int) -> list[dict[str, Any]]:
    """What a settled event sold: its sale and the exits it set off (empty while PENDING)."""
    return await store.sales_of_event(db.default(), event_id)
