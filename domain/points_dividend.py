"""积分分红 / 积分释放 points dividend (SPEC §6, PD-1..PD-10): completed orders open release plans.

A qualifying order opens a plan of `amount × multiplier` points (PD-1), released into the member's
points day by day (PD-2) and faster by accelerations from the downline (PD-3..PD-5), each drawn
from the recipient's own plans, oldest first (PD-6). Unreleased plan points are a promise, booked
like queue entitlements (ADR 0003): opening moves ENTITLEMENT from `platform:promised:points_dividend`
to the member's `liability:pd:<member>`; a release moves POINTS from `platform:expense:points_dividend`
to the member's POINTS wallet and the same ENTITLEMENT back; a refund forfeits the rest to income.

The daily release (PD-9) streams: the store feeds `ReleaseMember`s deepest first (with each
member's ACTIVE plans and those already released today) and writes each `MemberRelease` as it
comes; a member whose plans already carry today's date is counted, not paid again (a re-run).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum

from domain.errors import DomainError, ErrorCode
from domain.ledger import PLATFORM_INCOME, Asset, Posting, Wallet, member_account, platform_account, transfer
from domain.money import ZERO, apply_ratio, parse_amount, round_half_up
from domain.points_dividend_settings import PlanTier, PointsDividendSettings
from domain.team_accelerations import AccelerationPass, Accelerations, ReleaseSource, naive_accelerations

MODEL = "points_dividend"
FUNDING = platform_account("expense:points_dividend")
PROMISED = platform_account("promised:points_dividend")
ADJUSTMENT = platform_account("adjustment:points")


def plans_account(member: str) -> str:
    """A member's unreleased plan points (ENTITLEMENT): the liability of this model (I-5)."""
    return f"liability:pd:{member}"


class PlanStatus(str, Enum):
    ACTIVE = "ACTIVE"
    EXHAUSTED = "EXHAUSTED"
    CANCELLED = "CANCELLED"


class AccelerationKind(str, Enum):
    SHARE = "share"  # 分享收益 PD-3
    TEAM = "team"  # 团队收益 级差 PD-4
    SAME_LEVEL = "same_level"  # 平级奖 PD-5


@dataclass(frozen=True, slots=True)
class Plan:
    """释放计划 of one order (key = order id): `total` points, `daily` static release, `released` so far.

    `position` orders a member's plans (oldest first, PD-6); `last_day` / `last_static` record the
    day last released and its static amount, so a re-run of that day counts it without paying it.
    """

    key: str
    member: str
    position: int
    amount: Decimal
    tier: str
    total: Decimal
    daily: Decimal
    released: Decimal = ZERO
    status: PlanStatus = PlanStatus.ACTIVE
    last_day: str | None = None
    last_static: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.total - self.released


def order_amount(lines: Iterable[tuple[str, Decimal]], settings: PointsDividendSettings) -> Decimal:
    """PD-1: the sum of the order's paid line amounts (product, paid), excluded products left out."""
    return sum((paid for product, paid in lines if product not in settings.excluded_products), ZERO)


def open_plan(order: str, member: str, amount: Decimal, position: int, settings: PointsDividendSettings) -> tuple[Plan | None, list[Posting]]:
    """PD-1: a completed order of at least the lowest threshold opens a plan; none below it or when off."""
    if amount < 0:
        raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"order amount must not be negative: {amount}", "amount")
    tier = settings.plan_tier(amount)
    if not settings.enabled or tier is None:
        return None, []
    total = settings.plan_points(amount)
    plan = Plan(order, member, position, amount, tier.name, total, apply_ratio(amount, settings.release_ratio))
    return plan, transfer(f"pd:{order}:open", PROMISED, plans_account(member), total, Asset.ENTITLEMENT, "release plan")


def member_level(plans: Iterable[Plan], settings: PointsDividendSettings) -> PlanTier | None:
    """PD-1: the highest tier reached by the member's orders (refunded ones do not count)."""
    amounts = [p.amount for p in plans if p.status is not PlanStatus.CANCELLED]
    return settings.plan_tier(max(amounts)) if amounts else None


def cancel_plan(plan: Plan) -> tuple[Plan, list[Posting]]:
    """PD-10: a refund cancels the plan; unreleased points are forfeited, released points stay."""
    if plan.status is PlanStatus.CANCELLED:
        return plan, []
    postings = transfer(f"pd:{plan.key}:cancel", plans_account(plan.member), PLATFORM_INCOME, plan.remaining, Asset.ENTITLEMENT, "forfeit")
    return replace(plan, status=PlanStatus.CANCELLED), postings


def adjust_points(key: str, member: str, amount: Decimal, available: Decimal, reason: str) -> list[Posting]:
    """PD-7: an admin adds (amount > 0) or removes (< 0) available points, with a reason; never below zero."""
    amount = parse_amount(amount, "amount", allow_negative=True)
    if amount == 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, "amount must not be zero", "amount")
    if not reason.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "an adjustment needs a reason", "reason")
    wallet = member_account(member, Wallet.POINTS)
    if amount > 0:
        return transfer(f"pd:adjust:{key}", ADJUSTMENT, wallet, amount, Asset.POINTS, reason)
    if available + amount < 0:
        raise DomainError(ErrorCode.INSUFFICIENT_POINTS, f"member {member} has {available} points, cannot remove {-amount}", "amount")
    return transfer(f"pd:adjust:{key}", wallet, ADJUSTMENT, -amount, Asset.POINTS, reason)


