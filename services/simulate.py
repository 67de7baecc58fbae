"""`rebate simulate` (SPEC I-4): project settings over a synthetic order flow through the real
code, on a database of the simulation's own (the caller opens a temporary one).

Given settings as I-6 events (settings and catalog) and a `FlowSpec` (orders per day, amount
distribution, referral shape, days, seed), it creates the members, reports each day's orders
paid and completed through `services.intake`, settles every queue as a burst worker does, runs
the daily jobs of the enabled models at the day's end, and reads the day's figures from the
ledger: new and paid entitlements, liability, pool balances, the wait of a new entitlement and
the platform's net cash (order revenue less what the models credited to members' cash).
Deterministic for a seed: the flow and the engine's random source (C-10) are seeded.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.money import ZERO, money_str, round_half_up
from domain.union_queue import average_daily_inflow, forecast_days
from services import intake, liabilities, queue_rebate
from services.model_settings import load_settings
from services.replay import JOBS, Replay, settle_all
from services.runtime import platform_zone
from store import simulate as store
from store.simulate import platform_snapshot

START = datetime(2026, 1, 1)  # the simulation's first local day
PRODUCT = "SIM-P1"
CATALOG_EVENTS = ("settings", "product", "store", "cashier", "clock", "queue_rebate.bulk_enable")
REFERRALS = ("none", "chain", "tree", "random")


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A synthetic order flow. `amount`: `fixed:100`, `uniform:50:500` or `lognormal:MEDIAN:SIGMA`;
    `referral`: `none`, `chain` (each member referred by the previous one), `tree:K` (a K-ary
    tree) or `random:P` (referred by a random earlier member with probability P)."""

    days: int = 30
    orders_per_day: int = 50
    members: int = 200
    amount: str = "uniform:50:500"
    referral: str = "none"
    seed: int = 1

    def __post_init__(self) -> None:
        for name, value, low in (("days", self.days, 1), ("orders_per_day", self.orders_per_day, 1), ("members", self.members, 1)):
            if not low <= value <= 1_000_000:
                raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must be within 1..1000000: {value}", name)
        self.draw_amount(random.Random(0))
        self.referrer_of(1, random.Random(0))

    def draw_amount(self, rng: random.Random) -> Decimal:
        kind, *args = self.amount.split(":")
        try:
            numbers = [float(a) for a in args]
            if kind == "fixed" and len(numbers) == 1:
                value = numbers[0]
            elif kind == "uniform" and len(numbers) == 2 and numbers[0] <= numbers[1]:
                value = rng.uniform(numbers[0], numbers[1])
            elif kind == "lognormal" and len(numbers) == 2:
                value = numbers[0] * math.exp(rng.gauss(0, numbers[1]))
            else:
                raise ValueError(kind)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_INPUT, f"amount must be fixed:X, uniform:LOW:HIGH or lognormal:MEDIAN:SIGMA: {self.amount!r}", "amount") from None
        amount = round_half_up(Decimal(repr(value)))
        if amount <= 0:
            raise DomainError(ErrorCode.INVALID_INPUT, f"amount draws must be positive: {self.amount!r}", "amount")
        return amount

    def referrer_of(self, index: int, rng: random.Random) -> int | None:
        """The referrer (1-based member number) of member `index`, or None."""
        kind, _, arg = self.referral.partition(":")
        try:
            if kind == "none":
                return None
            if kind == "chain":
                return index - 1 if index > 1 else None
            if kind == "tree" and int(arg) >= 1:
                return (index - 2) // int(arg) + 1 if index > 1 else None
            if kind == "random" and 0 <= float(arg) <= 1:
                return rng.randrange(1, index) if index > 1 and rng.random() < float(arg) else None
            raise ValueError(kind)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_INPUT, f"referral must be none, chain, tree:K or random:P: {self.referral!r}", "referral") from None


@dataclass(frozen=True, slots=True)
class Day:
    day: int
    orders: int
    new_entitlements: int
    paid_entitlements: int
    outstanding: int
    liability: Decimal
    pools: dict[str, Decimal]
    wait_days: int | None  # of an entitlement that joins now, at the trailing 7-day payout pace
    net_cash: Decimal

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["liability"], out["net_cash"] = money_str(self.liability), money_str(self.net_cash)
        out["pools"] = {k: money_str(v) for k, v in self.pools.items()}
        return out


