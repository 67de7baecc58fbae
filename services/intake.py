"""Durable, idempotent intake of settlement events (C-6, M-5, I-2).

A report is validated, written as an `event` row (unique key + content digest) with one inbox
item per queue it concerns, and committed; only then are the queues' drain jobs enqueued. The
same key with the same content returns the first ticket; with other content it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode
from domain.money import parse_amount, to_fen
from domain.queue_rebate_settings import Channel, EntitySettings, LineContext, ProductInfo, Source, queue_for
from services.catalog import load_settings
from store.models import Cashier, Event, Member, Order, OrderLine, Product, Store
from store.sql import claim_writer, execute, execute_many

PER_ORDER_MODELS = ("order_dividend", "union_queue")  # settle on completion, one queue each
ORDER_EVENTS = ("order.paid", "order.completed", "order.refunded")


@dataclass(slots=True)
class Ticket:
    """What a settling mutation returns (I-2): the event id, and whether it was a replay."""

    id: int
    key: str
    type: str
    duplicate: bool = False
    queues: list[str] = field(default_factory=list)


def digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _text(payload: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must be a non-empty string", name)
    return value


async def record(payload: Mapping[str, Any], now: datetime) -> Ticket:
    """Validate and record one settlement event; the caller enqueues `ticket.queues` after."""
    for name in ("type", "key"):
        _text(payload, name)
    prior = await _prior(str(payload["key"]), digest(payload))
    if prior is not None:
        return prior
    try:
        async with in_transaction() as conn:
            await claim_writer(conn)
            return await _record_in(conn, payload, now)
    except IntegrityError:
        prior = await _prior(str(payload["key"]), digest(payload))  # a concurrent twin committed first
        if prior is None:
            raise
        return prior


async def record_many(payloads: list[Mapping[str, Any]], now: datetime) -> list[Ticket | DomainError]:
    """Bulk intake (the mall backend's batch report): one transaction, one savepoint per event,
    so a refused event writes nothing and the others still count. Results keep the input order."""
    results: list[Ticket | DomainError] = []
    token = _settings_cache.set({})
    try:
        await _record_each(payloads, now, results)
    finally:
        _settings_cache.reset(token)
    return results


async def _record_each(payloads: list[Mapping[str, Any]], now: datetime, results: list[Ticket | DomainError]) -> None:
    async with in_transaction() as conn:
        await claim_writer(conn)
        for payload in payloads:
            try:
                async with in_transaction() as savepoint:
                    results.append(await _record_in(savepoint, payload, now))
            except DomainError as exc:
                results.append(exc)


_settings_cache: ContextVar[dict[str, Any] | None] = ContextVar("settings_cache", default=None)


async def _settings(model: str, conn: BaseDBAsyncClient) -> Any:
    """A model's settings, read once per bulk report (settings do not change inside one)."""
    cache = _settings_cache.get()
    if cache is None:
        return await load_settings(model, conn)
    if model not in cache:
        cache[model] = await load_settings(model, conn)
    return cache[model]


async def _record_in(conn: BaseDBAsyncClient, payload: Mapping[str, Any], now: datetime) -> Ticket:
    kind, key = _text(payload, "type"), _text(payload, "key")
    assert kind is not None and key is not None
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown event type {kind!r}", "type")
    content = digest(payload)
    prior = await _prior(key, content, conn)
    if prior is not None:
        return prior
    event = await Event.create(key=key, digest=content, type=kind, payload=dict(payload), occurred_at=now, using_db=conn)
    queues = await handler(conn, payload, now)
    await _enqueue_items(conn, event.id, queues)
    return Ticket(event.id, key, kind, False, queues)


async def _prior(key: str, content: str, conn: BaseDBAsyncClient | None = None) -> Ticket | None:
    query = Event.get_or_none(key=key)
    event = await (query.using_db(conn) if conn is not None else query)
    if event is None:
        return None
    if event.digest != content:
        raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"event key {key} was already used with different content", "key")
    return Ticket(event.id, key, event.type, True, [])


