"""消费增值 consumption appreciation (SPEC §7, CA-1..CA-7, seed 004): orders mint points against a pool.

Each completed order pays its contribution into the pool (CA-1) and mints points worth
`mint_ratio` of it at the price `pool / circulating` (CA-2); a sale pays the points' worth less the
retention out of the pool (CA-3); a subsidy adds to the pool (CA-5). After every price change the
holders whose points are worth `exit_multiple` × their spend are sold out, oldest participation
first (CA-4). While nothing circulates the price stays at its last value (CA-6).

Why the price never falls (so a holder that qualifies stays qualified until it exits, and one
cascade takes every holder whose exit price ≤ the price): with p = P / C,
- a mint of m points for a contribution c gives (P + c) / (C + m) ≥ p ⇔ m ≤ c / p; the points are
  worth mint_ratio ≤ 100 % of c, and the rounded quantity is capped at floor(c / p);
- a sale of q points paying `pay` gives (P − pay) / (C − q) ≥ p ⇔ pay ≤ q × p; the retention stays
  in the pool, and the rounded payout is capped at floor(q × p);
- a subsidy only adds to P. Other holders' exit prices move only through their own orders and
  sales, so the index is asked only for cost-per-point ranges it was not asked for yet: a price
  change costs O(log n + exits), whatever the number of holders (see `domain.appreciation_holders`).

Accounts (CA-7; asset APPRECIATION_POINTS for the points, CNY for cash):
- `pool:ca` (CNY) the appreciation pool; `platform:expense:appreciation` funds contributions,
  `platform:subsidy:appreciation` funds subsidies; a sale pays `pool:ca` → `member:<id>:CASH`;
- `platform:issued:appreciation` (APPRECIATION_POINTS) issues minted points to
  `member:<id>:APPRECIATION_POINTS` and takes sold ones back: its balance is −circulating.

The shell builds an `AppreciationPool` from the stored `PoolState`, the settings and a
`HolderIndex`, applies one pool's events in order (C-7), then writes `state`, `changed` holders,
each `Outcome`'s postings and price history in one transaction. An outcome whose `need` is set
stopped between two exits: load those holders and call `continue_exits()` before the next event.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic.dataclasses import dataclass as settings_dataclass

from domain.appreciation_holders import Holder, HolderIndex, NeedHolders
from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Posting, Wallet, member_account, platform_account, pool_account, transfer
from domain.money import HUNDRED, ZERO, apply_ratio, floor_exact, parse_amount, parse_ratio, round_exact
from domain.settings import SETTINGS_CONFIG, Flag, Ids, checked, parse_settings, refusal

MODEL = "appreciation"
POOL_ID = "ca"
POOL = pool_account(POOL_ID)
FUNDING = platform_account("expense:appreciation")
SUBSIDY = platform_account("subsidy:appreciation")
ISSUED = platform_account("issued:appreciation")
POINTS = Asset.APPRECIATION_POINTS


class ContributionBase(str, Enum):
    AMOUNT = "AMOUNT"
    PROFIT = "PROFIT"


def _bounded(low: Decimal, high: Decimal | None, low_open: bool, high_open: bool, bound: str) -> Callable[[Any], Decimal]:
    """A ratio field within (low, high] / [low, high) …: INVALID_RATIO outside, as C-8 says."""

    def check(value: Any) -> Decimal:
        ratio = checked(parse_ratio, value)
        above = ratio > low if low_open else ratio >= low
        below = high is None or (ratio < high if high_open else ratio <= high)
        if not (above and below):
            raise refusal(f"must be {bound}: {value}", ErrorCode.INVALID_RATIO)
        return ratio

    return check


def _ratio_schema(bound: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,4})?$", "description": f"a percentage, {bound}"})


def _price(value: Any) -> Decimal:
    price = checked(parse_amount, value)
    if price <= 0:
        raise refusal(f"must be greater than 0: {value}", ErrorCode.INVALID_AMOUNT)
    return price


ContributionRatio = Annotated[Decimal, PlainValidator(_bounded(ZERO, HUNDRED, True, False, "0 < ratio ≤ 100")), _ratio_schema("0 < ratio ≤ 100")]
RetentionRatio = Annotated[Decimal, PlainValidator(_bounded(ZERO, HUNDRED, False, True, "0 ≤ ratio < 100")), _ratio_schema("0 ≤ ratio < 100")]
ExitMultiple = Annotated[Decimal, PlainValidator(_bounded(Decimal(1), None, True, False, "greater than 1")), _ratio_schema("a multiple greater than 1")]
Price = Annotated[Decimal, PlainValidator(_price), WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "description": "a price > 0"})]


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class AppreciationSettings:
    """消费增值 platform settings (CA-1..CA-6, DR-7); off until enabled (C-11). Validated on creation."""

    enabled: Flag = False
    contribution_base: ContributionBase = ContributionBase.AMOUNT
    contribution_ratio: ContributionRatio = Decimal(30)
    mint_ratio: ContributionRatio = Decimal(70)
    retention_ratio: RetentionRatio = Decimal(20)
    exit_multiple: ExitMultiple = Decimal(3)
    initial_price: Price = Decimal("1.00")
    excluded_products: Ids = frozenset()  # products whose lines take no part (their orders still may)
    compliance_override: Flag = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: AppreciationSettings | None = None) -> AppreciationSettings:
        """Validate `values` over `base` (a partial update keeps the fields it leaves out); C-8."""
        return parse_settings(cls, values, base=base)

    @property
    def static_return(self) -> Decimal:
        """DR-7: what a member is returned at the forced exit, in % of its spend (exit_multiple × 100)."""
        return self.exit_multiple * HUNDRED


@dataclass(frozen=True, slots=True)
class ComplianceFinding:
    """DR-7: a setting beyond the platform's compliance limits (WARN, or OVERRIDDEN by the model)."""

    model: str
    setting: str
    value: Decimal
    limit: Decimal
    status: str