@dataclass(frozen=True, slots=True)
class ReleaseMember:
    """One member as the daily release reads it: tree position, team level at run start, its plans."""

    member: str
    parent: str | None
    depth: int
    level: int
    plans: tuple[Plan, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberRelease:
    """What the day did to one member: static release, exact / rounded / paid accelerations, new plans."""

    member: str
    static: Decimal
    exact: Accelerations
    rounded: Accelerations
    paid: Accelerations
    plans: tuple[Plan, ...]
    postings: tuple[Posting, ...]
    already_released: bool = False


@dataclass(frozen=True, slots=True)
class _Static:
    amount: Decimal
    plans: tuple[Plan, ...]
    postings: tuple[Posting, ...]
    already_released: bool


def daily_release(day: str, members: Iterable[ReleaseMember], settings: PointsDividendSettings) -> Iterator[MemberRelease]:
    """PD-9 over a stream of members ordered deepest first; one result per member, as soon as it is final."""
    if not settings.enabled:
        return
    run = AccelerationPass(settings.acceleration_rules)
    for m in members:
        yield settle_member(day, m, run)
    run.finish()


def settle_member(day: str, m: ReleaseMember, run: AccelerationPass) -> MemberRelease:
    """PD-9 for the next member of the stream fed to `run` (a pass restored between chunks)."""
    static = _release_static(day, m)
    received = run.add(ReleaseSource(m.member, m.parent, m.depth, m.level, static.amount))
    return _settle(day, m, static, received)


def daily_release_reference(day: str, members: Sequence[ReleaseMember], settings: PointsDividendSettings) -> list[MemberRelease]:
    """PD-9 by walking every chain (the reference for small trees); same results as `daily_release`."""
    if not settings.enabled:
        return []
    statics = {m.member: _release_static(day, m) for m in members}
    sources = [ReleaseSource(m.member, m.parent, m.depth, m.level, statics[m.member].amount) for m in members]
    sums = naive_accelerations(sources, settings.acceleration_rules)
    return [_settle(day, m, statics[m.member], sums.get(m.member, Accelerations(m.member))) for m in members]


def _oldest_first(m: ReleaseMember) -> list[Plan]:
    for plan in m.plans:
        assert plan.member == m.member, f"plan {plan.key} belongs to {plan.member}, not {m.member}"
    return sorted(m.plans, key=lambda p: (p.position, p.key))


def _release_static(day: str, m: ReleaseMember) -> _Static:
    """PD-9 (1), PD-2: each ACTIVE plan releases its daily amount, capped at what it has left."""
    plans = _oldest_first(m)
    if any(p.last_day == day for p in plans):
        return _Static(sum((p.last_static for p in plans if p.last_day == day), ZERO), tuple(plans), (), True)
    out: list[Plan] = []
    postings: list[Posting] = []
    for plan in plans:
        if plan.status is not PlanStatus.ACTIVE:
            out.append(plan)
            continue
        amount = min(plan.daily, plan.remaining)
        out.append(_released(plan, amount, day, amount))
        postings += transfer(f"pd:{day}:static:{plan.key}", FUNDING, member_account(m.member, Wallet.POINTS), amount, Asset.POINTS, "static release")
        postings += transfer(f"pd:{day}:static_settle:{plan.key}", plans_account(m.member), PROMISED, amount, Asset.ENTITLEMENT, "static release")
    return _Static(sum((p.last_static for p in out if p.last_day == day), ZERO), tuple(out), tuple(postings), False)


def _released(plan: Plan, amount: Decimal, day: str, static: Decimal) -> Plan:
    released = plan.released + amount
    status = PlanStatus.EXHAUSTED if released >= plan.total else plan.status
    return replace(plan, released=released, status=status, last_day=day, last_static=static)


def _settle(day: str, m: ReleaseMember, static: _Static, exact: Accelerations) -> MemberRelease:
    """PD-9 (3)-(4): round each kind once, cap the total at the plans' remaining points, draw oldest first."""
    rounded = Accelerations(m.member, round_half_up(exact.share), round_half_up(exact.team), round_half_up(exact.same_level))
    if static.already_released or exact.is_zero:
        return MemberRelease(m.member, static.amount, exact, rounded, Accelerations(m.member), static.plans, static.postings, static.already_released)
    room = sum((p.remaining for p in static.plans if p.status is PlanStatus.ACTIVE), ZERO)
    paid: list[Decimal] = []
    for amount in (rounded.share, rounded.team, rounded.same_level):
        paid.append(min(amount, room))
        room -= paid[-1]
    wallet = member_account(m.member, Wallet.POINTS)
    postings = list(static.postings)
    for kind, amount in zip(AccelerationKind, paid, strict=True):
        postings += transfer(f"pd:{day}:{kind.value}:{m.member}", FUNDING, wallet, amount, Asset.POINTS, f"{kind.value} acceleration")
    plans, drawn = _draw(day, static.plans, sum(paid, ZERO))
    postings += drawn
    return MemberRelease(m.member, static.amount, exact, rounded, Accelerations(m.member, *paid), plans, tuple(postings))


def _draw(day: str, plans: tuple[Plan, ...], total: Decimal) -> tuple[tuple[Plan, ...], list[Posting]]:
    """PD-6: draw `total` from the ACTIVE plans, oldest first; a plan drawn to zero is EXHAUSTED."""
    out: list[Plan] = []
    postings: list[Posting] = []
    for plan in plans:
        take = min(total, plan.remaining) if plan.status is PlanStatus.ACTIVE else ZERO
        if take <= 0:
            out.append(plan)
            continue
        total -= take
        out.append(_released(plan, take, plan.last_day or day, plan.last_static))
        postings += transfer(f"pd:{day}:accelerate_settle:{plan.key}", plans_account(plan.member), PROMISED, take, Asset.ENTITLEMENT, "acceleration")
    assert total == 0, "accelerations exceed the plans' remaining points"
    return tuple(out), postings