async def _enqueue_items(conn: BaseDBAsyncClient, event_id: int, queues: list[str]) -> None:
    await execute_many(conn, "INSERT INTO inbox_item (queue_id, event_id, status, created_at) VALUES (?, ?, 'PENDING', CURRENT_TIMESTAMP)", [(q, event_id) for q in queues])
    model = {"od": "order_dividend", "uq": "union_queue"}
    for q in queues:
        await execute(
            conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES (?, ?, 1, 0, 0, 0, '{}', CURRENT_TIMESTAMP) "
            "ON CONFLICT (id) DO NOTHING", (q, model.get(q, "queue_rebate")),
        )


async def _order_paid(conn: BaseDBAsyncClient, p: Mapping[str, Any], now: datetime) -> list[str]:
    order_id = _text(p, "order")
    member_id = _text(p, "member")
    try:
        channel = Channel(p.get("channel", "MALL"))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"channel must be one of {', '.join(c.value for c in Channel)}", "channel") from None
    store_id, cashier_id = _text(p, "store", False), _text(p, "cashier", False)
    profit = parse_amount(p["profit"], "profit") if p.get("profit") is not None else None
    if not await Member.filter(id=member_id).using_db(conn).exists():
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member_id} does not exist", "member")
    if await Order.filter(id=order_id).using_db(conn).exists():
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order_id} was already reported paid (under another key)", "order")
    store, cashier = await _store_and_cashier(conn, channel, store_id, cashier_id)
    lines = _lines(p.get("lines"), channel)
    products = {x.id: x for x in await Product.filter(id__in=[ln["product"] for ln in lines if ln["product"]]).using_db(conn)}
    plugin = await _settings("queue_rebate", conn)
    amount = sum((ln["paid"] for ln in lines), Decimal("0.00"))
    await Order.create(
        id=order_id, member_id=member_id, channel=channel.value, store_id=store_id, cashier_id=cashier_id,
        profit_fen=to_fen(profit) if profit is not None else None, amount_fen=to_fen(amount), status="PAID", paid_at=now, using_db=conn,
    )
    queues: list[str] = []
    rows = []
    for i, ln in enumerate(lines):
        product = products.get(ln["product"]) if ln["product"] else None
        if ln["product"] and product is None:
            raise DomainError(ErrorCode.UNKNOWN_PRODUCT, f"product {ln['product']} does not exist", f"lines.{i}.product")
        ctx = line_context(f"{order_id}:{i}", member_id, order_id, i, channel, ln, product, store, cashier, store_id)
        queue = queue_for(ctx, plugin)
        rows.append((order_id, i, ln["product"], ln["quantity"], to_fen(ln["paid"]), to_fen(ln["deduction"]), queue))
        if queue is not None and queue not in queues:
            queues.append(queue)
    await execute_many(conn, "INSERT INTO order_line (order_id, \"index\", product_id, quantity, paid_fen, deduction_fen, queue_id, refunded, extracted, cancelled) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, FALSE, FALSE, FALSE)", rows)
    return queues


def line_context(
    key: str, member: str, order: str, index: int, channel: Channel, ln: Mapping[str, Any], product: Product | None,
    store: Store | None, cashier: Cashier | None, store_id: str | None,
) -> LineContext:
    """The domain's view of one order line (used at intake for scoping, by the worker for rating)."""
    info = None
    if product is not None:
        info = ProductInfo(product.id, Source(product.source), product.store_id, product.listed, EntitySettings.parse(product.queue_rebate))
    return LineContext(
        key=key, member=member, order=order, index=index, channel=channel, paid=ln["paid"], deduction=ln["deduction"],
        product=info, store=(info.store if info and info.store else store_id),
        store_settings=EntitySettings.parse(store.queue_rebate if store else None),
        cashier_settings=EntitySettings.parse(cashier.queue_rebate if cashier else None),
    )


async def _store_and_cashier(conn: BaseDBAsyncClient, channel: Channel, store_id: str | None, cashier_id: str | None) -> tuple[Store | None, Cashier | None]:
    if channel is not Channel.MALL and store_id is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"a {channel.value} order needs its store", "store")
    store = await Store.get_or_none(id=store_id).using_db(conn) if store_id else None
    if store_id and store is None:
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store_id} does not exist", "store")
    cashier = await Cashier.get_or_none(id=cashier_id).using_db(conn) if cashier_id else None
    if cashier_id and (cashier is None or cashier.store_id != store_id):
        raise DomainError(ErrorCode.UNKNOWN_CASHIER, f"cashier {cashier_id} does not exist in store {store_id}", "cashier")
    if channel is Channel.CASHIER and cashier_id is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "a CASHIER payment needs its cashier", "cashier")
    return store, cashier


