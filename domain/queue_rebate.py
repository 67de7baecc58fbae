"""排队返利 queue rebate (SPEC §3): entitlements paid back in queue order by later lines' extraction.

The shell loads a queue's state (head window of WAITING entitlements, carried pool, tail) and
feeds events one line at a time. Settling a line costs O(entitlements it pays): the window is
walked from the head, never the whole queue. When the loaded window is too short the functions
return `NeedMore` *before* changing anything, the shell loads more and calls again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from domain.ledger import PLATFORM_INCOME, Asset, Posting, Wallet, member_account, platform_account, pool_account, transfer
from domain.money import ZERO, apply_ratio

MODEL = "queue_rebate"
FUNDING = platform_account("expense:queue_rebate")
PROMISED = platform_account("promised:queue_rebate")


class Status(str, Enum):
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    EXCHANGED = "EXCHANGED"
    CLEARED = "CLEARED"
    CANCELLED = "CANCELLED"
    CONVERTED = "CONVERTED"


class Surplus(str, Enum):
    PLATFORM = "PLATFORM"
    CARRY = "CARRY"


class SettleOn(str, Enum):
    ON_PAY = "ON_PAY"
    ON_COMPLETE = "ON_COMPLETE"


class RewardRule(str, Enum):
    QUEUE_ORDER = "QUEUE_ORDER"
    COMPLETED_FIRST = "COMPLETED_FIRST"


def liability_account(queue_id: str) -> str:
    """Outstanding (unpaid) entitlements of one queue, in the ENTITLEMENT asset (I-5)."""
    return f"liability:{queue_id}"


@dataclass(slots=True)
class Entitlement:
    """待返权益: `total` owed to `member`, paid back from later lines' extraction (QR-4)."""

    key: str
    member: str
    order: str
    line: int
    queue: str
    position: int
    total: Decimal
    received: Decimal = ZERO
    status: Status = Status.WAITING
    order_completed: bool = False
    ratio: Decimal = ZERO
    ratio_source: str = ""
    db_id: int | None = None
    paid: Decimal = ZERO  # the line's paid amount; the lottery recomputes the total from it (QR-12)
    lottery_source: str = ""  # whose lottery the member may draw from, e.g. "product.lottery"; "" none
    drawn_ratio: Decimal | None = None  # the ratio the member drew (QR-12, C-10); None: not drawn
    exchanged_to: str = ""  # POINTS / LOVE_VALUE once EXCHANGED (QR-14) or CONVERTED (QR-15)
    exchanged_amount: Decimal = ZERO  # points / love value minted for the remainder

    @property
    def remaining(self) -> Decimal:
        return self.total - self.received


@dataclass(slots=True)
class QueueState:
    """One queue as loaded for a batch: WAITING entitlements from the head, in position order."""

    queue_id: str
    pool: Decimal
    head: int
    tail: int
    window: deque[Entitlement] = field(default_factory=deque)
    loaded_upto: int = 0
    db_tail: int = 0
    fresh: list[Entitlement] = field(default_factory=list)
    touched: dict[str, Entitlement] = field(default_factory=dict)

    @property
    def window_complete(self) -> bool:
        return self.loaded_upto >= self.db_tail

    def add_loaded(self, entitlements: list[Entitlement], upto: int) -> None:
        """Append entitlements loaded from the database (positions up to `upto`) to the window."""
        self.window.extend(entitlements)
        self.loaded_upto = max(self.loaded_upto, upto)
        if self.window_complete and self.fresh:
            self.window.extend(self.fresh)
            self.fresh.clear()

    def find(self, key: str) -> Entitlement | None:
        """An entitlement this batch has already loaded or created."""
        return self.touched.get(key)


@dataclass(frozen=True, slots=True)
class NeedMore:
    """The loaded window ends before the amount to pay is covered: load more and call again."""

    queue_id: str


@dataclass(frozen=True, slots=True)
class Line:
    """One order line as the queue rebate sees it, ratios already resolved (QR-10, QR-20)."""

    key: str
    member: str
    order: str
    index: int
    paid: Decimal
    extraction: Decimal
    earns_entitlement: bool
    reward_ratio: Decimal
    ratio_source: str
    lottery_source: str = ""  # the lottery the entitlement may draw from (QR-10, QR-12); "" none
    no_entitlement_reason: str = ""  # why earns_entitlement is False (QR-9, QR-13)


@dataclass(frozen=True, slots=True)
class Rules:
    surplus: Surplus = Surplus.PLATFORM
    settle_on: SettleOn = SettleOn.ON_PAY
    reward_rule: RewardRule = RewardRule.QUEUE_ORDER
    clawback_on_refund: bool = False
    paused: bool = False


def _payable(e: Entitlement, rules: Rules, own_key: str) -> bool:
    if e.status is not Status.WAITING or e.key == own_key:
        return False
    return rules.reward_rule is RewardRule.QUEUE_ORDER or e.order_completed


def plan_payouts(state: QueueState, available: Decimal, rules: Rules, own_key: str) -> list[tuple[Entitlement, Decimal]] | NeedMore:
    """Who receives how much of `available`, in position order (QR-3 step 2). Changes nothing."""
    plan: list[tuple[Entitlement, Decimal]] = []
    left = available
    for e in _walk(state):
        if left <= 0:
            return plan
        if _payable(e, rules, own_key):
            pay = min(left, e.remaining)
            plan.append((e, pay))
            left -= pay
    if left > 0 and not state.window_complete:
        return NeedMore(state.queue_id)
    return plan


