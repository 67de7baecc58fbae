"""Durable, idempotent intake of settlement events (C-6, C-8, M-5, I-2).

A report is validated, written as an `event` row (unique key + content digest) with one inbox
item per queue it concerns, and committed; only then are the queues' drain jobs enqueued. The
same key with the same content returns the first ticket; with other content it is refused.

Intake is set-based (`services.intake_bulk` holds the snapshot, `store.intake` its reads and writes): one transaction per call reads
in a few queries everything the events reference, validates each event in input order against
that snapshot plus what the earlier accepted events of the call changed, then writes every
accepted event's rows with a handful of multi-row statements. A refused event changes nothing,
so the outcome is exactly that of recording the events one after another.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from domain.appreciation import positive_amount
from domain.distribution import check_region, is_period_key
from domain.errors import DomainError, ErrorCode
from domain.money import check_deduction, parse_amount, to_fen
from domain.queue_rebate_settings import Channel, EntitySettings, LineContext, queue_for
from services import intake_bulk
from services.intake_bulk import NewOrder, OrderState, Snapshot

log = logging.getLogger("rebate.intake")

PER_ORDER_MODELS = ("order_dividend", "union_queue", "distribution", "points_dividend", "appreciation")  # settle on completion, one queue each
MAX_QUANTITY = 1_000_000  # a line's quantity (C-8): fits the int32 column with room
ORDER_EVENTS = ("order.paid", "order.completed", "order.refunded")
_PER_ORDER_QUEUE = {"order_dividend": "od", "union_queue": "uq", "distribution": "dr", "points_dividend": "pd", "appreciation": "ca"}


@dataclass(slots=True)
class Ticket:
    """What a settling mutation returns (I-2): the event id, and whether it was a replay."""

    id: int
    key: str
    type: str
    duplicate: bool = False
    queues: list[str] = field(default_factory=list)


# Idempotency keys are scoped by who may create them (C-6): the platform's callers (staff keys,
# the integration, replay, the crons) share one scope, each member has its own. A caller sees
# and sends its own key unchanged; another scope's keys neither conflict with it nor show.
PLATFORM_SCOPE = ""


def member_scope(member_id: str) -> str:
    """The key scope of a member's own events (draw, exchange)."""
    return f"member:{member_id}"


def digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


ID_FIELDS = frozenset({"order", "member", "store", "cashier"})  # stored in 64-character columns