def check_compliance(settings: AppreciationSettings, max_static_return: Decimal, enforce: bool) -> ComplianceFinding | None:
    """DR-7: `exit_multiple` × 100 above `max_static_return` is listed; refused when enforced and not overridden."""
    if settings.static_return <= max_static_return:
        return None
    if enforce and not settings.compliance_override:
        raise DomainError(ErrorCode.COMPLIANCE_LIMIT, f"exit_multiple × 100 = {settings.static_return} exceeds max_static_return {max_static_return}", "exit_multiple")
    status = "OVERRIDDEN" if settings.compliance_override else "WARN"
    return ComplianceFinding(MODEL, "exit_multiple", settings.static_return, max_static_return, status)


def order_amount(settings: AppreciationSettings, lines: Iterable[tuple[str, Decimal]]) -> Decimal:
    """The order amount that takes part: the paid amounts of its (product, paid) lines, excluded products left out."""
    return sum((paid for product, paid in lines if product not in settings.excluded_products), ZERO)


def contribution(settings: AppreciationSettings, amount: Decimal, profit: Decimal | None) -> Decimal:
    """CA-1: `contribution_ratio` % of the amount or of the reported profit (none reported: 0), rounded once."""
    base = amount if settings.contribution_base is ContributionBase.AMOUNT else (profit or ZERO)
    return apply_ratio(base, settings.contribution_ratio)


@dataclass(frozen=True, slots=True)
class Quote:
    """An exact price as the ratio of two 2-dp amounts (a pool over circulating points)."""

    pool: Decimal
    circulating: Decimal

    @property
    def exact(self) -> Fraction:
        return Fraction(self.pool) / Fraction(self.circulating)

    @property
    def display(self) -> Decimal:
        """The price shown to people, rounded half-up to 0.01 (CA-2); never computed with."""
        return round_exact(self.exact)