@dataclass
class _Run:
    flow: FlowSpec
    rng: random.Random
    revenue: Decimal = ZERO
    paid_per_day: list[Decimal] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def local(day: int, at: time) -> datetime:
    return datetime.combine(START.date() + timedelta(days=day), at, tzinfo=platform_zone()).astimezone(UTC)


async def simulate(settings: list[dict[str, Any]], flow: FlowSpec, progress: Callable[[int], None] | None = None) -> list[Day]:
    """Run the flow over `settings` (I-6 events) on the open (temporary) database, day by day."""
    previous, queue_rebate.RANDOM = queue_rebate.RANDOM, random.Random(flow.seed + 1).randrange
    try:
        run = _Run(flow, random.Random(flow.seed))
        replay = Replay(now=local(0, time(0)))
        await _setup(replay, settings, run)
        days = []
        for day in range(flow.days):
            days.append(await _day(replay, run, day))
            if progress is not None:
                progress(day + 1)
        return days
    finally:
        queue_rebate.RANDOM = previous


async def _setup(replay: Replay, settings: list[dict[str, Any]], run: _Run) -> None:
    for event in settings:
        if event.get("type") not in CATALOG_EVENTS:
            raise DomainError(ErrorCode.INVALID_INPUT, f"a settings file holds only {', '.join(CATALOG_EVENTS)} events, not {event.get('type')!r}", "type")
        await replay.apply(event)
    if not await store.listed_mall_products():
        await replay.apply({"type": "product", "id": PRODUCT, "source": "SELF_OPERATED", "store": None, "listed": True, "queue_rebate": {"enabled": True}})
    for i in range(1, run.flow.members + 1):
        referrer = run.flow.referrer_of(i, run.rng)
        await replay.apply({"type": "member", "id": f"M{i}", "referrer": f"M{referrer}" if referrer else None})


async def _day(replay: Replay, run: _Run, day: int) -> Day:
    products = await store.listed_mall_products()
    n, paid, completed = run.flow.orders_per_day, [], []
    for i in range(n):
        amount = run.flow.draw_amount(run.rng)
        order, buyer, product = f"d{day}o{i}", f"M{run.rng.randrange(1, run.flow.members + 1)}", products[run.rng.randrange(len(products))]
        run.revenue += amount
        line = {"product": product, "quantity": 1, "paid": str(amount), "deduction": "0.00"}
        paid.append({"type": "order.paid", "key": f"{order}:paid", "order": order, "member": buyer, "channel": "MALL", "lines": [line]})
        completed.append({"type": "order.completed", "key": f"{order}:completed", "order": order})
    for events, at in ((paid, local(day, time(12))), (completed, local(day, time(12, 0, 1)))):  # the day's orders at noon, in order
        refused = next((r for r in await intake.record_many(events, at) if isinstance(r, DomainError)), None)
        if refused is not None:
            raise refused
    await settle_all()
    replay.now = local(day, time(23, 59))
    for job in JOBS:
        if getattr(await load_settings(job.split(".")[0]), "enabled", False):
            await replay.apply({"type": "run", "job": job})
    return await _measure(replay.now, run, day, n)


async def _measure(now: datetime, run: _Run, day: int, orders: int) -> Day:
    rows = await liabilities.report(now)
    run.paid_per_day.append((await liabilities.day_flow(now)).paid)
    counts = await store.status_counts()
    total, before = sum(counts.values()), sum(run.counts.values())
    paid = counts.get("COMPLETED", 0) + counts.get("DONE", 0) - run.counts.get("COMPLETED", 0) - run.counts.get("DONE", 0)
    run.counts = counts
    recent = run.paid_per_day[-7:]
    net_owed = sum((max(r.unpaid - r.pool, ZERO) for r in rows), ZERO)
    return Day(
        day=day + 1, orders=orders, new_entitlements=total - before, paid_entitlements=paid, outstanding=sum(r.outstanding for r in rows),
        liability=sum((r.unpaid for r in rows), ZERO), pools={r.queue: r.pool for r in rows if r.pool != 0},
        wait_days=forecast_days(net_owed, average_daily_inflow(recent)), net_cash=run.revenue - await store.members_cash(),
    )


__all__ = ["Day", "FlowSpec", "platform_snapshot", "simulate"]
