"""分销 distribution rewards (SPEC §8, DR-1..DR-6, DR-8; seeds 000 part 2, 004), pure.

On a completed order (its amount: the paid lines, excluded products left out) the orderer's
referrers earn by generation (DR-1), its ancestors by the shared level-difference walk on their
team tiers (DR-2, DR-3, `domain.level_difference`), the store's recruiter a share of the store's
flow (DR-4) and the region's agents by level difference (DR-5). Every reward is summed per
recipient and kind and rounded once (C-3), then paid in cash from `platform:expense:distribution`.
A refund takes the rewards back from the recipients' cash up to what is there and books the rest
as their receivable (DR-8, as QR-8's clawback). The shareholder dividend splits a period's share
of the turnover by weight, floor per C-4, the remainder carried (DR-6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.ledger import Posting, Wallet, member_account, platform_account, pool_account, transfer
from domain.level_difference import Award, AwardKind, FirstAtOrAbove, walk
from domain.money import ZERO, apply_ratio, floor_exact, parse_ratio
from domain.points_dividend_settings import TeamTiers
from domain.settings import SETTINGS_CONFIG, Flag, Ids, Percent, parse_settings, refusal

MODEL = "distribution"
QUEUE_ID = "dr"
EXPENSE = platform_account("expense:distribution")
SHAREHOLDER_POOL = pool_account("dr:shareholder")
MAX_REGION = 128


class ShareholderPeriod(str, Enum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


class AgentLevel(str, Enum):
    """Regional agents, lowest first; a region "province/city/district" has 1, 2 or 3 parts."""

    DISTRICT = "DISTRICT"
    CITY = "CITY"
    PROVINCE = "PROVINCE"

    @property
    def parts(self) -> int:
        return {AgentLevel.PROVINCE: 1, AgentLevel.CITY: 2, AgentLevel.DISTRICT: 3}[self]


class RewardKind(str, Enum):
    REFERRAL = "REFERRAL"  # 直推 / 间推 (DR-1)
    TEAM = "TEAM"  # 团队级差 (DR-2)
    SAME_LEVEL = "SAME_LEVEL"  # 平级 (DR-3)
    RECRUIT = "RECRUIT"  # 招商 (DR-4)
    AGENT = "AGENT"  # 区域代理 (DR-5)
    SHAREHOLDER = "SHAREHOLDER"  # 股东分红 (DR-6)


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class AgentRatios:
    """DR-5: % of an order in the region for each agent level; not falling going up."""

    DISTRICT: Percent = Decimal("0.1")
    CITY: Percent = Decimal("0.2")
    PROVINCE: Percent = Decimal("0.3")

    @model_validator(mode="after")
    def _ascending(self) -> AgentRatios:
        if not self.DISTRICT <= self.CITY <= self.PROVINCE:
            raise refusal("must not be below a lower level's ratio (DISTRICT ≤ CITY ≤ PROVINCE)", at=("CITY",))
        return self

    def of(self, level: AgentLevel) -> Decimal:
        ratio: Decimal = getattr(self, level.value)
        return ratio


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class DistributionSettings:
    """分销 platform settings (DR-1..DR-6, I-7); off until enabled (C-11)."""

    enabled: Flag = False
    referral_ratios: tuple[Percent, ...] = (Decimal("0.3"), Decimal("0.2"))
    team_tiers: TeamTiers = ()
    same_level_ratio: Percent = ZERO
    recruit_ratio: Percent = Decimal("0.5")
    agent_ratios: AgentRatios = Field(default_factory=AgentRatios, json_schema_extra={"default": {"DISTRICT": "0.1", "CITY": "0.2", "PROVINCE": "0.3"}})
    shareholder_ratio: Percent = Decimal(1)
    shareholder_period: ShareholderPeriod = ShareholderPeriod.MONTHLY
    excluded_products: Ids = frozenset()
    compliance_override: Flag = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: DistributionSettings | None = None) -> DistributionSettings:
        """Validate `values` over `base` (a partial update; `agent_ratios` field by field); C-8."""
        return parse_settings(cls, values, base=base, merge=("agent_ratios",))

    def team_level(self, performance: Decimal) -> int:
        """1-based index of the highest team tier reached; 0 = none (DR-2 as PD-4)."""
        return sum(1 for t in self.team_tiers if t.performance <= performance)

    def team_tier_name(self, performance: Decimal) -> str | None:
        level = self.team_level(performance)
        return self.team_tiers[level - 1].name if level else None

    def order_amount(self, lines: Iterable[tuple[str | None, Decimal]]) -> Decimal:
        """The amount rewards are computed on: paid lines, excluded products left out."""
        return sum((paid for product, paid in lines if product is None or product not in self.excluded_products), ZERO)


@dataclass(frozen=True, slots=True)
class Reward:
    """One recipient's reward of one kind for one order (or period), already rounded (C-3)."""

    member: str
    kind: RewardKind
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What DR-1..DR-5 read of a completed order.

    `referrers`: the orderer's referrer, its referrer …; `team`: the walk's lookup over the
    orderer's ancestors with their team levels as they stood before this order (None: no tiers);
    `recruiter`: the recruiter of the store, for STORE_ONLINE and CASHIER orders only (DR-4);
    `agents`: agent level → the member who is agent of this order's region at that level.
    """

    order: str
    amount: Decimal
    referrers: Sequence[str] = ()
    team: FirstAtOrAbove | None = None
    recruiter: str | None = None
    agents: Mapping[AgentLevel, str] | None = None


def region_prefix(region: str, level: AgentLevel) -> str | None:
    """The part of an order's region ("province/city/district") that an agent of `level` covers."""
    parts = [p for p in region.split("/") if p]
    return "/".join(parts[: level.parts]) if len(parts) >= level.parts else None


