"""排队返利 batch handler: paid / completed / refunded lines, member draws and exchanges, and resets
of one queue, in inbox order (QR-1..QR-17).

What the settings need of the world is loaded by `services.queue_rebate_world` (the window, the
facts, the catalog) and handed to the pure domain, with a random source (C-10, `rand`); the
batch's writes go through `store.queue_rebate`.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain import queue_rebate as qr
from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Wallet, member_account
from domain.money import from_fen, to_fen
from domain.queue_rebate_features import (
    GroupDraw,
    RandomReturnSettings,
    RandomSource,
    check_can_draw,
    convert,
    decide_random_return,
    draw_for_entitlement,
    exchange,
    reset,
)
from domain.queue_rebate_settings import (
    Channel,
    LineContext,
    PluginSettings,
    queue_closed,
    random_return_for,
    resolve_line,
)
from services.actions import DRAW, EXCHANGE, RESET, check_exchange, offered_lottery
from services.batch import Batch, FenceLost, Item
from services.model_settings import load_settings
from services.queue_rebate_world import ORDER_EVENTS, Catalog, Facts, Fresh, Window, first_chunk, levels_of, scope_key
from store import queue_rebate as store
from store.queue import load_state, save_state

RESET_CHUNK = 5000  # entitlements cleared per transaction of a reset

RANDOM: RandomSource | None = None
"""The random source (C-10). None in production: `secrets.randbelow`, or with REBATE_RANDOM_SEED
set (replays, demos; never in production) a `random.Random(seed)` shared by the process. Tests
replace it (monkeypatch) with a seeded or scripted `rand(n)`."""
_SEEDED: dict[str, random.Random] = {}


def rand(n: int) -> int:
    """One int in [0, n) from the configured source."""
    if RANDOM is not None:
        return RANDOM(n)
    seed = os.environ.get("REBATE_RANDOM_SEED")
    if seed:
        return _SEEDED.setdefault(seed, random.Random(seed)).randrange(n)
    return secrets.randbelow(n)


def _utc(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass
class Settlement:
    """One batch of one queue: the loaded window, settings, catalog and per-queue state."""

    batch: Batch
    window: Window
    plugin: PluginSettings
    lines: dict[str, list[dict[str, Any]]]
    catalog: Catalog
    facts: Facts
    queue_state: dict[str, Any]
    scopes: dict[str, str] = field(default_factory=dict)  # new entitlement key → scope_key
    drawn_at: dict[str, datetime] = field(default_factory=dict)
    state_changed: bool = False
    reset_ran: bool = False
    fresh_from: int = 0  # where this batch's entitlements begin in facts.fresh (shared by the batches of a transaction)

    @property
    def rules(self) -> qr.Rules:
        return self.plugin.rules


@dataclass
class Writes:
    """The entitlements and order lines of a transaction's batches, written once for all of them
    at its end (`finish_queue_rebate`) instead of a few statements per queue."""

    touched: list[qr.Entitlement] = field(default_factory=list)
    scopes: dict[str, str] = field(default_factory=dict)
    drawn_at: dict[str, datetime] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    lines: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    fresh: list[Fresh] = field(default_factory=list)  # the entitlements earned by the batches so far, not yet written (QR-13's counts)


async def prepare_queue_rebate(batches: list[Batch]) -> None:
    """What the batches of one transaction read before they settle, read for all of them at once
    (`Batch.preloaded`): the first chunk of each window, each queue's order lines, the catalog and
    the orders' levels (the last two one superset for all). None of it is what an earlier batch of
    the transaction writes: a queue's window and lines are its own, products and levels intake's.
    Their writes wait for the end of the transaction (`Writes`): a batch counts the entitlements
    that the batches before it earned in a limit scope (QR-13) from there."""
    conn, items = batches[0].conn, [i for b in batches for i in b.items]
    first = first_chunk(max(len(b.items) for b in batches))
    windows = await store.load_windows(conn, [(b.queue_id, b.head - 1, b.tail) for b in batches], first)
    lines = await store.order_lines_many(conn, {b.queue_id: _orders(b) for b in batches})
    catalog, levels = await Catalog.of(conn, items, lines.values()), await levels_of(conn, items)
    writes = Writes()
    for b in batches:
        b.preloaded.update(window=windows[b.queue_id], window_count=first, lines=lines[b.queue_id], catalog=catalog, levels=levels, writes=writes)


async def finish_queue_rebate(batches: list[Batch]) -> None:
    """The writes the batches of one transaction left for its end, in one statement each."""
    w: Writes | None = batches[0].preloaded.get("writes")
    if w is not None:
        await store.save_entitlements(batches[0].conn, w.touched, w.scopes, w.drawn_at, w.created)
        await store.save_lines(batches[0].conn, *w.lines)


async def settle_queue_rebate(batch: Batch) -> None:
    plugin: PluginSettings = await load_settings("queue_rebate", batch.conn)
    window, pre = Window(batch), batch.preloaded
    await window.more(pre.get("window_count", first_chunk(len(batch.items))), rows=pre.get("window"))
    lines = pre["lines"] if "lines" in pre else await _lines(batch)
    catalog = pre["catalog"] if "catalog" in pre else await Catalog.load(batch, lines)
    writes: Writes | None = pre.get("writes")
    facts = Facts(batch, pre["levels"], writes.fresh) if writes is not None else await Facts.load(batch)
    run = Settlement(batch, window, plugin, lines, catalog, facts, batch.state if batch.state is not None else await load_state(batch.conn, batch.queue_id),
                     fresh_from=len(facts.fresh))
    apply = {"order.paid": _paid, "order.completed": _completed, "order.refunded": _refunded, DRAW: _draw, EXCHANGE: _exchange}
    for item in batch.items:
        try:
            if item.type == RESET:
                if not await _reset(run, item):
                    batch.resume_at = item.id
                    break
            elif item.type in apply:
                await apply[item.type](run, item)
            else:
                raise DomainError(ErrorCode.INVALID_INPUT, f"the queue rebate does not settle {item.type!r}", "type")
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    s = window.state
    batch.head, batch.tail, batch.pool = s.head, s.tail, s.pool
    await _persist(run)


async def _lines(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    return await store.order_lines(batch.conn, batch.queue_id, _orders(batch))


def _orders(batch: Batch) -> set[str]:
    return {i.payload["order"] for i in batch.items if i.type in ORDER_EVENTS}


async def _paid(run: Settlement, item: Item) -> None:
    """QR-3 for each line of the order in this queue, in line order; QR-6 decides the extraction.

    QR-17: while paused a line still joins but takes no extraction, now or later (its
    extraction_fen is recorded as 0 and it counts as extracted); random return waits too.
    """
    p, rules, window = item.payload, run.rules, run.window
    when = _utc(item.occurred_at)
    for r in run.lines.get(p["order"], []):
        if _closed(run, r):
            continue
        ctx = await run.facts.enrich(_context(run, p, r), when)
        line = resolve_line(ctx, run.plugin)
        entitlement, postings = await window.until_done(lambda line=line: qr.settle_paid_line(window.state, line, rules))
        if entitlement is not None:
            entitlement.order_completed = False
            window.known[entitlement.key] = entitlement
            window.created[entitlement.key] = when
            run.scopes[entitlement.key] = scope_key(ctx)
            run.facts.fresh.append(Fresh(ctx.member, scope_key(ctx), ctx.product.id if ctx.product else None, ctx.local_time.date() if ctx.local_time else when.date()))
            settings = random_return_for(ctx, run.plugin)
            if settings is not None and not rules.paused:
                postings += _random_return(run, settings, entitlement)
        run.batch.post(postings, item)
        on_pay = rules.settle_on is qr.SettleOn.ON_PAY
        r.update(extraction_fen=0 if on_pay and rules.paused else to_fen(line.extraction), extracted=on_pay, _dirty=True)


def _closed(run: Settlement, r: dict[str, Any]) -> bool:
    """QR-5: a line of a delisted product's own queue takes no part any more: no entitlement, no
    extraction now or later (recorded as 0, like a pause)."""
    product = run.catalog.products.get(r["product_id"]) if r["product_id"] else None
    if not queue_closed(run.batch.queue_id, product):
        return False
    r.update(extraction_fen=0, extracted=True, _dirty=True)
    return True


def _context(run: Settlement, p: dict[str, Any], r: dict[str, Any]) -> LineContext:
    """The domain's view of one order line, from the batch's catalog."""
    catalog = run.catalog
    product = catalog.products.get(r["product_id"]) if r["product_id"] else None
    store_id = p.get("store")
    own_store = product.store if product and product.store else store_id
    return LineContext(
        key=f"{r['order_id']}:{r['index']}", member=p["member"], order=r["order_id"], index=int(r["index"]), channel=Channel(p.get("channel", "MALL")),
        paid=from_fen(int(r["paid_fen"])), deduction=from_fen(int(r["deduction_fen"])), product=product, store=own_store,
        store_settings=catalog.stores.get(own_store or "", catalog.nothing), cashier_settings=catalog.cashiers.get(p.get("cashier") or "", catalog.nothing),
    )


def _random_return(run: Settlement, settings: RandomReturnSettings, e: qr.Entitlement) -> list[Any]:
    """QR-15: the queue's n-th entitlement under random return; the counter and the current
    group (its chosen offsets drawn when it starts, C-10) live in queue.state."""
    st = run.queue_state
    n = int(st.get("random_return_n", 0))
    current = GroupDraw.from_values(st["random_return_group"]) if st.get("random_return_group") else None
    decision = decide_random_return(settings, n, current, rand)
    st["random_return_n"] = n + 1
    st["random_return_group"] = decision.group.as_values()
    run.state_changed = True
    return convert(run.window.state, e, run.plugin) if decision.convert else []


async def _completed(run: Settlement, item: Item) -> None:
    """QR-7 marks the entitlement's order completed; under ON_COMPLETE the extraction runs now
    (QR-17: completed while paused, it never runs)."""
    rules, window = run.rules, run.window
    for r in run.lines.get(item.payload["order"], []):
        key = f"{r['order_id']}:{r['index']}"
        e = await window.get(key)
        if e is not None and e.status is qr.Status.WAITING:
            qr.mark_order_completed(window.state, e)
        if r["extracted"] or r["cancelled"] or r["extraction_fen"] is None:
            continue
        if rules.paused or _closed(run, r):
            r.update(extraction_fen=0, extracted=True, _dirty=True)
            continue
        line = qr.Line(key, "", r["order_id"], int(r["index"]), from_fen(int(r["paid_fen"])), from_fen(int(r["extraction_fen"])), False, from_fen(0), "")
        run.batch.post(await window.until_done(lambda line=line: qr.extract(window.state, line, rules)), item)
        r.update(extracted=True, _dirty=True)


async def _refunded(run: Settlement, item: Item) -> None:
    """QR-8: the line's entitlement is cancelled; an extraction that has not run never will."""
    wanted = item.payload.get("line")
    for r in run.lines.get(item.payload["order"], []):
        if r["cancelled"] or (wanted is not None and int(r["index"]) != wanted):
            continue
        e = await run.window.get(f"{r['order_id']}:{r['index']}")
        if e is not None:
            cash = await run.batch.balance(member_account(e.member, Wallet.CASH), Asset.CNY)
            run.batch.post(qr.cancel(run.window.state, e, run.rules, cash), item)
        r.update(cancelled=True, _dirty=True)


