"""订单分红 / 排队免单 order dividend (SPEC §5, OD-1..OD-5): completed orders queue for a free order.

Completed orders join one platform-wide queue in completion order. The first `slots` of them are
ACTIVE; each later completed order's reward (dividend ratio × amount + the carried pool, plus the
referral reward when the orderer has no referrer) is split evenly among the ACTIVE ones, each
capped at its remaining cap (amount × free ratio). The pool is the ledger account `pool:od`.

The shell loads the queue row (pool, next position, tail) with every ACTIVE entry and the first
WAITING ones by position (the *window*). Each call promotes at most `slots` entries; when the
loaded WAITING window runs out while more wait in the database the functions return `NeedMore`
before changing anything (but filling free places): load more (`add_loaded`) and call again.
Loading `slots` WAITING entries up front avoids the round trip. Entities changed by a call are in
`state.touched` (key = order key); the shell persists them, `state.pool` and `state.next_position`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.ledger import Posting, Wallet, member_account, platform_account, pool_account, transfer
from domain.money import ZERO, apply_ratio, split_evenly
from domain.settings import SETTINGS_CONFIG, Count, Flag, Ids, Percent, PositiveRatio, parse_settings

MODEL = "order_dividend"
QUEUE_ID = "od"
POOL = pool_account(QUEUE_ID)
FUNDING = platform_account("expense:order_dividend")


class Status(str, Enum):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class OrderDividendSettings:
    """订单分红 platform settings (OD-1, OD-2, OD-4); off until enabled (C-11)."""

    enabled: Flag = False
    slots: Count = 3
    dividend_ratio: Percent = Decimal(40)
    referral_ratio: Percent = Decimal(20)
    free_ratio: PositiveRatio = Decimal(100)
    excluded_products: Ids = frozenset()  # products whose lines take no part (their orders still may)
    compliance_override: Flag = False  # DR-7

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: OrderDividendSettings | None = None) -> OrderDividendSettings:
        """Validate `values` over `base` (a partial update keeps the fields it leaves out); C-8."""
        return parse_settings(cls, values, base=base)


@dataclass(slots=True)
class DividendEntry:
    """One completed order in the dividend queue (OD-1): it may receive up to `cap` in all."""

    key: str
    member: str
    position: int
    amount: Decimal
    cap: Decimal
    received: Decimal = ZERO
    status: Status = Status.WAITING
    db_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.cap - self.received


@dataclass(slots=True)
class DividendState:
    """The dividend queue as loaded for a batch of events.

    `active`: every ACTIVE entry, in position order. `waiting`: the first WAITING entries by
    position; every WAITING entry with position <= `waiting_loaded_upto` is in it. `db_tail`: the
    highest position stored when loaded. `fresh`: entries that joined WAITING while the window was
    incomplete; they move into `waiting` once everything before them is loaded.
    """

    pool: Decimal = ZERO
    active: list[DividendEntry] = field(default_factory=list)
    waiting: deque[DividendEntry] = field(default_factory=deque)
    next_position: int = 1
    waiting_loaded_upto: int = 0
    db_tail: int = 0
    fresh: list[DividendEntry] = field(default_factory=list)
    touched: dict[str, DividendEntry] = field(default_factory=dict)

    @property
    def window_complete(self) -> bool:
        return self.waiting_loaded_upto >= self.db_tail

    def add_loaded(self, entries: list[DividendEntry], upto: int) -> None:
        """Append WAITING entries loaded from the database (positions up to `upto`), in position order."""
        self.waiting.extend(entries)
        self.waiting_loaded_upto = max(self.waiting_loaded_upto, upto)
        if self.window_complete and self.fresh:
            self.waiting.extend(self.fresh)
            self.fresh.clear()

    def find(self, key: str) -> DividendEntry | None:
        """A loaded or newly joined entry by order key."""
        for e in (*self.active, *self.waiting, *self.fresh):
            if e.key == key:
                return e
        return self.touched.get(key)


@dataclass(frozen=True, slots=True)
class NeedMore:
    """Promotion would run past the loaded WAITING window: load more and call again."""

    queue_id: str = QUEUE_ID


def plan_split(active: list[DividendEntry], reward: Decimal) -> tuple[list[tuple[DividendEntry, Decimal]], Decimal]:
    """OD-2: each ACTIVE entry's share, capped at its remaining cap; and what stays in the pool.

    The pool keeps the split remainder (C-4) and every share beyond a remaining cap.
    """
    share, _ = split_evenly(reward, len(active))
    plan = [(e, min(share, e.remaining)) for e in active]
    return plan, reward - sum((pay for _, pay in plan), ZERO)


def settle_completed_order(
    state: DividendState,
    settings: OrderDividendSettings,
    order_key: str,
    member: str,
    referrer: str | None,
    amount: Decimal,
) -> list[Posting] | NeedMore:
    """OD-1..OD-4 for one completed order: fill free places, fund, split among the ACTIVE ones,
    promote, then join.

    Free ACTIVE places (after `slots` was raised) are filled first, so the entries promoted into
    them share this order (OD-1: the first `slots` WAITING ones are ACTIVE at once). The
    recipients are the entries ACTIVE before this order joins; entries promoted by this order's
    payouts (OD-3) receive from the next order on. Returns NeedMore when promotion needs WAITING
    entries that are not loaded; nothing has changed then but that filling of free places.
    """
    if not settings.enabled:
        return []
    _check_new_order(state, order_key, amount)
    if isinstance(promote(state, settings), NeedMore):
        return NeedMore()
    dividend = apply_ratio(amount, settings.dividend_ratio)
    referral = apply_ratio(amount, settings.referral_ratio)
    shared_referral = referral if referrer is None else ZERO
    plan, kept = plan_split(state.active, dividend + shared_referral + state.pool)
    reaching_cap = sum(1 for e, pay in plan if pay == e.remaining)
    if _short_of_waiting(state, settings, len(state.active) - reaching_cap):
        return NeedMore()
    postings = transfer(f"od:{order_key}:fund", FUNDING, POOL, dividend, memo="dividend")
    referral_target = POOL if referrer is None else member_account(referrer, Wallet.CASH)
    postings += transfer(f"od:{order_key}:referral", FUNDING, referral_target, referral, memo="referral")
    postings += _pay(state, order_key, plan)
    state.pool = kept
    promote(state, settings)
    _join(state, settings, order_key, member, amount)
    return postings


def promote(state: DividendState, settings: OrderDividendSettings) -> list[DividendEntry] | NeedMore:
    """OD-3: fill the ACTIVE places up to `slots` from the head of the WAITING queue.

    Also usable after `slots` was raised. Lowering `slots` demotes nobody: the extra ACTIVE
    entries stay until they are DONE or cancelled.
    """
    if _short_of_waiting(state, settings, len(state.active)):
        return NeedMore()
    promoted: list[DividendEntry] = []
    while len(state.active) < settings.slots and state.waiting:
        e = state.waiting.popleft()
        e.status = Status.ACTIVE
        state.active.append(e)
        state.touched[e.key] = e
        promoted.append(e)
    return promoted


def cancel_order(state: DividendState, settings: OrderDividendSettings, order_key: str) -> DividendEntry | NeedMore | None:
    """A refunded order still queued is CANCELLED and leaves the queue (OD-1, like QR-8).

    What it already received stays with the member: no posting. A cancelled ACTIVE entry's place
    goes to the next WAITING one at once (OD-3). Returns the cancelled entry, None when the order
    is not queued (unknown, DONE or already CANCELLED), or NeedMore, changing nothing. A WAITING
    entry outside the loaded window must be added to `state.touched` by the shell first.
    """
    e = state.find(order_key)
    if e is None or e.status not in (Status.ACTIVE, Status.WAITING):
        return None
    if e.status is Status.ACTIVE and _short_of_waiting(state, settings, len(state.active) - 1):
        return NeedMore()
    _remove(state, e)
    e.status = Status.CANCELLED
    state.touched[e.key] = e
    promote(state, settings)
    return e


def _check_new_order(state: DividendState, order_key: str, amount: Decimal) -> None:
    if amount < 0:
        raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"order amount must not be negative: {amount}", "amount")
    if state.find(order_key) is not None:
        raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"order {order_key} is already in the dividend queue", "order")


def _short_of_waiting(state: DividendState, settings: OrderDividendSettings, active_left: int) -> bool:
    """True when filling the ACTIVE places would need WAITING entries that are not loaded yet."""
    needed = settings.slots - active_left
    return needed > len(state.waiting) and not state.window_complete


def _pay(state: DividendState, order_key: str, plan: list[tuple[DividendEntry, Decimal]]) -> list[Posting]:
    """OD-2 payouts from the pool to each member's cash; an entry at its cap is DONE (OD-3)."""
    postings: list[Posting] = []
    for e, pay in plan:
        if pay <= 0:
            continue
        e.received += pay
        state.touched[e.key] = e
        postings += transfer(f"od:{order_key}:pay:{e.key}", POOL, member_account(e.member, Wallet.CASH), pay, memo="dividend payout")
        if e.remaining <= 0:
            e.status = Status.DONE
    state.active = [e for e in state.active if e.status is Status.ACTIVE]
    return postings


def _join(state: DividendState, settings: OrderDividendSettings, order_key: str, member: str, amount: Decimal) -> DividendEntry | None:
    """OD-1: the order joins the tail, ACTIVE at once while a place is free. A zero cap never joins."""
    cap = apply_ratio(amount, settings.free_ratio)
    if cap <= 0:
        return None
    e = DividendEntry(key=order_key, member=member, position=state.next_position, amount=amount, cap=cap)
    state.next_position += 1
    if len(state.active) < settings.slots and not state.waiting and state.window_complete:
        e.status = Status.ACTIVE
        state.active.append(e)
    else:
        (state.waiting if state.window_complete else state.fresh).append(e)
    state.touched[e.key] = e
    return e


def _remove(state: DividendState, e: DividendEntry) -> None:
    """Take `e` out of whichever loaded list holds it (by identity, not field equality)."""
    state.active = [x for x in state.active if x is not e]
    state.waiting = deque(x for x in state.waiting if x is not e)
    state.fresh = [x for x in state.fresh if x is not e]

