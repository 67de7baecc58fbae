"""工会排队 union queue (SPEC §4, UQ-1..UQ-5): one platform-wide queue paid from a daily profit pool.

Orders feed the pool `pool:uq` with a share of their profit (UQ-1) and earn an entitlement of
`paid × quota ratio` at the tail (UQ-2). Once a day the pool pays pending promotion boosts first
(UQ-4), then WAITING entitlements in position order, each in full, stopping at the first one it
cannot pay in full (UQ-3); the rest of the pool carries over.

The daily settlement streams: the shell creates a `SettlementRun`, feeds the entitlements with a
pending boost (`pay_boosts`), then WAITING entitlements in position order batch by batch
(`settle_batch`) until it reports `stopped`. Only the current batch is in memory. Changed
entitlements are in `run.touched`; `run.pool` is the pool left to carry over. A store that writes
the payouts itself feeds (position, remaining) pairs to `settle_dues` instead and pays the range
it returns. Posting keys hold the day key, so re-running a day from the same stored state yields
the same keys (C-6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Posting, Wallet, member_account, platform_account, pool_account, transfer
from domain.money import ZERO, apply_ratio, from_fen, split_evenly, to_fen
from domain.settings import SETTINGS_CONFIG, Flag, Ids, Percent, Ratio, TimeOfDay, parse_settings

MODEL = "union_queue"
QUEUE_ID = "uq"
POOL = pool_account(QUEUE_ID)
FUNDING = platform_account("expense:union_queue")
PROMISED = platform_account("promised:union_queue")
LIABILITY = f"liability:{QUEUE_ID}"


class Status(str, Enum):
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class UnionQueueSettings:
    """工会排队 platform settings (UQ-1..UQ-4); off until enabled (C-11)."""

    enabled: Flag = False
    pool_ratio: Percent = Decimal(60)
    quota_ratio: Ratio = Decimal(110)
    acceleration_ratio: Percent = ZERO
    settlement_time: TimeOfDay = "00:00"  # the daily settlement (UQ-3), platform time zone (C-9)
    excluded_products: Ids = frozenset()  # products whose lines take no part (their orders still may)
    compliance_override: Flag = False  # DR-7

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: UnionQueueSettings | None = None) -> UnionQueueSettings:
        """Validate `values` over `base` (a partial update keeps the fields it leaves out); C-8."""
        return parse_settings(cls, values, base=base)

    @property
    def settlement_hour_minute(self) -> tuple[int, int]:
        """The daily settlement time of day (UQ-3) in the platform time zone (C-9)."""
        hour, minute = self.settlement_time.split(":")
        return int(hour), int(minute)


@dataclass(slots=True)
class UEntitlement:
    """An order's union-queue entitlement (UQ-2); `boost` is credited, not yet paid (UQ-4).

    Invariant: received + boost <= total.
    """

    key: str
    member: str
    order: str
    position: int
    total: Decimal
    received: Decimal = ZERO
    boost: Decimal = ZERO
    status: Status = Status.WAITING
    db_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.total - self.received


def contribute(order_key: str, profit: Decimal | None, settings: UnionQueueSettings) -> tuple[Decimal, list[Posting]]:
    """UQ-1: `profit × pool ratio` flows into the union pool. No (or no positive) profit adds nothing."""
    if not settings.enabled or profit is None or profit <= 0:
        return ZERO, []
    contribution = apply_ratio(profit, settings.pool_ratio)
    return contribution, transfer(f"uq:{order_key}:contribute", FUNDING, POOL, contribution, Asset.CNY, "pool contribution")


def join(order_key: str, member: str, amount: Decimal, tail: int, settings: UnionQueueSettings) -> tuple[UEntitlement | None, list[Posting]]:
    """UQ-2: the order's entitlement `amount × quota ratio` joins at position `tail + 1`.

    The promise is booked in the ENTITLEMENT asset (like QR's join). None when the total is zero.
    """
    if amount < 0:
        raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"order amount must not be negative: {amount}", "amount")
    total = apply_ratio(amount, settings.quota_ratio)
    if not settings.enabled or total <= 0:
        return None, []
    e = UEntitlement(key=order_key, member=member, order=order_key, position=tail + 1, total=total)
    return e, transfer(f"uq:{order_key}:join", PROMISED, LIABILITY, total, Asset.ENTITLEMENT, "entitlement")


def accelerate(target: UEntitlement | None, contribution: Decimal, settings: UnionQueueSettings) -> Decimal:
    """UQ-4: a direct referral's order credits `acceleration ratio × its contribution` as a boost.

    `target` is the referrer's oldest WAITING entitlement (the shell finds it). The boost is capped
    so that received + boost never exceeds the total; returns the amount credited. No posting: the
    money is already in the pool, the boost only gives it priority at the next settlement.
    """
    if target is None or target.status is not Status.WAITING or not settings.enabled:
        return ZERO
    credit = min(apply_ratio(contribution, settings.acceleration_ratio), target.remaining - target.boost)
    if credit <= 0:
        return ZERO
    target.boost += credit
    return credit


def cancel(e: UEntitlement) -> list[Posting]:
    """A refunded order's WAITING entitlement is CANCELLED; its unpaid remainder and boost lapse."""
    if e.status is not Status.WAITING:
        return []
    postings = transfer(f"uq:{e.key}:cancel", LIABILITY, PROMISED, e.remaining, Asset.ENTITLEMENT, "cancelled")
    e.status, e.boost = Status.CANCELLED, ZERO
    return postings


@dataclass(slots=True)
class SettlementRun:
    """One day's settlement (UQ-3) in progress: the pool left and what has been changed so far."""

    day: str
    pool: Decimal
    paid: Decimal = ZERO
    paid_count: int = 0
    stopped: bool = False
    touched: dict[str, UEntitlement] = field(default_factory=dict)

    def current(self, e: UEntitlement) -> UEntitlement:
        """The run's own copy when this entitlement was already changed (e.g. by its boost)."""
        return self.touched.get(e.key, e)


def pay_boosts(run: SettlementRun, boosted: list[UEntitlement]) -> list[Posting]:
    """UQ-4: pending boosts first, oldest position first, each up to what is left in the pool.

    A boost the pool cannot cover in full is paid in part; the rest stays pending.
    """
    postings: list[Posting] = []
    for loaded in boosted:
        e = run.current(loaded)
        pay = min(e.boost, e.remaining, run.pool)
        if e.status is not Status.WAITING or pay <= 0:
            continue
        e.boost -= pay
        _payout(run, e, pay, "boost", postings)
    return postings


def settle_batch(run: SettlementRun, batch: list[UEntitlement]) -> tuple[list[Posting], bool]:
    """UQ-3: pay WAITING entitlements of one batch in position order, each in full.

    Stops at the first one the pool cannot pay in full, even when a later, smaller one would fit.
    Returns the postings and whether the run has stopped (then feed no more batches).
    """
    postings: list[Posting] = []
    if run.stopped:
        return postings, True
    current = run.touched.get
    settled, through = ZERO, None
    for loaded in batch:
        e = current(loaded.key, loaded)
        remaining = e.total - e.received
        if e.status is not Status.WAITING or remaining <= 0:
            continue
        if remaining > run.pool:
            run.stopped = True
            break
        e.boost = ZERO
        _payout(run, e, remaining, "pay", postings, settle=False)
        settled, through = settled + remaining, e.position
    if through is not None:
        postings.append(Posting(settle_key(run.day, through), LIABILITY, PROMISED, Asset.ENTITLEMENT, settled, "pay"))
    return postings, run.stopped


def settle_key(day: str, through: int) -> str:
    """The key of the one ENTITLEMENT transfer that settles the promises of a day's batch paid up to
    position `through` (unique: a day's batches pay ever later positions)."""
    return f"uq:{day}:settle:through:{through}"


def settle_dues(run: SettlementRun, dues: Sequence[tuple[int, int]]) -> int | None:
    """UQ-3 as `settle_batch`, over (position, remaining fen) of WAITING entitlements in position
    order, for a store that writes the payouts itself: all of those from the first up to the
    returned position with something remaining are paid in full (None: none is). The run's pool,
    paid and count move as `settle_batch` moves them; nothing is put in `run.touched`."""
    if run.stopped:
        return None
    pool, paid, count, through = to_fen(run.pool), 0, 0, None
    for position, remaining in dues:
        if remaining <= 0:
            continue
        if paid + remaining > pool:
            run.stopped = True
            break
        paid, count, through = paid + remaining, count + 1, position
    run.pool -= from_fen(paid)
    run.paid += from_fen(paid)
    run.paid_count += count
    return through


def settle_stream(run: SettlementRun, boosted: Iterable[list[UEntitlement]], waiting: Iterable[list[UEntitlement]]) -> Iterator[list[Posting]]:
    """UQ-3 over lazily loaded batches: boosts, then WAITING ones; stops pulling batches once stopped."""
    for batch in boosted:
        yield pay_boosts(run, batch)
    for batch in waiting:
        postings, stopped = settle_batch(run, batch)
        yield postings
        if stopped:
            return


def _payout(run: SettlementRun, e: UEntitlement, amount: Decimal, kind: str, postings: list[Posting], settle: bool = True) -> None:
    """Pool → member cash, and (with `settle`) the same amount of the promise settled in
    ENTITLEMENT (`amount` > 0), appended to `postings`. A day's batch settles the promises of all it
    paid in one transfer instead (`settle_batch`)."""
    e.received += amount
    if e.received >= e.total:
        e.status, e.boost = Status.COMPLETED, ZERO
    run.pool -= amount
    run.paid += amount
    run.paid_count += 1
    run.touched[e.key] = e
    postings.append(Posting(f"uq:{run.day}:{kind}:{e.key}", POOL, member_account(e.member, Wallet.CASH), Asset.CNY, amount, kind))
    if settle:
        postings.append(Posting(f"uq:{run.day}:{kind}_settle:{e.key}", LIABILITY, PROMISED, Asset.ENTITLEMENT, amount, kind))


def average_daily_inflow(daily_inflows: list[Decimal]) -> Decimal:
    """UQ-5: the trailing average of daily pool inflows, floored to 0.01 (C-4)."""
    if not daily_inflows:
        return ZERO
    average, _ = split_evenly(sum(daily_inflows, ZERO), len(daily_inflows))
    return average


def forecast_days(remaining_ahead_including_self: Decimal, average_daily_inflow: Decimal) -> int | None:
    """UQ-5: days until paid = ceil(remaining ahead, self included / average daily inflow).

    None when there is no inflow to forecast from; 0 when nothing is left to pay.
    """
    if remaining_ahead_including_self <= 0:
        return 0
    if average_daily_inflow <= 0:
        return None
    days, rest = divmod(remaining_ahead_including_self, average_daily_inflow)
    return int(days) + (1 if rest else 0)