async def _entitlement_of(run: Settlement, item: Item) -> qr.Entitlement:
    key = str(item.payload.get("entitlement"))
    e = await run.window.get(key)
    if e is None or e.queue != run.batch.queue_id:
        raise DomainError(ErrorCode.UNKNOWN_ENTITLEMENT, f"queue rebate entitlement {key} is not in queue {run.batch.queue_id}", "entitlement")
    return e


async def _draw(run: Settlement, item: Item) -> None:
    """QR-12: draw once from the lottery recorded on the entitlement (as its settings are now);
    the ratio and the time are recorded on it (C-10) and its total is recomputed."""
    e = await _entitlement_of(run, item)
    check_can_draw(e)
    lottery = await offered_lottery(run.batch.conn, e.order, e.line, e.lottery_source, run.plugin)
    if lottery is None:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"no lottery is offered to entitlement {e.key}", "entitlement")
    _, postings = draw_for_entitlement(e, lottery, rand, state=run.window.state)
    run.drawn_at[e.key] = _utc(item.occurred_at)
    run.batch.post(postings, item)


async def _exchange(run: Settlement, item: Item) -> None:
    """QR-14: the unpaid remainder becomes points / love value; the entitlement leaves the queue."""
    e = await _entitlement_of(run, item)
    target = check_exchange(run.plugin, item.payload.get("to"))
    run.batch.post(exchange(run.window.state, e, target, run.plugin), item)


