"""The set-based snapshot of intake (`services.intake` holds the rules, `store.intake` the SQL).

One call runs in one transaction:

1. `Snapshot.load` reads, in a few queries, everything the events reference: the orders an event
   would change (locked, in id order) with their lines, the events with their keys, the members,
   the other orders, the products, stores and cashiers, and the model settings (these in one
   UNION ALL query for a small call). On PostgreSQL a call of several events runs REPEATABLE
   READ, so these reads are one consistent snapshot: under READ COMMITTED a twin committing
   between two of them could show its event but not its order, and a later event of the call
   that depends on that order would be refused. A single event depends on nothing else of its
   call; it reads the keys after the orders, so READ COMMITTED is enough (and spares a round
   trip): a twin seen there is a replay, one committed later makes the insert fail and retry.
   So is a call that changes no stored order and whose ids fit one lookup statement (a group of
   payment callbacks): its whole snapshot is that one statement's.
2. The caller's validator takes the events in input order; an accepted event changes the
   snapshot (a new order, a completed or refunded one, its key), so the next events see it
   exactly as they would after a one-by-one record.
3. `_write` stores every accepted event's rows with multi-row statements: events (RETURNING the
   ids), orders and their lines, order and line updates, the members' completed spend per day
   (QR-11: `member_spend_day`), missing queues, inbox items. On PostgreSQL the events, new orders,
   lines and missing queues are one statement (`store.intake.insert_new`), the inbox items another.

A race with a concurrent writer (the same event key or order id committed first, a row it changed
since the snapshot, a deadlock) rolls the whole call back and runs it again on a fresh snapshot,
where the other writer's rows are visible: a twin event then is a replay of the committed one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError
from domain.queue_rebate_settings import EntitySettings, ProductInfo, Source
from services.model_settings import SETTINGS_MODELS
from services.runtime import platform_zone
from store import db
from store import intake as rows
from store.db import Connection
from store.inbox import encode_payload

log = logging.getLogger("rebate.intake")
ATTEMPTS = 8
_QUEUE_MODEL = {"od": "order_dividend", "uq": "union_queue", "dr": "distribution", "pd": "points_dividend", "ca": "appreciation"}
SPEND_SOURCES = ("SELF_OPERATED", "SUPPLIER")  # seed 000: 商城自营+供应商 — the mall lines that count for QR-11
__all__ = ["KnownEvent", "NewOrder", "OrderState", "Outcome", "References", "Replay", "Snapshot", "encode_payload", "entity_settings", "run", "spend_scope"]


@dataclass(slots=True)
class KnownEvent:
    """An event key with its content: committed before (`id` set) or accepted in this call
    (`queues` set, `id` assigned when written)."""

    key: str
    digest: str
    type: str
    id: int | None = None
    payload: str = ""
    queues: list[str] = field(default_factory=list)
    occurred_at: datetime | None = None  # accepted in this call: when it was reported

    def replay(self) -> Replay:
        return Replay(self)


@dataclass(slots=True)
class Replay:
    """Outcome of an event whose key and content match an earlier one: that event's ticket."""

    event: KnownEvent


Outcome = KnownEvent | Replay


@dataclass(slots=True)
class NewOrder:
    id: str
    member_id: str
    channel: str
    store_id: str | None
    cashier_id: str | None
    profit_fen: int | None
    amount_fen: int
    paid_at: datetime
    lines: list[tuple[Any, ...]]  # (order_id, index, product_id, quantity, paid_fen, deduction_fen, queue_id)
    region: str | None = None  # "province/city/district" (DR-5)


