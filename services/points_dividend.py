"""积分分红 batch handler of the `pd` queue (PD-1..PD-10), serialized by `services.settlement`.

Completed orders open plans (PD-1) and add to the team tree's totals (delta rows, folded at the
end of the batch); refunds cancel plans (PD-10) and take the order's performance back; admin
adjustments `points.adjust` move POINTS with a reason (PD-7). The daily release (PD-9) is an
item of the queue: it folds every pending delta first (tiers as the run starts), then streams
the tree deepest first in chunks of `CHUNK` members, one fenced transaction per chunk; the
one-pass aggregation's state, the cursor and the day's totals live in `job_run`, so a run cut
between chunks resumes exactly, and a finished day releases nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import points_dividend as pd
from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Wallet, member_account
from domain.money import from_fen, parse_amount, to_fen
from domain.points_dividend_settings import PointsDividendSettings
from domain.team_accelerations import AccelerationPass
from services import team_tree
from services.batch import Batch, Item
from services.intake import PLATFORM_SCOPE, Ticket, digest
from services.model_settings import load_settings
from services.runtime import platform_zone
from store import db, inbox, jobs
from store import intake as intake_rows
from store import points_dividend as store
from store import team_tree as tree
from store.catalog import referrer_of
from store.db import Connection, IntegrityError
from store.orders import orders_with_referrers

QUEUE = "pd"
DAILY_RELEASE = "points_dividend.daily_release"
ADJUST = "points.adjust"
CHUNK = 5000  # members per transaction of a daily release
_ADJUST_FIELDS = {"type", "key", "member", "amount", "reason"}


async def settle_points_dividend(batch: Batch) -> None:
    settings: PointsDividendSettings = await load_settings(pd.MODEL, batch.conn)
    new: dict[str, pd.Plan] = {}
    changed: dict[str, pd.Plan] = {}
    for item in batch.items:
        try:
            if item.type == DAILY_RELEASE:
                await store.insert_plans(batch.conn, new.values())
                await store.update_plans(batch.conn, changed.values())
                new, changed = {}, {}
                if not await _daily(batch, item, settings):
                    batch.resume_at = item.id
                    break
            elif item.type == "order.completed":
                await _completed(batch, item, settings, new)
            elif item.type == "order.refunded":
                await _refunded(batch, item, new, changed)
            elif item.type == ADJUST:
                await _adjust(batch, item)
        except DomainError as exc:
            batch.failed[item.id] = f"{exc.code.value}: {exc.message}"
    await store.insert_plans(batch.conn, new.values())
    await store.update_plans(batch.conn, changed.values())
    await team_tree.fold(batch.conn)


async def _completed(batch: Batch, item: Item, settings: PointsDividendSettings, new: dict[str, pd.Plan]) -> None:
    order = str(item.payload["order"])
    facts = await _order(batch.conn, order)
    if facts is None:
        return
    member, referrer, lines = facts
    paid = sum(p for _, _, p, _ in lines)
    points = sum(d for _, _, _, d in lines)
    await tree.add_deltas(batch.conn, [(f"order:{order}:completed", member, referrer, order, 0, paid, points)])
    amount = pd.order_amount(((product or "", from_fen(p)) for _, product, p, _ in lines), settings)
    if order in new or await store.plan_by_key(batch.conn, order) is not None:
        return
    plan, postings = pd.open_plan(order, member, amount, item.event_id, settings)
    if plan is not None:
        new[order] = plan
        batch.post(postings, item)


async def _refunded(batch: Batch, item: Item, new: dict[str, pd.Plan], changed: dict[str, pd.Plan]) -> None:
    """PD-10: a whole refund cancels the plan and takes the order's performance back; a line refund
    takes that line's amount back (the plan stays)."""
    order = str(item.payload["order"])
    facts = await _order(batch.conn, order)
    if facts is None:
        return
    member, referrer, lines = facts
    line = item.payload.get("line")
    if line is None:
        paid, points = await tree.order_counted(batch.conn, order)
        plan = new.get(order) or changed.get(order) or await store.plan_by_key(batch.conn, order)
        if plan is not None:
            cancelled, postings = pd.cancel_plan(plan)
            (new if order in new else changed)[order] = cancelled
            batch.post(postings, item)
    else:
        found = [(p, d) for i, _, p, d in lines if i == line]
        paid, points = found[0] if found else (0, 0)
    if paid or points:
        await tree.add_deltas(batch.conn, [(f"order:{order}:refunded:{'all' if line is None else line}", member, referrer, order, 0, -paid, -points)])


async def _order(conn: Connection, order: str) -> tuple[str, str | None, list[tuple[int, str | None, int, int]]] | None:
    """The order's member, that member's referrer in the tree, and its lines."""
    rows = await orders_with_referrers(conn, [order])
    if not rows:
        return None
    lines = (await store.order_lines(conn, [order])).get(order, [])
    node = (await tree.nodes(conn, [rows[0]["member_id"]])).get(rows[0]["member_id"])
    return rows[0]["member_id"], node.parent if node is not None else rows[0]["referrer_id"], lines


async def _adjust(batch: Batch, item: Item) -> None:
    """PD-7, checked again here: payouts may have landed since the adjustment was recorded."""
    p = item.payload
    member = str(p["member"])
    available = await batch.balance(member_account(member, Wallet.POINTS), Asset.POINTS)
    batch.post(pd.adjust_points(str(p["key"]), member, Decimal(str(p["amount"])), available, str(p["reason"])), item)


# --- the daily release (PD-9) ------------------------------------------------------------------


def release_day(now: datetime) -> str:
    """The platform-local day of `now` (C-9)."""
    return now.astimezone(platform_zone()).date().isoformat()