async def _reset(run: Settlement, item: Item) -> bool:
    """QR-16, one chunk: WAITING entitlements created up to the due run become CLEARED, their
    remainders forfeited. True when the queue is done; progress is kept in queue.state."""
    cutoff = _utc(item.payload["before"])
    window, st = run.window, run.queue_state
    progress = st.get("reset") if (st.get("reset") or {}).get("event") == item.event_id else None
    cursor = int(progress["cursor"]) if progress else run.window.first - 1  # nobody waits before the batch's head
    rows = await store.waiting_after(run.batch.conn, run.batch.queue_id, cursor, RESET_CHUNK)
    due = [e for e in (window.adopt(r) for r in rows) if window.created[e.key] <= cutoff]
    finished = len(rows) < RESET_CHUNK
    if finished:  # this batch's own new entitlements are not in the database yet
        due += [e for e in window.state.touched.values() if e.db_id is None and window.created.get(e.key, cutoff) <= cutoff]
    run.batch.post(reset(due, window.state), item)
    st["reset"] = None if finished else {"event": item.event_id, "cursor": rows[-1][0].position}
    run.state_changed = run.reset_ran = True
    return finished


async def _persist(run: Settlement) -> None:
    batch, window = run.batch, run.window
    writes: Writes | None = batch.preloaded.get("writes")
    if writes is not None and not run.reset_ran:  # left for the end of the transaction, with the other batches'
        writes.touched += window.state.touched.values()
        writes.scopes.update(run.scopes)
        writes.drawn_at.update(run.drawn_at)
        writes.created.update(window.created)
        writes.lines.append(run.lines)
    else:
        await store.save_entitlements(batch.conn, window.state.touched.values(), run.scopes, run.drawn_at, window.created)
        await store.save_lines(batch.conn, run.lines)
        if writes is not None:  # a reset reads the queue's entitlements as written: its batch writes its own now, counted from there on
            writes.fresh[run.fresh_from:] = []
    if run.state_changed and not await save_state(batch.conn, batch.queue_id, run.queue_state, batch.version + 1):
        raise FenceLost(batch.queue_id)  # fenced like the shared finish: this batch set version + 1
    if run.reset_ran:  # the window saw only part of what the reset cleared: the head from the index
        head = await store.waiting_head(batch.conn, batch.queue_id, window.first)
        batch.head = head if head is not None else batch.tail + 1