@dataclass(slots=True)
class OrderState:
    """An order as the events of this call see it (stored state plus the accepted events)."""

    id: str
    status: str
    completed: bool
    lines: dict[int, list[Any]]  # index → [queue_id, refunded]
    member_id: str = ""
    spend: dict[int, tuple[str, int]] = field(default_factory=dict)  # index → (QR-11 scope, paid fen) of the lines that count
    stored_completed_at: datetime | None = None  # completed before this call
    new: NewOrder | None = None  # paid in this call: inserted with its final state
    completed_at: datetime | None = None  # set in this call
    refunded_at: datetime | None = None  # set in this call
    refunded_lines: list[int] = field(default_factory=list)  # stored lines refunded in this call

    def line_queues(self, line: int | None = None) -> list[str]:
        return sorted({q for i, (q, _) in self.lines.items() if q and (line is None or i == line)})

    def spend_deltas(self) -> Iterator[tuple[tuple[str, str, str], int]]:
        """QR-11: what this call changes in the member's completed spend, as ((member, scope,
        local day of completion), fen): completed here, its lines unrefunded at the end count
        (a line refunded in the same call never did); completed before, the lines refunded
        here stop counting."""
        if self.completed_at is not None:
            day, lines, sign = _local_day(self.completed_at), self.unrefunded(), 1
        elif self.stored_completed_at is not None:
            day, lines, sign = _local_day(self.stored_completed_at), self.refunded_lines, -1
        else:
            return
        for i in lines:
            if i in self.spend:
                scope, fen = self.spend[i]
                yield (self.member_id, scope, day), sign * fen

    def unrefunded(self) -> list[int]:
        return [i for i, (_, refunded) in self.lines.items() if not refunded]

    def complete(self, now: datetime) -> None:
        self.status, self.completed, self.completed_at = "COMPLETED", True, now

    def refund(self, line: int | None, now: datetime) -> None:
        for i in self.unrefunded() if line is None else [line]:
            self.lines[i][1] = True
            if self.new is None:
                self.refunded_lines.append(i)
        if not self.unrefunded():
            self.status, self.refunded_at = "REFUNDED", now


def spend_scope(channel: str, store_id: str | None, source: str | None) -> str | None:
    """QR-11: the cumulative scope a completed line counts in (as `cumulative_scope` reads it):
    "mall" for a mall order's self-operated and supplier lines, "store:<id>" for every line of a
    store's cashier and online orders, none otherwise."""
    if channel == "MALL":
        return "mall" if source in SPEND_SOURCES else None
    return f"store:{store_id}" if store_id else None


def _local_day(when: datetime) -> str:
    """The ISO platform-local day (C-9) of a time (a naive one is UTC, as the ORM stores it)."""
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(platform_zone()).date().isoformat()