@dataclass(slots=True)
class PoolState:
    """The appreciation pool: its cash, the points in circulation, and the last price (CA-6).

    `last_price` is the price of the last change (None before any: the settings' initial price);
    it is the price while nothing circulates. The store keeps its two amounts as they are.
    """

    pool: Decimal = ZERO
    circulating: Decimal = ZERO
    last_price: Quote | None = None

    def price(self, settings: AppreciationSettings) -> Fraction:
        """The exact price: pool / circulating, or the last price while nothing circulates."""
        if self.circulating > 0:
            return Fraction(self.pool) / Fraction(self.circulating)
        return self.last_price.exact if self.last_price is not None else Fraction(settings.initial_price)

    def quote(self, settings: AppreciationSettings) -> Quote:
        if self.circulating > 0:
            return Quote(self.pool, self.circulating)
        return self.last_price or Quote(settings.initial_price, Decimal(1))


class Cause(str, Enum):
    MINT = "MINT"
    SALE = "SALE"
    SUBSIDY = "SUBSIDY"
    EXIT = "EXIT"
    REFUND = "REFUND"


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """One price change for the chart (CA-7): when, why (event key, member), pool, circulating, price."""

    at: datetime
    cause: Cause
    key: str
    member: str | None
    pool: Decimal
    circulating: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class Sale:
    """Points sold (CA-3) or forced out (CA-4): their worth, what the member got, what the pool kept."""

    member: str
    points: Decimal
    value: Decimal
    paid: Decimal
    retained: Decimal
    forced: bool
    price: Decimal = ZERO  # the price they were sold at, as shown (0.01)


@dataclass(slots=True)
class Outcome:
    """What one event (or one continuation of its exits) did."""

    postings: list[Posting] = field(default_factory=list)
    history: list[PriceRecord] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    minted: Decimal = ZERO
    need: NeedHolders | None = None

    @property
    def exits(self) -> list[Sale]:
        return [s for s in self.sales if s.forced]


def mint_quantity(state: PoolState, settings: AppreciationSettings, value: Decimal, contribution: Decimal) -> Decimal:
    """CA-2/CA-6: points worth `value` at the current exact price, rounded half-up, capped so the price cannot fall."""
    price = state.price(settings)
    cap = Fraction(state.pool + contribution) / price - Fraction(state.circulating)
    return min(round_exact(Fraction(value) / price), floor_exact(cap))


def clawback(points: Decimal, amount: Decimal, refunded: Decimal) -> Decimal:
    """The points a refund takes back: the order's remaining `points` in proportion to the refunded
    part of its remaining `amount` (half-up, C-3); all of them when all of it is refunded."""
    if refunded >= amount:
        return points
    if amount <= 0 or refunded <= 0:
        return ZERO
    return min(points, round_exact(Fraction(points) * Fraction(refunded) / Fraction(amount)))


def positive_amount(text: str | Decimal | int, field: str) -> Decimal:
    """Points to sell (CA-3) or a subsidy (CA-5): > 0 with at most 2 decimals; anything else INVALID_AMOUNT."""
    try:
        value = parse_amount(text, field)
    except DomainError as e:
        raise DomainError(ErrorCode.INVALID_AMOUNT, e.message, field) from None
    if value <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} must be greater than 0: {text}", field)
    return value


