"""积分分红 points dividend platform settings (SPEC PD-1..PD-5, PD-7, I-7), validated (C-8).

Plan tiers by single-order amount (threshold ascending, multiplier > 0), the daily release ratio,
share % per generation (at most the compliance guard's `max_referral_generations`, DR-7, unless
`compliance_override`), team tiers by team performance (performance and % both ascending) and the
same-level %. Defaults are seed 003's tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, model_validator
from pydantic.dataclasses import dataclass

from domain.errors import DomainError, ErrorCode
from domain.money import HUNDRED, ZERO, round_half_up
from domain.settings import SETTINGS_CONFIG, Amount, DisplayName, Flag, Ids, Percent, Ratio, TimeOfDay, parse_settings, refusal
from domain.team_accelerations import AccelerationRules

DEFAULT_MAX_GENERATIONS = 3  # the compliance guard's default `max_referral_generations` (DR-7)


@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class PlanTier:
    """A single order of at least `threshold` opens a plan of `amount × multiplier` points (PD-1)."""

    name: DisplayName
    threshold: Amount
    multiplier: Ratio

    @model_validator(mode="after")
    def _positive(self) -> PlanTier:
        if self.threshold <= 0 or self.multiplier <= 0:
            raise refusal("and multiplier must be greater than 0", at=("threshold",))
        return self


@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class TeamTier:
    """A member whose team performance is at least `performance` earns `ratio` % level difference (PD-4)."""

    name: DisplayName
    performance: Amount
    ratio: Percent

    @model_validator(mode="after")
    def _positive(self) -> TeamTier:
        if self.performance <= 0 or self.ratio <= 0:
            raise refusal("and ratio must be greater than 0", at=("performance",))
        return self


def _plan_tiers_ascending(tiers: tuple[PlanTier, ...]) -> tuple[PlanTier, ...]:
    if not tiers:
        raise refusal("must list at least one tier")
    _unique_names([t.name for t in tiers])
    for i in range(1, len(tiers)):
        if tiers[i].threshold <= tiers[i - 1].threshold:
            raise refusal("must be greater than the previous tier's (ascending)", at=(i, "threshold"))
    return tiers


def _team_tiers_ascending(tiers: tuple[TeamTier, ...]) -> tuple[TeamTier, ...]:
    _unique_names([t.name for t in tiers])
    for i in range(1, len(tiers)):
        if tiers[i].performance <= tiers[i - 1].performance or tiers[i].ratio <= tiers[i - 1].ratio:
            raise refusal("and ratio must both be greater than the previous tier's (ascending)", at=(i, "performance"))
    return tiers


def _unique_names(names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise refusal("must be a unique name", at=(i, "name"))
        seen.add(name)


PlanTiers = Annotated[tuple[PlanTier, ...], AfterValidator(_plan_tiers_ascending)]
TeamTiers = Annotated[tuple[TeamTier, ...], AfterValidator(_team_tiers_ascending)]


DEFAULT_TIERS = (
    PlanTier("junior", Decimal(3000), Decimal("2.5")),
    PlanTier("intermediate", Decimal(9000), Decimal(3)),
    PlanTier("senior", Decimal(27000), Decimal("3.5")),
    PlanTier("vip", Decimal(51000), Decimal(4)),
)
DEFAULT_TEAM_TIERS = (
    TeamTier("bronze", Decimal(50_000), Decimal(10)),
    TeamTier("silver", Decimal(200_000), Decimal(20)),
    TeamTier("gold", Decimal(600_000), Decimal(26)),
    TeamTier("platinum", Decimal(2_000_000), Decimal(32)),
    TeamTier("diamond", Decimal(6_000_000), Decimal(38)),
    TeamTier("star", Decimal(15_000_000), Decimal(44)),
    TeamTier("king", Decimal(30_000_000), Decimal(50)),
)


@dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class PointsDividendSettings:
    """积分分红 platform settings; off until enabled (C-11)."""

    enabled: Flag = False
    tiers: PlanTiers = DEFAULT_TIERS
    release_ratio: Percent = Decimal("1.2")
    share_ratios: tuple[Percent, ...] = (Decimal(50), Decimal(30))
    team_tiers: TeamTiers = DEFAULT_TEAM_TIERS
    same_level_ratio: Percent = Decimal(3)
    release_time: TimeOfDay = "00:30"
    usage_ratio: Percent = HUNDRED  # PD-7: share of a payment that points may cover (read by the mall)
    compliance_override: Flag = False
    excluded_products: Ids = frozenset()

    @model_validator(mode="after")
    def _release_ratio_positive(self) -> PointsDividendSettings:
        if self.release_ratio <= 0:
            raise refusal("must be greater than 0", ErrorCode.INVALID_RATIO, at=("release_ratio",))
        return self

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: PointsDividendSettings | None = None, max_generations: int | None = None) -> PointsDividendSettings:
        """Validate `values` over `base`; with `max_generations` the share generations are capped here
        (DR-7; None: the platform's compliance guard, services/compliance.py, lists or refuses them)."""
        settings = parse_settings(cls, values, base=base)
        limit = None if settings.compliance_override else max_generations
        if limit is not None and len(settings.share_ratios) > limit:
            raise DomainError(ErrorCode.COMPLIANCE_LIMIT, f"share_ratios has {len(settings.share_ratios)} generations, the compliance limit is {limit}", "share_ratios")
        return settings

    def as_values(self) -> dict[str, Any]:
        """JSON-able form (decimals as strings) that `parse` reads back to an equal object."""
        return {
            "enabled": self.enabled,
            "tiers": [{"name": t.name, "threshold": str(t.threshold), "multiplier": str(t.multiplier)} for t in self.tiers],
            "release_ratio": str(self.release_ratio),
            "share_ratios": [str(s) for s in self.share_ratios],
            "team_tiers": [{"name": t.name, "performance": str(t.performance), "ratio": str(t.ratio)} for t in self.team_tiers],
            "same_level_ratio": str(self.same_level_ratio),
            "release_time": self.release_time,
            "usage_ratio": str(self.usage_ratio),
            "compliance_override": self.compliance_override,
            "excluded_products": sorted(self.excluded_products),
        }

    def plan_tier(self, amount: Decimal) -> PlanTier | None:
        """PD-1: the largest threshold ≤ the order amount decides; None below the lowest."""
        reached = [t for t in self.tiers if t.threshold <= amount]
        return reached[-1] if reached else None

    def plan_points(self, amount: Decimal) -> Decimal:
        """PD-1: `amount × multiplier`, rounded half-up once (C-3); 0 when no tier is reached."""
        tier = self.plan_tier(amount)
        return round_half_up(amount * tier.multiplier) if tier else ZERO

    def team_level(self, performance: Decimal) -> int:
        """PD-4: 1-based index of the highest team tier whose performance is reached; 0 = none."""
        return sum(1 for t in self.team_tiers if t.performance <= performance)

    def team_tier(self, performance: Decimal) -> TeamTier | None:
        level = self.team_level(performance)
        return self.team_tiers[level - 1] if level else None

    @property
    def acceleration_rules(self) -> AccelerationRules:
        return AccelerationRules(self.share_ratios, tuple(t.ratio for t in self.team_tiers), self.same_level_ratio)

    @property
    def release_hour_minute(self) -> tuple[int, int]:
        """The daily release time of day (PD-9) in the platform time zone (C-9)."""
        hour, minute = self.release_time.split(":")
        return int(hour), int(minute)
