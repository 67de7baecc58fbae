"""排队返利 member actions and scheduled resets, recorded as events that the queue's worker settles
in inbox order, so they serialize with the payouts of that queue (C-6, C-7, QR-12, QR-14, QR-16).

- `record_action`: `entitlement.draw` (抽奖, QR-12) and `entitlement.exchange` (兑换, QR-14).
  Checked here against the stored state (a typed error, nothing written) and again by the worker
  when it settles, since a payout may have landed in between (the item is then FAILED).
- `run_due_resets`: the 队列奖励清零 schedule (QR-16): one `queue_rebate.reset` event per queue
  with WAITING entitlements for the latest due run, remembered in `job_run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.money import from_fen
from domain.queue_rebate_features import ExchangeTarget, LotterySettings, due_runs
from domain.queue_rebate_settings import Channel, EntitySettings, LineContext, PluginSettings, ProductInfo, Source, lottery_at
from services.intake import PLATFORM_SCOPE, Ticket, digest
from services.model_settings import load_settings
from services.runtime import platform_zone
from store import db, inbox, jobs
from store import queue_rebate as store
from store.db import Connection, IntegrityError

DRAW = "entitlement.draw"
EXCHANGE = "entitlement.exchange"
RESET = "queue_rebate.reset"
ACTIONS = (DRAW, EXCHANGE)
_FIELDS = {DRAW: {"type", "key", "entitlement", "member"}, EXCHANGE: {"type", "key", "entitlement", "member", "to"}}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"  # job_run.day of a reset: the local instant, sortable as text


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must be a non-empty string", name)
    return value


async def record_action(payload: Mapping[str, Any], now: datetime, scope: str = PLATFORM_SCOPE) -> Ticket:
    """Validate and record a member action; the caller enqueues `ticket.queues` after (I-2).

    The key is the caller's, in its key `scope` (`services.intake.member_scope` for a member):
    the same key with the same content returns the first ticket; with other content it is
    refused with IDEMPOTENCY_CONFLICT (as `services.intake.record`). Another scope's key is
    never seen.
    """
    kind, key = _text(payload, "type"), _text(payload, "key")
    if kind not in ACTIONS:
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown action {kind!r}; one of {', '.join(ACTIONS)}", "type")
    unknown = sorted(set(payload) - _FIELDS[kind])
    if unknown:
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown field {unknown[0]!r} in {kind}", unknown[0])
    content = digest(payload)
    prior = await _prior(scope, key, content)
    if prior is not None:
        return prior
    try:
        async with db.writing() as conn:
            prior = await _prior(scope, key, content, conn)
            if prior is not None:
                return prior
            queue = await _validate(conn, kind, payload)
            return await _record_event(conn, payload, now, [queue], scope)
    except IntegrityError:
        prior = await _prior(scope, key, content)  # a concurrent twin committed first
        if prior is None:
            raise
        return prior


async def _prior(scope: str, key: str, content: str, conn: Connection | None = None) -> Ticket | None:
    event = await inbox.event_by_key(scope, key, conn)
    if event is None:
        return None
    if event.digest != content:
        raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"event key {key} was already used with different content", "key")
    return Ticket(event.id, key, event.type, True, [])


async def _record_event(conn: Connection, payload: Mapping[str, Any], now: datetime, queues: list[str], scope: str = PLATFORM_SCOPE) -> Ticket:
    event_id = await inbox.record_event(conn, scope, payload["key"], digest(payload), payload["type"], payload, now, queues)
    return Ticket(event_id, str(payload["key"]), str(payload["type"]), False, queues)


async def _validate(conn: Connection, kind: str, payload: Mapping[str, Any]) -> str:
    """The checks a member action must pass now; returns the entitlement's queue."""
    key = _text(payload, "entitlement")
    row = await store.entitlement_row(conn, key)
    if row is None:
        raise DomainError(ErrorCode.UNKNOWN_ENTITLEMENT, f"queue rebate entitlement {key} does not exist (yet)", "entitlement")
    if payload.get("member") is not None and payload.get("member") != row["member_id"]:
        raise DomainError(ErrorCode.FORBIDDEN, f"entitlement {key} is not member {payload.get('member')}'s", "member")
    plugin: PluginSettings = await load_settings("queue_rebate", conn)
    if row["status"] != "WAITING":
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {key} is {row['status']}; only a WAITING one may {kind.split('.')[1]}", "entitlement")
    if kind == EXCHANGE:
        check_exchange(plugin, payload.get("to"))
    else:
        check_draw(key, int(row["received_fen"]), row["drawn_ratio"], row["lottery_source"])
        if await offered_lottery(conn, row["order_id"], int(row["line"]), row["lottery_source"], plugin) is None:
            raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"the lottery {row['lottery_source']} of entitlement {key} is no longer offered", "entitlement")
    return str(row["queue_id"])