def daily_release_event(now: datetime, day: str | None = None) -> dict[str, Any]:
    """The release of a platform-local day (default: the day of `now`), keyed by the day."""
    day = day or release_day(now)
    try:
        date.fromisoformat(day)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"day must be YYYY-MM-DD: {day!r}", "day") from None
    return {"type": DAILY_RELEASE, "key": f"{DAILY_RELEASE}:{day}", "day": day}


async def _daily(batch: Batch, item: Item, settings: PointsDividendSettings) -> bool:
    """One chunk of the day's release; True when the day is finished (or was already)."""
    day = str(item.payload["day"])
    state = await jobs.run_state(batch.conn, DAILY_RELEASE, day)
    if state is None:
        await team_tree.fold(batch.conn)  # PD-9: tiers as team performance stands when the run starts
        state = {"cursor": None, "pass": None, "members": 0, "static_fen": 0, "share_fen": 0, "team_fen": 0, "same_level_fen": 0, "done": False}
        await jobs.start_run(batch.conn, DAILY_RELEASE, day, state)
    if state.get("done"):
        return True
    if not settings.enabled:
        await jobs.save_run(batch.conn, DAILY_RELEASE, day, {**state, "done": True}, state["members"], True)
        return True
    run = AccelerationPass.restore(settings.acceleration_rules, state["pass"])
    layer = await tree.layer_after(batch.conn, tuple(state["cursor"]) if state["cursor"] else None, CHUNK)
    plans = await store.releasing_plans(batch.conn, [r["member_id"] for r in layer], day)
    touched: list[pd.Plan] = []
    for r in layer:
        m = pd.ReleaseMember(r["member_id"], r["referrer_id"], int(r["depth"]), settings.team_level(from_fen(int(r["performance_fen"]))),
                             tuple(plans.get(r["member_id"], ())))
        released = pd.settle_member(day, m, run)
        touched += [p for p in released.plans if p not in m.plans]
        batch.post(list(released.postings), item)
        _payout(batch, item, day, released)
        _count(state, released)
    await store.update_plans(batch.conn, touched)
    finished = len(layer) < CHUNK
    if finished:
        run.finish()
    if layer:
        state["cursor"] = [int(layer[-1]["depth"]), layer[-1]["member_id"]]
    state["pass"], state["done"] = (None if finished else run.snapshot()), finished
    await jobs.save_run(batch.conn, DAILY_RELEASE, day, state, state["members"], finished)
    return finished


def _count(state: dict[str, Any], r: pd.MemberRelease) -> None:
    state["members"] += 1
    if r.already_released:
        return
    state["static_fen"] += to_fen(r.static)
    state["share_fen"] += to_fen(r.paid.share)
    state["team_fen"] += to_fen(r.paid.team)
    state["same_level_fen"] += to_fen(r.paid.same_level)


def _payout(batch: Batch, item: Item, day: str, r: pd.MemberRelease) -> None:
    """One `payouts` message per member released (POINTS), with its breakdown."""
    if r.already_released:
        return
    total = r.static + r.paid.share + r.paid.team + r.paid.same_level
    if total > 0:
        batch.payouts.append({"member": r.member, "amount": str(total), "key": f"pd:{day}:{r.member}", "event": item.event_id, "kind": "points release"})


# --- admin adjustments (PD-7) ------------------------------------------------------------------


async def record_adjustment(payload: Mapping[str, Any], now: datetime) -> Ticket:
    """PD-7: validate an adjustment against the stored points (typed error, nothing written) and
    record it for the `pd` queue; the same key with the same content returns the first ticket."""
    unknown = sorted(set(payload) - _ADJUST_FIELDS)
    if unknown:
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown field {unknown[0]!r} in {ADJUST}", unknown[0])
    key, member = payload.get("key"), payload.get("member")
    if not isinstance(key, str) or not key or len(key) > 200:
        raise DomainError(ErrorCode.INVALID_INPUT, "key must be a non-empty string", "key")
    if not isinstance(payload.get("reason"), str):
        raise DomainError(ErrorCode.INVALID_INPUT, "an adjustment needs a reason", "reason")
    amount = parse_amount(payload.get("amount"), "amount", allow_negative=True)  # type: ignore[arg-type]
    content = digest(payload)
    try:
        async with db.writing() as conn:
            event = await inbox.event_by_key(PLATFORM_SCOPE, key, conn)
            if event is not None:
                if event.digest != content:
                    raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"event key {key} was already used with different content", "key")
                return Ticket(event.id, key, event.type, True, [])
            if not isinstance(member, str) or not await _member_exists(conn, member):
                raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member} does not exist", "member")
            available = from_fen(await store.points_balance(conn, member_account(member, Wallet.POINTS)))
            pd.adjust_points(key, member, amount, available, str(payload["reason"]))
            await intake_rows.ensure_queues(conn, {QUEUE: pd.MODEL})
            event_id = await inbox.record_event(conn, PLATFORM_SCOPE, key, content, ADJUST, payload, now, [QUEUE])
            return Ticket(event_id, key, ADJUST, False, [QUEUE])
    except IntegrityError:
        event = await inbox.event_by_key(PLATFORM_SCOPE, key)
        if event is None or event.digest != content:
            raise
        return Ticket(event.id, key, event.type, True, [])


async def _member_exists(conn: Connection, member: str) -> bool:
    return (await referrer_of(conn, member))[0]


__all__ = ["ADJUST", "DAILY_RELEASE", "QUEUE", "daily_release_event", "record_adjustment", "release_day", "settle_points_dividend"]