def _text(payload: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    longest = 64 if name in ID_FIELDS else 200
    if not isinstance(value, str) or not value or len(value) > longest:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must be a non-empty string of at most {longest} characters", name)
    return value


async def record(payload: Mapping[str, Any], now: datetime, scope: str = PLATFORM_SCOPE) -> Ticket:
    """Validate and record one settlement event; the caller enqueues `ticket.queues` after.

    Concurrent twins: the unique event key lets one of them write; the others fail on it, retry
    and find the winner's event, so all of them return its ticket."""
    result = (await _run([payload], [now], prior_first=True, scope=scope))[0]
    if isinstance(result, Exception):
        raise result
    return result


async def record_many(payloads: list[Mapping[str, Any]], now: datetime, scope: str = PLATFORM_SCOPE) -> list[Ticket | DomainError]:
    """Bulk intake (the mall backend's batch report), in one transaction: each event is accepted
    or refused on its own as if recorded one after another (a refused event writes nothing, a
    later event sees what the earlier accepted ones did). Results keep the input order."""
    if not payloads:
        return []
    results = await _run(list(payloads), [now] * len(payloads), prior_first=False, scope=scope)
    assert all(isinstance(r, (Ticket, DomainError)) for r in results), "without isolation only a DomainError is an outcome"
    return cast(list[Ticket | DomainError], results)


async def record_group(reports: list[tuple[Mapping[str, Any], datetime]], scope: str = PLATFORM_SCOPE) -> list[Ticket | Exception]:
    """The single reports of independent callers (`services.group_commit`), each with its own
    time, in one transaction: each outcome is what `record` would have answered that caller had
    the reports come one after another, in this order — its ticket (a replay's too), or the
    error that refused it (a DomainError, or whatever else its validation raised); a refused
    report writes nothing. An exception raised here (the write or the commit failed) is every
    caller's: then nothing was written. Nothing is logged here: each caller logs its own ticket
    (`log_ticket`), so that the line carries that caller's request id."""
    if not reports:
        return []
    return await _run([p for p, _ in reports], [t for _, t in reports], prior_first=True, scope=scope, isolate=True, logged=False)


async def _run(payloads: list[Mapping[str, Any]], nows: list[datetime], prior_first: bool, scope: str, isolate: bool = False,
               logged: bool = True) -> list[Ticket | Exception]:
    nows = [now if now.tzinfo is not None else now.replace(tzinfo=UTC) for now in nows]  # a naive time is UTC, as the ORM stores it
    outcomes = await intake_bulk.run(payloads, nows, lambda snap: _Intake(snap, prior_first), scope, isolate)
    tickets = [_ticket(o) for o in outcomes]
    for t in tickets if logged else ():
        if isinstance(t, Ticket):
            log_ticket(t)
    return tickets


def log_ticket(ticket: Ticket) -> None:
    """The event's log line (in the caller's context: its request id)."""
    log.info("event %s %s", ticket.key, "already recorded" if ticket.duplicate else "recorded",
             extra={"event_key": ticket.key, "event_id": ticket.id, "queue_ids": ticket.queues})


def _ticket(outcome: intake_bulk.Outcome | Exception) -> Ticket | Exception:
    if isinstance(outcome, intake_bulk.Replay):
        event = outcome.event
        assert event.id is not None
        return Ticket(event.id, event.key, event.type, True, [])
    if isinstance(outcome, intake_bulk.KnownEvent):
        assert outcome.id is not None
        return Ticket(outcome.id, outcome.key, outcome.type, False, list(outcome.queues))
    return outcome


# --- validation of one event against the snapshot (no I/O) -------------------------------------

Apply = Callable[[], None]


class _Intake:
    """Validates the events of one call in order. A handler checks everything first and returns
    the queues and a function that applies the event to the snapshot, so a refusal changes nothing."""

    def __init__(self, snap: Snapshot, prior_first: bool) -> None:
        self.snap, self.prior_first = snap, prior_first
        self.now = datetime.now(UTC)  # the report time of the event being validated

    def __call__(self, payload: Mapping[str, Any], now: datetime) -> intake_bulk.Outcome:
        """One event reported at `now`: a new event to write, the ticket of a prior one, or the refusal."""
        self.now = now
        kind, key = _text(payload, "type"), _text(payload, "key")
        assert kind is not None and key is not None
        content = digest(payload) if self.prior_first else None
        if content is not None and (prior := self._prior(key, content)) is not None:
            return prior  # `record` answers a replay before it looks at the type
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise DomainError(ErrorCode.INVALID_INPUT, f"unknown event type {kind!r}", "type")
        content = content or digest(payload)
        if (prior := self._prior(key, content)) is not None:
            return prior
        encoded = intake_bulk.encode_payload(payload)
        queues, apply = handler(self, payload)
        apply()
        return self.snap.accept(key, content, kind, encoded, queues, now)

    def _prior(self, key: str, content: str) -> intake_bulk.Outcome | None:
        known = self.snap.events.get(key)
        if known is None:
            return None
        if known.digest != content:
            raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"event key {key} was already used with different content", "key")
        return known.replay()

    def order(self, p: Mapping[str, Any]) -> OrderState:
        order_id = _text(p, "order")
        assert order_id is not None
        order = self.snap.orders.get(order_id)
        if order is None:
            raise DomainError(ErrorCode.UNKNOWN_ORDER, f"order {order_id} was never reported paid", "order")
        return order

    def per_order_queues(self) -> list[str]:
        return [_PER_ORDER_QUEUE[m] for m in PER_ORDER_MODELS if self.snap.settings(m).enabled]


def _order_paid(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    snap = v.snap
    order_id = _text(p, "order")
    member_id = _text(p, "member")
    assert order_id is not None and member_id is not None
    try:
        channel = Channel(p.get("channel", "MALL"))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"channel must be one of {', '.join(c.value for c in Channel)}", "channel") from None
    store_id, cashier_id = _text(p, "store", False), _text(p, "cashier", False)
    profit = parse_amount(p["profit"], "profit") if p.get("profit") is not None else None
    region = check_region(p["region"]) if p.get("region") is not None else None
    if member_id not in snap.members:
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member_id} does not exist", "member")
    if snap.order_exists(order_id):
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order_id} was already reported paid (under another key)", "order")
    store_settings, cashier_settings = _store_and_cashier(snap, channel, store_id, cashier_id)
    lines = _lines(p.get("lines"), channel)
    plugin = snap.settings("queue_rebate")
    amount = sum((ln["paid"] for ln in lines), Decimal("0.00"))
    queues: list[str] = []
    rows = []
    for i, ln in enumerate(lines):
        product = snap.products.get(ln["product"]) if ln["product"] and isinstance(ln["product"], str) else None
        if ln["product"] and product is None:
            raise DomainError(ErrorCode.UNKNOWN_PRODUCT, f"product {ln['product']} does not exist", f"lines.{i}.product")
        info = snap.product_info(product) if product is not None else None
        ctx = LineContext(
            key=f"{order_id}:{i}", member=member_id, order=order_id, index=i, channel=channel, paid=ln["paid"], deduction=ln["deduction"],
            product=info, store=(info.store if info and info.store else store_id),
            store_settings=store_settings(), cashier_settings=cashier_settings(),
        )
        queue = queue_for(ctx, plugin)
        rows.append((order_id, i, ln["product"], ln["quantity"], to_fen(ln["paid"]), to_fen(ln["deduction"]), queue))
        if queue is not None and queue not in queues:
            queues.append(queue)
    order = NewOrder(
        id=order_id, member_id=member_id, channel=channel.value, store_id=store_id, cashier_id=cashier_id,
        profit_fen=to_fen(profit) if profit is not None else None, amount_fen=to_fen(amount), paid_at=v.now, lines=rows, region=region,
    )
    return queues, lambda: snap.add_order(order)