def _walk(state: QueueState) -> deque[Entitlement]:
    """Fresh entitlements only join the window once everything before them is loaded."""
    return state.window


def extract(state: QueueState, line: Line, rules: Rules) -> list[Posting] | NeedMore:
    """QR-3 steps 1-3: the line's extraction plus the carried pool pays the queue ahead of it."""
    if rules.paused:
        return []
    available = line.extraction + state.pool
    plan = plan_payouts(state, available, rules, line.key)
    if isinstance(plan, NeedMore):
        return plan
    pool = pool_account(state.queue_id)
    postings = transfer(f"qr:{line.key}:extract", FUNDING, pool, line.extraction, Asset.CNY, "extraction")
    left = available
    for e, pay in plan:
        e.received += pay
        left -= pay
        if e.received == e.total:
            e.status = Status.COMPLETED
        state.touched[e.key] = e
        postings += transfer(f"qr:{line.key}:pay:{e.key}", pool, member_account(e.member, Wallet.CASH), pay, Asset.CNY, "payout")
        postings += transfer(f"qr:{line.key}:settle:{e.key}", liability_account(state.queue_id), PROMISED, pay, Asset.ENTITLEMENT, "payout")
    if rules.surplus is Surplus.PLATFORM:
        postings += transfer(f"qr:{line.key}:surplus", pool, PLATFORM_INCOME, left, Asset.CNY, "surplus")
        left = ZERO
    state.pool = left
    _advance_head(state)
    return postings


def join(state: QueueState, line: Line) -> tuple[Entitlement | None, list[Posting]]:
    """QR-3 step 4: the line's own entitlement joins the tail (when it earns one)."""
    if not line.earns_entitlement:
        return None, []
    total = apply_ratio(line.paid, line.reward_ratio)
    if total <= 0:
        return None, []
    state.tail += 1
    e = Entitlement(
        key=line.key, member=line.member, order=line.order, line=line.index, queue=state.queue_id,
        position=state.tail, total=total, ratio=line.reward_ratio, ratio_source=line.ratio_source,
        paid=line.paid, lottery_source=line.lottery_source,
    )
    (state.window if state.window_complete else state.fresh).append(e)
    state.touched[e.key] = e
    _advance_head(state)
    return e, transfer(f"qr:{line.key}:join", PROMISED, liability_account(state.queue_id), total, Asset.ENTITLEMENT, "entitlement")


def settle_paid_line(state: QueueState, line: Line, rules: Rules) -> tuple[Entitlement | None, list[Posting]] | NeedMore:
    """A paid line: extraction first when settling on pay (QR-6), then its entitlement joins."""
    postings: list[Posting] = []
    if rules.settle_on is SettleOn.ON_PAY:
        result = extract(state, line, rules)
        if isinstance(result, NeedMore):
            return result
        postings = result
    entitlement, joined = join(state, line)
    return entitlement, postings + joined


def cancel(state: QueueState, e: Entitlement, rules: Rules, member_cash: Decimal) -> list[Posting]:
    """QR-8: a refunded line's entitlement is CANCELLED whatever its status; a WAITING one's unpaid
    remainder is forfeited (the others owe nothing more: COMPLETED was paid in full, EXCHANGED /
    CONVERTED / CLEARED settled their remainder already).

    What it received stays with the member; with `clawback_on_refund` it is taken back from the
    member's cash up to the balance there, the rest recorded as the member's receivable. An
    entitlement already CANCELLED changes nothing.
    """
    if e.status is Status.CANCELLED:
        return []
    postings: list[Posting] = []
    if e.status is Status.WAITING:
        postings = transfer(f"qr:{e.key}:cancel", liability_account(e.queue), PLATFORM_INCOME, e.remaining, Asset.ENTITLEMENT, "forfeit")
    e.status = Status.CANCELLED
    state.touched[e.key] = e
    _advance_head(state)
    if rules.clawback_on_refund and e.received > 0:
        taken = min(e.received, max(member_cash, ZERO))
        postings += transfer(f"qr:{e.key}:clawback", member_account(e.member, Wallet.CASH), PLATFORM_INCOME, taken, Asset.CNY, "clawback")
        postings += transfer(f"qr:{e.key}:receivable", member_account(e.member, Wallet.RECEIVABLE), PLATFORM_INCOME, e.received - taken, Asset.CNY, "clawback receivable")
    return postings


def mark_order_completed(state: QueueState, e: Entitlement) -> None:
    """QR-7: under COMPLETED_FIRST an entitlement is payable once its own order is completed."""
    e.order_completed = True
    state.touched[e.key] = e


def advance_head(state: QueueState) -> None:
    """Public form of `_advance_head` for the feature functions (exchange, reset, random return)."""
    _advance_head(state)


def _advance_head(state: QueueState) -> None:
    """Drop settled entitlements off the front of the window and move the head pointer."""
    while state.window and state.window[0].status is not Status.WAITING:
        state.window.popleft()
    if state.window:
        state.head = state.window[0].position
    elif state.window_complete:
        state.head = state.tail + 1
    else:
        state.head = max(state.head, state.loaded_upto + 1)