def check_region(region: Any, field: str = "region", level: AgentLevel | None = None) -> str:
    """A region is "province[/city[/district]]"; an agent's has exactly its level's parts (C-8)."""
    if not isinstance(region, str) or not region or len(region) > MAX_REGION:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be a non-empty string of at most {MAX_REGION} characters", field)
    parts = region.split("/")
    if not all(p.strip() for p in parts) or len(parts) > 3:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be province/city/district: {region!r}", field)
    if level is not None and len(parts) != level.parts:
        raise DomainError(ErrorCode.INVALID_INPUT, f"a {level.value} agent's region has {level.parts} part(s): {region!r}", field)
    return region


def agent_ratios(ratios: AgentRatios, agents: Mapping[AgentLevel, str]) -> list[tuple[str, Decimal]]:
    """DR-5: each agent its ratio minus the highest ratio of a lower level that has an agent."""
    highest, out = ZERO, []
    for level in AgentLevel:
        member = agents.get(level)
        if member is None:
            continue
        ratio = ratios.of(level)
        if ratio > highest:
            out.append((member, ratio - highest))
            highest = ratio
    return out


def team_awards(settings: DistributionSettings, team: FirstAtOrAbove) -> list[Award]:
    """DR-2, DR-3: the level-difference walk of `team_tiers` (none without tiers)."""
    return walk([t.ratio for t in settings.team_tiers], settings.same_level_ratio, team) if settings.team_tiers else []


def order_rewards(settings: DistributionSettings, facts: OrderFacts) -> list[Reward]:
    """DR-1..DR-5 of one completed order: ratios summed per recipient and kind, each rounded once."""
    ratios: dict[tuple[str, RewardKind], Decimal] = {}

    def add(member: str, kind: RewardKind, ratio: Decimal) -> None:
        if ratio > 0:
            ratios[(member, kind)] = ratios.get((member, kind), ZERO) + ratio

    for member, ratio in zip(facts.referrers, settings.referral_ratios, strict=False):
        add(member, RewardKind.REFERRAL, ratio)
    if facts.team is not None:
        for award in team_awards(settings, facts.team):
            add(award.member, RewardKind.TEAM if award.kind is AwardKind.LEVEL_DIFFERENCE else RewardKind.SAME_LEVEL, award.ratio)
    if facts.recruiter is not None:
        add(facts.recruiter, RewardKind.RECRUIT, settings.recruit_ratio)
    for member, ratio in agent_ratios(settings.agent_ratios, facts.agents or {}):
        add(member, RewardKind.AGENT, ratio)
    rewards = [Reward(member, kind, apply_ratio(facts.amount, ratio)) for (member, kind), ratio in ratios.items()]
    return [r for r in rewards if r.amount > 0]