class AppreciationPool:
    """One pool's events applied in order (C-7) against a holder index; see the module docstring."""

    def __init__(self, settings: AppreciationSettings, state: PoolState, index: HolderIndex) -> None:
        self.settings = settings
        self.state = state
        self.index = index
        self.known: dict[str, Holder] = {}  # every holder read or changed here: the truth for this run
        self.changed: dict[str, Holder] = {}  # holders the shell must write
        self._loaded: Fraction | None = None  # every indexed holder with cost per point ≤ this is known
        self._by_cost: list[tuple[Fraction, int, Holder]] = []  # known holders not yet qualifying
        self._by_age: list[tuple[datetime, str, int, Holder]] = []  # qualifying holders, oldest first
        self._seq = 0
        self._pending: tuple[str, datetime] | None = None  # (event key, time) of unfinished exits

    def holder(self, member: str) -> Holder:
        """The member's current holding (an empty one when it takes no part)."""
        h = self.known.get(member)
        if h is None:
            h = self.index.get(member) or Holder(member)
            self._learn(h)
        return h

    def complete_order(self, key: str, member: str, amount: Decimal, profit: Decimal | None, now: datetime) -> Outcome:
        """CA-1, CA-2: a completed order (amount: `order_amount`) contributes and mints, then exits run.

        The orderer's spend grows by the amount and its points by the minted ones, so its exit price
        moves: it is re-keyed and checked against the new price with everyone else. An order that
        contributes nothing (model off, no amount, no profit) takes no part.
        """
        self._ready()
        if amount < 0 or (profit is not None and profit < 0):
            raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"order {key}: amount and profit must not be negative", "amount")
        out = Outcome()
        paid_in = contribution(self.settings, amount, profit)
        if not self.settings.enabled or amount <= 0 or paid_in <= 0:
            return out
        h = self.holder(member)
        before = self.state.price(self.settings)
        minted = mint_quantity(self.state, self.settings, apply_ratio(paid_in, self.settings.mint_ratio), paid_in)
        started = h.started_at if h.started_at is not None else now
        participation = h.participation + (1 if h.started_at is None else 0)
        out.postings += transfer(f"ca:{key}:contribution", FUNDING, POOL, paid_in, memo="contribution")
        out.postings += transfer(f"ca:{key}:mint", ISSUED, member_account(member, Wallet.APPRECIATION_POINTS), minted, POINTS, memo="mint")
        self.state.pool += paid_in
        self.state.circulating += minted
        out.minted = minted
        self._keep(Holder(member, h.points + minted, h.spend + amount, started, participation))
        self._record(out, before, now, Cause.MINT, key, member)
        self._exits(out, key, now)
        return out

    def sell(self, key: str, member: str, points: str | Decimal | int, now: datetime) -> Outcome:
        """CA-3: the member sells `points` (a decimal string) at the current price, then exits run."""
        self._ready()
        q = positive_amount(points, "points")
        h = self.holder(member)
        if q > h.points:
            raise DomainError(ErrorCode.INSUFFICIENT_POINTS, f"member {member} holds {h.points} appreciation points, not {q}", "points")
        out = Outcome()
        self._sell(out, key, h, q, now, forced=False)
        self._exits(out, key, now)
        return out

    def subsidize(self, key: str, amount: str | Decimal | int, now: datetime) -> Outcome:
        """CA-5: funds injected into the pool (a financing round) raise the price, then exits run."""
        self._ready()
        value = positive_amount(amount, "amount")
        out = Outcome()
        before = self.state.price(self.settings)
        out.postings += transfer(f"ca:{key}:subsidy", SUBSIDY, POOL, value, memo="subsidy")
        self.state.pool += value
        self._record(out, before, now, Cause.SUBSIDY, key, None)
        self._exits(out, key, now)
        return out

    def refund_order(self, key: str, member: str, amount: Decimal, points: Decimal, participation: int, now: datetime) -> Outcome:
        """A refund of a completed order (SPEC is silent): the spend drops by the refunded `amount`
        and the `points` its completion minted are clawed back, up to what the member holds.

        Only within the participation the order belonged to (`Holder.participation`): after
        an exit or a sale of every point, the order's spend and points are already gone. The
        contribution stays in the pool (taking it back would lower the price); clawed points leave
        without payment, so the price rises and exits run.
        """
        self._ready()
        out = Outcome()
        h = self.holder(member)
        if h.started_at is None or h.participation != participation:
            return out
        q = min(points, h.points)
        before = self.state.price(self.settings)
        if q > 0:
            if self.state.circulating > 0:
                self.state.last_price = Quote(self.state.pool, self.state.circulating)
            out.postings += transfer(f"ca:{key}:clawback", member_account(member, Wallet.APPRECIATION_POINTS), ISSUED, q, POINTS, memo="clawback")
            self.state.circulating -= q
        left, spend = h.points - q, max(h.spend - amount, ZERO)
        self._keep(Holder(member, left, spend, h.started_at, h.participation) if left > 0 else Holder(member, participation=h.participation))
        if q > 0:
            self._record(out, before, now, Cause.REFUND, key, member)
        self._exits(out, key, now)
        return out

    def continue_exits(self) -> Outcome:
        """Resume the exits an outcome with `need` left unfinished, once those holders are loaded."""
        assert self._pending is not None, "no exits are waiting"
        key, now = self._pending
        out = Outcome()
        self._exits(out, key, now)
        return out

    def _ready(self) -> None:
        assert self._pending is None, "finish the waiting exits (continue_exits) before the next event"

    def _sell(self, out: Outcome, key: str, h: Holder, q: Decimal, now: datetime, forced: bool) -> None:
        """Sell q of h's points at the exact price: the payout leaves the pool, the retention stays."""
        if self.state.circulating > 0:  # the price that stays when these are the last points (CA-6)
            self.state.last_price = Quote(self.state.pool, self.state.circulating)
        before = self.state.price(self.settings)
        worth = Fraction(q) * before
        value = round_exact(worth)
        paid = min(apply_ratio(value, HUNDRED - self.settings.retention_ratio), floor_exact(worth))
        step = f"ca:{key}:exit:{h.member}" if forced else f"ca:{key}"
        out.postings += transfer(f"{step}:burn", member_account(h.member, Wallet.APPRECIATION_POINTS), ISSUED, q, POINTS, memo="exit" if forced else "sale")
        out.postings += transfer(f"{step}:pay", POOL, member_account(h.member, Wallet.CASH), paid, memo="exit" if forced else "sale")
        self.state.pool -= paid
        self.state.circulating -= q
        out.sales.append(Sale(h.member, q, value, paid, value - paid, forced, round_exact(before)))
        left = h.points - q
        self._keep(Holder(h.member, left, h.spend, h.started_at, h.participation) if left > 0 else Holder(h.member, participation=h.participation))
        self._record(out, before, now, Cause.EXIT if forced else Cause.SALE, key, h.member)

    def _exits(self, out: Outcome, key: str, now: datetime) -> None:
        """CA-4: sell out every qualifying holder, oldest participation first, re-pricing after each."""
        self._pending = (key, now)
        multiple = Fraction(self.settings.exit_multiple)
        while self.state.circulating > 0:
            upper = self.state.price(self.settings) / multiple
            if self._loaded is None or upper > self._loaded:
                found = self.index.reaching(self._loaded, upper)
                if isinstance(found, NeedHolders):
                    out.need = found
                    return
                for candidate in found:
                    if candidate.member not in self.known:
                        self._learn(candidate)
                self._loaded = upper
            h = self._next_exit(upper)
            if h is None:
                break
            self._sell(out, key, h, h.points, now, forced=True)
        self._pending = None

    def _next_exit(self, upper: Fraction) -> Holder | None:
        """The oldest holder whose cost per point ≤ upper (its exit price ≤ the price), if any."""
        while self._by_cost and self._by_cost[0][0] <= upper:
            _, seq, h = heapq.heappop(self._by_cost)
            if self.known.get(h.member) is h:
                started, member = h.seniority
                heapq.heappush(self._by_age, (started, member, seq, h))
        while self._by_age:
            h = heapq.heappop(self._by_age)[3]
            if self.known.get(h.member) is h:
                return h
        return None

    def _learn(self, h: Holder) -> None:
        self.known[h.member] = h
        cost = h.cost_per_point
        if cost is not None:
            self._seq += 1
            heapq.heappush(self._by_cost, (cost, self._seq, h))

    def _keep(self, h: Holder) -> None:
        """A changed holder: the truth from now on, re-keyed in the index and in this run's heaps."""
        self._learn(h)
        self.changed[h.member] = h
        self.index.save(h)

    def _record(self, out: Outcome, before: Fraction, now: datetime, cause: Cause, key: str, member: str | None) -> None:
        s = self.state
        assert s.pool >= 0 and s.circulating >= 0, "the pool and the circulation never go below 0"
        assert s.price(self.settings) >= before, f"the price fell through a {cause.value}"
        if s.circulating > 0:
            s.last_price = Quote(s.pool, s.circulating)
        elif s.last_price is None:
            s.last_price = Quote(self.settings.initial_price, Decimal(1))
        out.history.append(PriceRecord(now, cause, key, member, s.pool, s.circulating, s.quote(self.settings).display))
