"""积分分红 points dividend platform settings (SPEC PD-1..PD-5, PD-7, I-7), validated (C-8).

Plan tiers by single-order amount (threshold ascending, multiplier > 0), the daily release ratio,
share % per generation (at most the compliance guard's `max_referral_generations`, DR-7, unless
`compliance_override`), team tiers by team performance (performance and % both ascending) and the
same-level %. Defaults are seed 003's tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.money import HUNDRED, ZERO, parse_amount, parse_ratio, round_half_up
from domain.settings import Reader
from domain.team_accelerations import AccelerationRules

DEFAULT_MAX_GENERATIONS = 3  # the compliance guard's default `max_referral_generations` (DR-7)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class PlanTier:
    """A single order of at least `threshold` opens a plan of `amount × multiplier` points (PD-1)."""

    name: str
    threshold: Decimal
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class TeamTier:
    """A member whose team performance is at least `performance` earns `ratio` % level difference (PD-4)."""

    name: str
    performance: Decimal
    ratio: Decimal


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


@dataclass(frozen=True, slots=True)
class PointsDividendSettings:
    """积分分红 platform settings; off until enabled (C-11)."""

    enabled: bool = False
    tiers: tuple[PlanTier, ...] = DEFAULT_TIERS
    release_ratio: Decimal = Decimal("1.2")
    share_ratios: tuple[Decimal, ...] = (Decimal(50), Decimal(30))
    team_tiers: tuple[TeamTier, ...] = DEFAULT_TEAM_TIERS
    same_level_ratio: Decimal = Decimal(3)
    release_time: str = "00:30"
    usage_ratio: Decimal = HUNDRED  # PD-7: share of a payment that points may cover (read by the mall)
    compliance_override: bool = False
    excluded_products: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: PointsDividendSettings | None = None, max_generations: int | None = DEFAULT_MAX_GENERATIONS) -> PointsDividendSettings:
        """Validate `values` over `base`; `max_generations` None means the compliance guard does not enforce."""
        b = base or cls()
        r = Reader(values)
        raw_tiers, raw_team, raw_shares = r.raw("tiers"), r.raw("team_tiers"), r.raw("share_ratios")
        settings = cls(
            enabled=bool(r.flag("enabled", b.enabled)),
            tiers=_plan_tiers(raw_tiers) if raw_tiers is not None else b.tiers,
            release_ratio=r.ratio("release_ratio", b.release_ratio, HUNDRED) or ZERO,
            share_ratios=_share_ratios(raw_shares) if raw_shares is not None else b.share_ratios,
            team_tiers=_team_tiers(raw_team) if raw_team is not None else b.team_tiers,
            same_level_ratio=r.ratio("same_level_ratio", b.same_level_ratio, HUNDRED) or ZERO,
            release_time=_release_time(r.text("release_time", b.release_time) or ""),
            usage_ratio=r.ratio("usage_ratio", b.usage_ratio, HUNDRED) or ZERO,
            compliance_override=bool(r.flag("compliance_override", b.compliance_override)),
            excluded_products=r.names("excluded_products", b.excluded_products),
        )
        r.finish()
        if settings.release_ratio <= 0:
            raise DomainError(ErrorCode.INVALID_RATIO, "release_ratio must be greater than 0", "release_ratio")
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


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_SETTINGS, f"{field} {message}", field)


def _objects(raw: Any, field: str, keys: tuple[str, str, str]) -> list[Reader]:
    if not isinstance(raw, list):
        raise _invalid(field, "must be a list")
    readers = [Reader(item, f"{field}[{i}].") for i, item in enumerate(raw)]
    names: set[str] = set()
    for reader in readers:
        name = reader.text(keys[0], None)
        if not name or name in names:
            raise _invalid(reader.field(keys[0]), "must be a unique, non-empty name")
        names.add(name)
    return readers


def _required(r: Reader, name: str) -> Any:
    value = r.raw(name)
    if value is None:
        raise _invalid(r.field(name), "is required")
    return value


def _plan_tiers(raw: Any) -> tuple[PlanTier, ...]:
    tiers: list[PlanTier] = []
    for r in _objects(raw, "tiers", ("name", "threshold", "multiplier")):
        threshold = parse_amount(_required(r, "threshold"), r.field("threshold"))
        multiplier = parse_ratio(_required(r, "multiplier"), r.field("multiplier"))
        r.finish()
        if threshold <= 0 or multiplier <= 0:
            raise _invalid(r.field("threshold"), "and multiplier must be greater than 0")
        if tiers and threshold <= tiers[-1].threshold:
            raise _invalid(r.field("threshold"), "must be greater than the previous tier's (ascending)")
        tiers.append(PlanTier(str(r.values["name"]), threshold, multiplier))
    if not tiers:
        raise _invalid("tiers", "must list at least one tier")
    return tuple(tiers)


def _team_tiers(raw: Any) -> tuple[TeamTier, ...]:
    tiers: list[TeamTier] = []
    for r in _objects(raw, "team_tiers", ("name", "performance", "ratio")):
        performance = parse_amount(_required(r, "performance"), r.field("performance"))
        ratio = parse_ratio(_required(r, "ratio"), r.field("ratio"), HUNDRED)
        r.finish()
        if performance <= 0 or ratio <= 0:
            raise _invalid(r.field("performance"), "and ratio must be greater than 0")
        if tiers and (performance <= tiers[-1].performance or ratio <= tiers[-1].ratio):
            raise _invalid(r.field("performance"), "and ratio must both be greater than the previous tier's (ascending)")
        tiers.append(TeamTier(str(r.values["name"]), performance, ratio))
    return tuple(tiers)


def _share_ratios(raw: Any) -> tuple[Decimal, ...]:
    if not isinstance(raw, list):
        raise _invalid("share_ratios", "must be a list of percentages, one per generation")
    return tuple(parse_ratio(value, f"share_ratios[{i}]", HUNDRED) for i, value in enumerate(raw))


def _release_time(text: str) -> str:
    if not _TIME.match(text):
        raise _invalid("release_time", f"must be HH:MM (00:00..23:59): {text!r}")
    return text