def _timestamp(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(slots=True)
class ProductRow:
    id: str
    source: str
    store_id: str | None
    listed: bool
    queue_rebate: Any


@dataclass(slots=True)
class StoreRow:
    id: str
    queue_rebate: Any


@dataclass(slots=True)
class CashierRow:
    id: str
    store_id: str
    queue_rebate: Any


class References:
    """What the events of one call may look up (a superset: validation decides what counts)."""

    def __init__(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        self.keys: set[str] = set()
        self.members: set[str] = set()
        self.products: set[str] = set()
        self.stores: set[str] = set()
        self.cashiers: set[str] = set()
        self.paid_orders: set[str] = set()  # existence only
        self.changed_orders: set[str] = set()  # completed / refunded: state and lines, locked
        for p in payloads:
            if not isinstance(p, Mapping):
                continue
            _add(self.keys, p.get("key"))
            kind = p.get("type")
            if kind == "order.paid":
                _add(self.paid_orders, p.get("order"))
                _add(self.members, p.get("member"))
                _add(self.stores, p.get("store"))
                _add(self.cashiers, p.get("cashier"))
                lines = p.get("lines")
                for ln in lines if isinstance(lines, list) else ():
                    if isinstance(ln, Mapping):
                        _add(self.products, ln.get("product"))
            elif kind in ("order.completed", "order.refunded"):
                _add(self.changed_orders, p.get("order"))
            elif kind == "points.sell":
                _add(self.members, p.get("member"))
        self.paid_orders -= self.changed_orders

    def lookups(self) -> dict[str, set[str]]:
        """The ids `store.intake.lookup` reads, by kind."""
        return {"keys": self.keys, "members": self.members, "paid_orders": self.paid_orders, "products": self.products, "stores": self.stores, "cashiers": self.cashiers}


def _add(into: set[str], value: Any) -> None:
    if isinstance(value, str) and value:
        into.add(value)


class Snapshot:
    def __init__(self) -> None:
        self.events: dict[str, KnownEvent] = {}
        self.members: set[str] = set()
        self.orders: dict[str, OrderState] = {}  # locked stored orders and the orders paid in this call
        self.other_orders: set[str] = set()  # stored orders only a payment refers to
        self.products: dict[str, ProductRow] = {}
        self.stores: dict[str, StoreRow] = {}
        self.cashiers: dict[str, CashierRow] = {}
        self.accepted: list[KnownEvent] = []
        self._settings_values: dict[str, Any] = {}
        self._settings: dict[str, Any] = {}
        self._products: dict[str, ProductInfo] = {}

    @classmethod
    async def load(cls, conn: Connection, refs: References, key_scope: str) -> Snapshot:
        """The snapshot; event keys are looked up in the caller's `key_scope` only."""
        snap = cls()
        channels: dict[str, tuple[str, str | None]] = {}
        for r in await rows.locked_orders(conn, refs.changed_orders):
            completed_at = _timestamp(r["completed_at"])
            snap.orders[r["id"]] = OrderState(r["id"], r["status"], completed_at is not None, {}, member_id=r["member_id"], stored_completed_at=completed_at)
            channels[r["id"]] = (r["channel"], r["store_id"])
        for r in await rows.order_lines(conn, snap.orders):
            order, index = snap.orders[r["order_id"]], int(r["index"])
            order.lines[index] = [r["queue_id"], bool(r["refunded"])]
            if (scope := spend_scope(*channels[order.id], r["source"])) is not None:
                order.spend[index] = (scope, int(r["paid_fen"]))
        for state in snap.orders.values():
            state.lines = dict(sorted(state.lines.items()))
        for r in await rows.lookup(conn, refs.lookups(), key_scope):
            kind, a, b, c, d, e = r["t"], r["a"], r["b"], r["c"], r["d"], r["e"]
            if kind == "event":
                snap.events[a] = KnownEvent(a, b, c, int(d))
            elif kind == "member":
                snap.members.add(a)
            elif kind == "order":
                snap.other_orders.add(a)
            elif kind == "product":
                snap.products[a] = ProductRow(a, b, c, d in ("1", "true", "t"), e)
            elif kind == "store":
                snap.stores[a] = StoreRow(a, e)
            elif kind == "cashier":
                snap.cashiers[a] = CashierRow(a, b, e)
            else:
                snap._settings_values[a] = e
        return snap

    def order_exists(self, order_id: str) -> bool:
        return order_id in self.orders or order_id in self.other_orders

    def settings(self, model: str) -> Any:
        """A model's parsed settings (read once per call; settings do not change inside one)."""
        if model not in self._settings:
            self._settings[model] = _parsed(model, self._settings_values.get(model))
        return self._settings[model]

    def product_info(self, row: ProductRow) -> ProductInfo:
        info = self._products.get(row.id)
        if info is None:
            info = self._products[row.id] = ProductInfo(row.id, Source(row.source), row.store_id, row.listed, entity_settings(row.queue_rebate))
        return info

    def add_order(self, order: NewOrder) -> None:
        spend = {}
        for ln in order.lines:
            product = self.products.get(ln[2]) if ln[2] else None
            if (scope := spend_scope(order.channel, order.store_id, product.source if product else None)) is not None:
                spend[ln[1]] = (scope, int(ln[4]))
        self.orders[order.id] = OrderState(order.id, "PAID", False, {ln[1]: [ln[6], False] for ln in order.lines}, member_id=order.member_id, spend=spend, new=order)

    def accept(self, key: str, digest: str, kind: str, payload: str, queues: list[str], occurred_at: datetime) -> KnownEvent:
        event = KnownEvent(key, digest, kind, None, payload, queues, occurred_at)
        self.events[key] = event
        self.accepted.append(event)
        return event


# Parsed settings are immutable: cache them by their stored text across calls.
_SETTINGS_CACHE: dict[tuple[str, str], Any] = {}
_ENTITY_CACHE: dict[str, EntitySettings] = {}
_NO_ENTITY_SETTINGS = EntitySettings.parse(None)  # frozen: one value for every product, store and cashier without settings of its own
_CACHE_LIMIT = 4096


def _parsed(model: str, raw: Any) -> Any:
    text = _json_text(raw)
    hit = _SETTINGS_CACHE.get((model, text))
    if hit is None:
        values = _json_value(raw)
        hit = SETTINGS_MODELS[model](values if values is not None else {})
        if len(_SETTINGS_CACHE) >= _CACHE_LIMIT:
            _SETTINGS_CACHE.clear()
        _SETTINGS_CACHE[(model, text)] = hit
    return hit


def entity_settings(raw: Any) -> EntitySettings:
    """A product's, store's or cashier's own settings (QR-20) from their stored JSON."""
    if raw is None:
        return _NO_ENTITY_SETTINGS
    text = _json_text(raw)
    hit = _ENTITY_CACHE.get(text)
    if hit is None:
        hit = EntitySettings.parse(_json_value(raw))
        if len(_ENTITY_CACHE) >= _CACHE_LIMIT:
            _ENTITY_CACHE.clear()
        _ENTITY_CACHE[text] = hit
    return hit


def _json_text(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)


def _json_value(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, (str, bytes)) else raw


Validator = Callable[[Snapshot], Callable[[Mapping[str, Any], datetime], Outcome]]


async def run(payloads: list[Mapping[str, Any]], nows: Sequence[datetime], validator: Validator, key_scope: str, isolate: bool = False) -> list[Outcome | Exception]:
    """Validate the events in order (each with its own report time in `nows`) and write the
    accepted ones, in one transaction; their keys are the caller's, in its `key_scope`
    (`services.intake.PLATFORM_SCOPE` or a member's). A refused event's DomainError is its
    outcome; with `isolate` (events of independent callers), so is any other exception its
    validation raised: validation changes the snapshot only once an event is accepted."""
    refs = References(payloads)
    caught = Exception if isolate else DomainError
    one_read = not refs.changed_orders and rows.lookup_is_one_statement(refs.lookups())
    for attempt in range(ATTEMPTS):
        try:
            async with db.writing() as conn:
                if len(payloads) > 1 and not one_read:
                    await db.repeatable_read(conn)
                snap = await Snapshot.load(conn, refs, key_scope)
                validate = validator(snap)
                outcomes: list[Outcome | Exception] = []
                for payload, now in zip(payloads, nows, strict=True):
                    try:
                        outcomes.append(validate(payload, now))
                    except caught as exc:
                        outcomes.append(exc)
                if snap.accepted:
                    await _write(conn, snap, key_scope)
            return outcomes
        except Exception as exc:
            if attempt == ATTEMPTS - 1 or not db.is_race(exc):
                raise
            log.info("intake of %d events raced a concurrent writer (%s); running it again", len(payloads), type(exc).__name__)
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # a deadlock's two victims should not meet again
    raise AssertionError("unreachable")


async def _write(conn: Connection, snap: Snapshot, key_scope: str) -> None:
    times = [e.occurred_at for e in snap.accepted]
    assert all(t is not None for t in times), "an accepted event has its report time"
    events = [(e.key, e.digest, e.type, e.payload) for e in snap.accepted]
    orders = list(snap.orders.values())
    new = [o for o in orders if o.new is not None]
    new_orders = [(n.id, n.member_id, n.channel, n.store_id, n.cashier_id, n.profit_fen, n.amount_fen, o.status, n.paid_at, o.completed_at, o.refunded_at, n.region)
                  for o in new if (n := o.new) is not None]
    new_lines = [(*ln, o.lines[ln[1]][1]) for o in new if o.new is not None for ln in o.new.lines]
    queues = list(dict.fromkeys(q for e in snap.accepted for q in e.queues))
    models = {q: _QUEUE_MODEL.get(q, "queue_rebate") for q in queues}
    one_statement = rows.writes_new_in_one_statement(conn)
    if one_statement:  # PostgreSQL: events, new orders and lines, missing queues in one round trip
        ids = await rows.insert_new(conn, key_scope, events, times, datetime.now(UTC), new_orders, new_lines, models)  # type: ignore[arg-type]
    else:
        ids = await rows.insert_events(conn, key_scope, events, times, datetime.now(UTC))  # type: ignore[arg-type]
        await rows.insert_orders(conn, new_orders, new_lines)
    for e in snap.accepted:
        e.id = ids[e.key]
    stored = [o for o in orders if o.new is None]
    await rows.update_orders(
        conn, [(o.status, o.completed_at, o.id) for o in stored if o.completed_at], [(o.status, o.refunded_at, o.id) for o in stored if o.refunded_at],
        [(o.id, i) for o in stored for i in o.refunded_lines],
    )
    # QR-11: one upsert per (member, scope, day), in key order so that concurrent writers never deadlock
    spend: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    for o in orders:
        for key, fen in o.spend_deltas():
            spend[key] += fen
    await rows.add_spend(conn, [(*key, fen) for key, fen in sorted(spend.items()) if fen])
    if not one_statement:
        await rows.ensure_queues(conn, models)
    await rows.add_inbox_items(conn, [(q, e.id) for e in snap.accepted for q in e.queues if e.id is not None])