def _lines(raw: Any, channel: Channel) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise DomainError(ErrorCode.INVALID_INPUT, "an order needs at least one line", "lines")
    lines = []
    for i, ln in enumerate(raw):
        if not isinstance(ln, Mapping):
            raise DomainError(ErrorCode.INVALID_INPUT, f"line {i} must be an object", f"lines.{i}")
        product = ln.get("product")
        if product is None and channel is not Channel.CASHIER:
            raise DomainError(ErrorCode.INVALID_INPUT, "a mall or store line needs its product", f"lines.{i}.product")
        quantity = ln.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise DomainError(ErrorCode.INVALID_INPUT, "quantity must be a whole number >= 1", f"lines.{i}.quantity")
        lines.append({
            "product": product, "quantity": quantity,
            "paid": parse_amount(ln.get("paid"), f"lines.{i}.paid"),
            "deduction": parse_amount(ln.get("deduction") or "0", f"lines.{i}.deduction"),
        })
    return lines


async def _order(conn: BaseDBAsyncClient, p: Mapping[str, Any]) -> Order:
    order_id = _text(p, "order")
    order = await Order.get_or_none(id=order_id).using_db(conn)
    if order is None:
        raise DomainError(ErrorCode.UNKNOWN_ORDER, f"order {order_id} was never reported paid", "order")
    return order


async def _line_queues(conn: BaseDBAsyncClient, order_id: str, line: int | None = None) -> list[str]:
    query = OrderLine.filter(order_id=order_id, queue_id__not_isnull=True).using_db(conn)
    if line is not None:
        query = query.filter(index=line)
    return sorted({x.queue_id for x in await query if x.queue_id})


async def _per_order_queues(conn: BaseDBAsyncClient) -> list[str]:
    ids = {"order_dividend": "od", "union_queue": "uq"}
    return [ids[m] for m in PER_ORDER_MODELS if (await _settings(m, conn)).enabled]


async def _order_completed(conn: BaseDBAsyncClient, p: Mapping[str, Any], now: datetime) -> list[str]:
    order = await _order(conn, p)
    if order.status != "PAID":
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order.id} is {order.status}, only a PAID order can complete", "order")
    order.status, order.completed_at = "COMPLETED", now
    await order.save(using_db=conn, update_fields=["status", "completed_at"])
    return await _line_queues(conn, order.id) + await _per_order_queues(conn)


async def _order_refunded(conn: BaseDBAsyncClient, p: Mapping[str, Any], now: datetime) -> list[str]:
    """M-5: a whole order or one line; a refunded line cannot be refunded again."""
    order = await _order(conn, p)
    line = p.get("line")
    if order.status == "REFUNDED":
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order.id} is already refunded", "order")
    lines = OrderLine.filter(order_id=order.id, refunded=False).using_db(conn)
    if line is not None:
        if isinstance(line, bool) or not isinstance(line, int) or not await lines.filter(index=line).exists():
            raise DomainError(ErrorCode.INVALID_INPUT, f"order {order.id} has no unrefunded line {line!r}", "line")
        lines = lines.filter(index=line)
    await lines.update(refunded=True)
    if not await OrderLine.filter(order_id=order.id, refunded=False).using_db(conn).exists():
        order.status, order.refunded_at = "REFUNDED", now
        await order.save(using_db=conn, update_fields=["status", "refunded_at"])
    queues = await _line_queues(conn, order.id, line)
    return queues + (await _per_order_queues(conn) if order.completed_at is not None else [])


async def _daily_settlement(conn: BaseDBAsyncClient, p: Mapping[str, Any], now: datetime) -> list[str]:
    """UQ-3: the day's settlement runs as an item of the union queue, after what came before it."""
    day = _text(p, "day")
    try:
        date.fromisoformat(str(day))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"day must be an ISO date: {day!r}", "day") from None
    return ["uq"] if (await _settings("union_queue", conn)).enabled else []


_HANDLERS = {
    "order.paid": _order_paid, "order.completed": _order_completed, "order.refunded": _order_refunded,
    "union_queue.daily_settlement": _daily_settlement,
}