def reward_postings(source_key: str, rewards: Iterable[Reward]) -> list[Posting]:
    """Each reward one transfer from the distribution expense into the recipient's cash."""
    out: list[Posting] = []
    for r in rewards:
        out += transfer(f"dr:{source_key}:{r.kind.value}:{r.member}", EXPENSE, member_account(r.member, Wallet.CASH), r.amount, memo=f"distribution {r.kind.value}")
    return out


def reversal_postings(order: str, reward: Reward, cash: Decimal) -> list[Posting]:
    """DR-8: take `reward` back from the recipient's cash up to `cash`; the rest becomes its receivable."""
    taken = min(reward.amount, max(cash, ZERO))
    key = f"dr:{order}:{reward.kind.value}:{reward.member}"
    return transfer(f"{key}:reversal", member_account(reward.member, Wallet.CASH), EXPENSE, taken, memo="distribution reversal") + transfer(
        f"{key}:receivable", member_account(reward.member, Wallet.RECEIVABLE), EXPENSE, reward.amount - taken, memo="distribution receivable"
    )


def parse_weight(value: Any, field: str = "weight") -> Decimal:
    """A shareholder's weight: a decimal > 0 with at most 4 places (0 removes the shareholder)."""
    weight = parse_ratio(value, field, Decimal(1_000_000))
    return weight


@dataclass(frozen=True, slots=True)
class Dividend:
    """DR-6 of one period: what came in, each shareholder's share, and what stays in the pool."""

    funded: Decimal
    pool: Decimal
    shares: tuple[Reward, ...]
    carried: Decimal


def shareholder_dividend(settings: DistributionSettings, turnover: Decimal, carried: Decimal, weights: Mapping[str, Decimal]) -> Dividend:
    """DR-6: `shareholder_ratio` % of the turnover (rounded once) plus the carried pool, split by
    weight, each floor(pool × w / W, 0.01); the remainder is carried to the next period."""
    funded = apply_ratio(turnover, settings.shareholder_ratio)
    pool = funded + carried
    total = sum((w for w in weights.values() if w > 0), ZERO)
    if total <= 0:
        return Dividend(funded, pool, (), pool)
    shares = tuple(
        Reward(member, RewardKind.SHAREHOLDER, floor_exact(Fraction(pool) * Fraction(w) / Fraction(total)))
        for member, w in sorted(weights.items()) if w > 0
    )
    shares = tuple(s for s in shares if s.amount > 0)
    return Dividend(funded, pool, shares, pool - sum((s.amount for s in shares), ZERO))


def dividend_postings(period: str, dividend: Dividend) -> list[Posting]:
    """The period's funding into the shareholder pool and each share out of it."""
    out = transfer(f"dr:shareholder:{period}:fund", EXPENSE, SHAREHOLDER_POOL, dividend.funded, memo="distribution shareholder pool")
    for s in dividend.shares:
        out += transfer(f"dr:shareholder:{period}:{s.member}", SHAREHOLDER_POOL, member_account(s.member, Wallet.CASH), s.amount, memo="distribution SHAREHOLDER")
    return out


def period_key(day: date, period: ShareholderPeriod) -> str:
    """The shareholder period a platform-local day belongs to: 2026-01-05, 2026-W02, 2026-01."""
    if period is ShareholderPeriod.DAILY:
        return day.isoformat()
    if period is ShareholderPeriod.WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def period_ended(day: date, period: ShareholderPeriod) -> str | None:
    """The period that ended just before `day` when `day` opens a new one (the cron's run), else None."""
    before = day - timedelta(days=1)
    return period_key(before, period) if period_key(before, period) != period_key(day, period) else None


def is_period_key(text: str) -> bool:
    """Whether `text` names a period as `period_key` writes it (a day, an ISO week or a month)."""
    return any(_first_day(text, kind) is not None for kind in ShareholderPeriod)


def _first_day(text: str, kind: ShareholderPeriod) -> date | None:
    try:
        if kind is ShareholderPeriod.DAILY:
            day = date.fromisoformat(text)
        elif kind is ShareholderPeriod.MONTHLY:
            day = date.fromisoformat(f"{text}-01")
        else:
            day = date.fromisocalendar(int(text[:4]), int(text[6:]), 1)
    except ValueError:
        return None
    return day if period_key(day, kind) == text else None