def check_exchange(plugin: PluginSettings, to: Any) -> ExchangeTarget:
    """QR-14 / QR-17: the target is offered, exchange is on, and the queue rebate is not paused."""
    try:
        target = ExchangeTarget(to)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"to must be one of POINTS, LOVE_VALUE, COUPON: {to!r}", "to") from None
    if not plugin.exchange_enabled:
        raise DomainError(ErrorCode.INVALID_INPUT, "exchange is not enabled in the queue rebate settings", "to")
    if target not in plugin.exchange_to:
        raise DomainError(ErrorCode.INVALID_INPUT, f"exchange to {target.value} is not offered", "to")
    if plugin.paused:
        raise DomainError(ErrorCode.INVALID_INPUT, "the queue rebate is paused: nothing is paid until it is resumed", "to")
    return target


def check_draw(key: str, received_fen: int, drawn_ratio: Any, lottery_source: str) -> None:
    """QR-12 before the worker's own check: nothing received, not drawn, a lottery on offer."""
    if received_fen != 0:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {key} has already received {from_fen(received_fen)}; it may no longer draw", "entitlement")
    if drawn_ratio is not None:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"entitlement {key} has already drawn {drawn_ratio}", "entitlement")
    if not lottery_source:
        raise DomainError(ErrorCode.INVALID_ENTITLEMENT_STATE, f"no lottery applies to entitlement {key}", "entitlement")


async def offered_lottery(conn: Connection, order_id: str, index: int, source: str, plugin: PluginSettings) -> LotterySettings | None:
    """The lottery named by `source` (recorded on the entitlement when it joined) as the product /
    store / cashier / plugin settings define it now; None when it is no longer set."""
    if not source:
        return None
    if source == "plugin.lottery":
        return plugin.lottery
    found = await store.line_of(conn, order_id, index)
    if found is None:
        return None
    order, line, product, shop, cashier = found
    store_id = product.store_id if product is not None and product.store_id else order.store_id
    info = ProductInfo(product.id, Source(product.source), product.store_id, product.listed, EntitySettings.parse(product.queue_rebate)) if product else None
    ctx = LineContext(
        key=f"{order_id}:{index}", member=order.member_id, order=order_id, index=index, channel=Channel(order.channel),
        paid=from_fen(line.paid_fen), deduction=from_fen(line.deduction_fen), product=info, store=store_id,
        store_settings=EntitySettings.parse(shop.queue_rebate if shop else None),
        cashier_settings=EntitySettings.parse(cashier.queue_rebate if cashier else None),
    )
    return lottery_at(ctx, plugin, source)


# ---------------------------------------------------------------------------------------------
# QR-16 reset


def local_naive(when: datetime) -> datetime:
    """`when` in the platform's zone, without the zone (C-9), to the second."""
    return when.astimezone(platform_zone()).replace(tzinfo=None, microsecond=0)


def local_to_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=platform_zone()).astimezone(UTC)


async def arm_reset(conn: Connection, now: datetime) -> None:
    """Remember `now` as the reset's last run, so only runs scheduled after it are due (called
    when the reset is switched on or its schedule changes, and on the first tick without a run)."""
    await jobs.arm(conn, RESET, local_naive(now).strftime(LOCAL_FORMAT))


async def last_reset(conn: Connection) -> datetime | None:
    """The local instant of the last reset run (or arming): the greatest `job_run.day` of the job."""
    day = await jobs.last_day(conn, RESET)
    return datetime.strptime(day, LOCAL_FORMAT) if day is not None else None


async def run_due_resets(now: datetime) -> list[Ticket]:
    """QR-16: when a scheduled reset is due (at or before `now`, platform-local), record one
    `queue_rebate.reset` event per queue that has WAITING entitlements, once per due run.

    Runs missed meanwhile (the worker was down) collapse into one: the latest. Idempotent: the
    due run is written to `job_run` in the same transaction as the events, a second call finds it.
    """
    plugin: PluginSettings = await load_settings("queue_rebate")
    if not plugin.enabled or not plugin.reset.enabled:
        return []
    try:
        async with db.writing() as conn:
            last = await last_reset(conn)
            if last is None:
                await arm_reset(conn, now)
                return []
            runs = due_runs(plugin.reset, last, local_naive(now))
            if not runs:
                return []
            return await _record_reset(conn, runs[-1], now)
    except IntegrityError:
        return []  # another process recorded this run first


async def _record_reset(conn: Connection, run: datetime, now: datetime) -> list[Ticket]:
    day = run.strftime(LOCAL_FORMAT)
    await jobs.record_run(conn, RESET, day)
    tickets = []
    for queue in await store.queues_with_waiting(conn):
        payload = {"type": RESET, "key": f"{RESET}:{queue}:{day}", "queue": queue, "run": day, "before": local_to_utc(run).isoformat()}
        tickets.append(await _record_event(conn, payload, now, [queue]))
    return tickets