def _store_and_cashier(snap: Snapshot, channel: Channel, store_id: str | None, cashier_id: str | None) -> tuple[Callable[[], EntitySettings], Callable[[], EntitySettings]]:
    """The checks of the payment's store and cashier; returns their settings (parsed when a line needs them)."""
    if channel is not Channel.MALL and store_id is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"a {channel.value} order needs its store", "store")
    store = snap.stores.get(store_id) if store_id else None
    if store_id and store is None:
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store_id} does not exist", "store")
    cashier = snap.cashiers.get(cashier_id) if cashier_id else None
    if cashier_id and (cashier is None or cashier.store_id != store_id):
        raise DomainError(ErrorCode.UNKNOWN_CASHIER, f"cashier {cashier_id} does not exist in store {store_id}", "cashier")
    if channel is Channel.CASHIER and cashier_id is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "a CASHIER payment needs its cashier", "cashier")
    return (lambda: intake_bulk.entity_settings(store.queue_rebate if store else None)), (lambda: intake_bulk.entity_settings(cashier.queue_rebate if cashier else None))


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
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise DomainError(ErrorCode.INVALID_INPUT, f"quantity must be a whole number within 1..{MAX_QUANTITY}", f"lines.{i}.quantity")
        paid = parse_amount(ln.get("paid"), f"lines.{i}.paid")
        deduction = parse_amount(ln.get("deduction") or "0", f"lines.{i}.deduction")
        check_deduction(paid, deduction, f"lines.{i}.deduction")
        lines.append({"product": product, "quantity": quantity, "paid": paid, "deduction": deduction})
    return lines


def _order_completed(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    order = v.order(p)
    if order.status != "PAID":
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order.id} is {order.status}, only a PAID order can complete", "order")
    queues = order.line_queues() + v.per_order_queues()
    return queues, lambda: order.complete(v.now)


def _order_refunded(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """M-5: a whole order or one line; a refunded line cannot be refunded again."""
    order = v.order(p)
    line = p.get("line")
    if order.status == "REFUNDED":
        raise DomainError(ErrorCode.INVALID_ORDER_STATE, f"order {order.id} is already refunded", "order")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line not in order.unrefunded()):
        raise DomainError(ErrorCode.INVALID_INPUT, f"order {order.id} has no unrefunded line {line!r}", "line")
    queues = order.line_queues(line) + (v.per_order_queues() if order.completed else [])
    return queues, lambda: order.refund(line, v.now)


def _day(p: Mapping[str, Any]) -> None:
    """A daily job's `day`: an ISO date."""
    day = _text(p, "day")
    try:
        date.fromisoformat(str(day))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"day must be an ISO date: {day!r}", "day") from None


def _daily_settlement(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """UQ-3: the day's settlement runs as an item of the union queue, after what came before it."""
    _day(p)
    return (["uq"] if v.snap.settings("union_queue").enabled else []), lambda: None


def _shareholder_dividend(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """DR-6: a period's dividend runs as an item of the distribution queue (period: 2026-01-05, 2026-W02 or 2026-01)."""
    period = _text(p, "period")
    if not is_period_key(str(period)):
        raise DomainError(ErrorCode.INVALID_INPUT, f"period must be a day, an ISO week or a month: {period!r}", "period")
    return (["dr"] if v.snap.settings("distribution").enabled else []), lambda: None


def _daily_release(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """PD-9: the day's points release runs as an item of the `pd` queue, after what came before it."""
    _day(p)
    return (["pd"] if v.snap.settings("points_dividend").enabled else []), lambda: None


def _points_sell(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """CA-3: a sale of appreciation points, settled by the pool's queue in order with its orders."""
    member = _text(p, "member")
    positive_amount(p.get("points"), "points")
    if member not in v.snap.members:
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member} does not exist", "member")
    return ["ca"], lambda: None


def _appreciation_subsidy(v: _Intake, p: Mapping[str, Any]) -> tuple[list[str], Apply]:
    """CA-5: funds injected into the appreciation pool."""
    positive_amount(p.get("amount"), "amount")
    return ["ca"], lambda: None


_HANDLERS: dict[str, Callable[[_Intake, Mapping[str, Any]], tuple[list[str], Apply]]] = {
    "order.paid": _order_paid, "order.completed": _order_completed, "order.refunded": _order_refunded,
    "union_queue.daily_settlement": _daily_settlement,
    "distribution.shareholder_dividend": _shareholder_dividend,
    "points_dividend.daily_release": _daily_release,
    "points.sell": _points_sell, "appreciation.subsidy": _appreciation_subsidy,
}
