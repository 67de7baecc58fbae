"""Typed queue rebate settings on the wire (QR-10..QR-20): the per-product / store / cashier
settings (inputs and output) and the plugin settings (output; they are changed through
`setSettings(model: "queue_rebate")`). Inputs convert to the snake_case dicts the domain parses,
so validation (C-8) stays in one place: `EntitySettings.parse` / `PluginSettings.parse`.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

import strawberry

from api.errors import camel_path, mirror
from api.scalars import Money, Ratio
from domain.errors import DomainError, ErrorCode
from domain.queue_rebate import RewardRule as DomainRewardRule
from domain.queue_rebate import SettleOn as DomainSettleOn
from domain.queue_rebate import Surplus as DomainSurplus
from domain.queue_rebate_features import ExchangeTarget as DomainExchangeTarget
from domain.queue_rebate_features import LevelRatios, LotterySettings, Period, RandomReturnSettings, ResetSettings, Tier
from domain.queue_rebate_features import LotteryMode as DomainLotteryMode
from domain.queue_rebate_features import ResetSchedule as DomainResetSchedule
from domain.queue_rebate_settings import Deduction as DomainDeduction
from domain.queue_rebate_settings import EntitySettings, PluginSettings

LotteryMode = mirror(DomainLotteryMode, "LotteryMode", "QR-12: FIXED draws one of `ratios` uniformly; RANGE a ratio in [min, max] on a 0.01 step.")
ExchangeTarget = mirror(DomainExchangeTarget, "ExchangeTarget", "QR-14: what an entitlement's unpaid remainder is exchanged to.")
Surplus = mirror(DomainSurplus, "Surplus", "QR-3: what is left of a line's extraction goes to PLATFORM income or stays in the queue pool (CARRY).")
SettleOn = mirror(DomainSettleOn, "SettleOn", "QR-6: when a line's extraction runs.")
RewardRule = mirror(DomainRewardRule, "RewardRule", "QR-7: pay strictly by position, or skip entitlements whose own order is not completed yet.")
Deduction = mirror(DomainDeduction, "Deduction", "QR-9: whether lines paid partly with points / love value earn an entitlement.")
ResetSchedule = mirror(DomainResetSchedule, "ResetSchedule", "QR-16: when WAITING entitlements are cleared.")


# --- outputs ------------------------------------------------------------------------------


@strawberry.type(description="QR-10: the reward ratio of members of a level.")
class LevelRatio:
    level: str
    ratio: Ratio


@strawberry.type(description="QR-11 累计金额奖励: completed orders of at least `threshold` within `windowDays` days → `ratio`.")
class CumulativeTier:
    window_days: int
    threshold: Money
    ratio: Ratio


@strawberry.type(description="QR-12 抽奖: FIXED with `ratios`, or RANGE with `min` and `max`.")
class Lottery:
    mode: LotteryMode  # type: ignore[valid-type]
    ratios: list[Ratio]
    min_ratio: Ratio | None = strawberry.field(name="min")
    max_ratio: Ratio | None = strawberry.field(name="max")


@strawberry.type(description='QR-13 奖励时间段: local [start, end) on the ISO weekdays listed (1 = Monday; empty: every day).')
class RewardPeriod:
    start: str
    end: str
    weekdays: list[int]


@strawberry.type(description="QR-15 随机返: in each group of cashCount + pointsCount entitlements, pointsCount are converted to points.")
class RandomReturn:
    enabled: bool
    cash_count: int
    points_count: int


@strawberry.type(description="QR-16 队列奖励清零: DAILY at `time`, WEEKLY on `weekday`, MONTHLY on `day`, or once AT a local time.")
class QueueRebateReset:
    enabled: bool
    schedule: ResetSchedule  # type: ignore[valid-type]
    time: str
    weekday: int
    day: int
    at: str | None = strawberry.field(description="Local ISO datetime without zone (schedule AT).")


def level_ratios_of(ratios: LevelRatios) -> list[LevelRatio]:
    return [LevelRatio(level=level, ratio=Ratio(str(ratio))) for level, ratio in ratios]


def tiers_of(tiers: tuple[Tier, ...]) -> list[CumulativeTier]:
    return [CumulativeTier(window_days=t.window_days, threshold=Money(str(t.threshold)), ratio=Ratio(str(t.ratio))) for t in tiers]


def lottery_of(lottery: LotterySettings | None) -> Lottery | None:
    if lottery is None:
        return None
    fixed = lottery.mode is DomainLotteryMode.FIXED
    return Lottery(
        mode=LotteryMode(lottery.mode.value),
        ratios=[Ratio(str(r)) for r in lottery.ratios],
        min_ratio=None if fixed else Ratio(str(lottery.min_ratio)),
        max_ratio=None if fixed else Ratio(str(lottery.max_ratio)),
    )


def periods_of(periods: tuple[Period, ...]) -> list[RewardPeriod]:
    return [RewardPeriod(start=p.start, end=p.end, weekdays=list(p.weekdays)) for p in periods]


def random_return_of(value: RandomReturnSettings | None) -> RandomReturn | None:
    return None if value is None else RandomReturn(enabled=value.enabled, cash_count=value.cash_count, points_count=value.points_count)


def reset_of(value: ResetSettings) -> QueueRebateReset:
    return QueueRebateReset(
        enabled=value.enabled, schedule=ResetSchedule(value.schedule.value), time=value.time, weekday=value.weekday, day=value.day,
        at=value.at.isoformat(timespec="minutes") if value.at is not None else None,
    )


@strawberry.type(description='QR-20 settings of a product (a STORE product: the store-product level), store or cashier; null / empty means "use the next level".')
class EntityQueueRebate:
    enabled: bool | None
    extraction_ratio: Ratio | None
    reward_ratio: Ratio | None
    member_level_ratios: list[LevelRatio]
    cumulative_tiers: list[CumulativeTier]
    lottery: Lottery | None
    reward_periods: list[RewardPeriod]
    max_per_member_per_day: int | None
    max_per_member_total: int | None
    random_return: RandomReturn | None = strawberry.field(description="Null: as the next level (store, then plugin).")

    @classmethod
    def of(cls, values: dict[str, Any] | None) -> EntityQueueRebate:
        """From the stored (already validated) settings values."""
        s = EntitySettings.parse(values or {})
        return cls(
            enabled=s.enabled,
            extraction_ratio=Ratio(str(s.extraction_ratio)) if s.extraction_ratio is not None else None,
            reward_ratio=Ratio(str(s.reward_ratio)) if s.reward_ratio is not None else None,
            member_level_ratios=level_ratios_of(s.member_level_ratios),
            cumulative_tiers=tiers_of(s.cumulative_tiers),
            lottery=lottery_of(s.lottery),
            reward_periods=periods_of(s.reward_periods),
            max_per_member_per_day=s.max_per_member_per_day,
            max_per_member_total=s.max_per_member_total,
            random_return=random_return_of(s.random_return),
        )


@strawberry.type(description="排队返利插件基础设置: the parsed platform settings of the queue rebate (defaults where never set). Change them with "
                 'setSettings(model: "queue_rebate", values: …).')
class QueueRebateSettings:
    version: int = strawberry.field(description="Grows with every accepted change; 0 when never set.")
    enabled: bool = strawberry.field(description="QR-19 开启排队返利.")
    extraction_ratio: Ratio
    reward_ratio: Ratio
    surplus: Surplus  # type: ignore[valid-type]
    settle_on: SettleOn  # type: ignore[valid-type]
    reward_rule: RewardRule  # type: ignore[valid-type]
    mall_queue: bool
    all_stores_queue: bool
    all_cashiers_queue: bool
    deduction: Deduction  # type: ignore[valid-type]
    clawback_on_refund: bool
    new_products_default_on: bool
    paused: bool = strawberry.field(description="QR-17 队列奖励暂停.")
    member_level_ratios: list[LevelRatio]
    lottery: Lottery | None
    exchange_enabled: bool
    exchange_to: list[ExchangeTarget]  # type: ignore[valid-type]
    exchange_ratio: Ratio = strawberry.field(description='QR-14: "150": 1.00 of remainder → 1.50 points / love value.')
    love_value_frozen: bool
    model_display_name: str = strawberry.field(description="QR-18: the model's custom display name.")
    exchange_button_name: str = strawberry.field(description="QR-18: the exchange button's custom name.")
    random_return: RandomReturn
    reset: QueueRebateReset
    show_queue_progress: bool = strawberry.field(description="QR-18 队列进程: members see queue ids and positions.")
    show_cumulative: bool = strawberry.field(description="QR-18 累计奖励: members see what entitlements received.")
    show_pending_count: bool = strawberry.field(description="QR-18 待奖励: members see how many entitlements wait.")
    show_member_info: bool = strawberry.field(description="QR-18 会员信息: members see other members' id, nickname and avatar.")
    show_pending_amount: bool = strawberry.field(description="QR-18 待奖励金额: members see remaining / pending amounts.")
    compliance_override: bool = strawberry.field(description="DR-7: settings beyond the compliance limits are kept (OVERRIDDEN).")

    @classmethod
    def of(cls, s: PluginSettings, version: int) -> QueueRebateSettings:
        return cls(
            version=version,
            enabled=s.enabled,
            extraction_ratio=Ratio(str(s.extraction_ratio)),
            reward_ratio=Ratio(str(s.reward_ratio)),
            surplus=Surplus(s.surplus.value),
            settle_on=SettleOn(s.settle_on.value),
            reward_rule=RewardRule(s.reward_rule.value),
            mall_queue=s.mall_queue,
            all_stores_queue=s.all_stores_queue,
            all_cashiers_queue=s.all_cashiers_queue,
            deduction=Deduction(s.deduction.value),
            clawback_on_refund=s.clawback_on_refund,
            new_products_default_on=s.new_products_default_on,
            paused=s.paused,
            member_level_ratios=level_ratios_of(s.member_level_ratios),
            lottery=lottery_of(s.lottery),
            exchange_enabled=s.exchange_enabled,
            exchange_to=[ExchangeTarget(t.value) for t in s.exchange_to],
            exchange_ratio=Ratio(str(s.exchange_ratio)),
            love_value_frozen=s.love_value_frozen,
            model_display_name=s.model_display_name,
            exchange_button_name=s.exchange_button_name,
            random_return=RandomReturn(enabled=s.random_return.enabled, cash_count=s.random_return.cash_count, points_count=s.random_return.points_count),
            reset=reset_of(s.reset),
            show_queue_progress=s.show_queue_progress,
            show_cumulative=s.show_cumulative,
            show_pending_count=s.show_pending_count,
            show_member_info=s.show_member_info,
            show_pending_amount=s.show_pending_amount,
            compliance_override=s.compliance_override,
        )


# --- inputs -------------------------------------------------------------------------------


class SettingsInput:
    """An input whose fields are those of a settings class (tests/api/test_settings_schema.py
    checks the names): `values()` is the snake_case dict the domain parses, nulls left out."""

    def values(self) -> dict[str, Any]:
        fields = self.__strawberry_definition__.fields  # type: ignore[attr-defined]
        raw = {f.graphql_name or f.python_name: _plain(getattr(self, f.python_name)) for f in fields}
        return {k: v for k, v in raw.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, SettingsInput):
        return value.values()
    return value.value if isinstance(value, Enum) else value


@strawberry.input(description="QR-10: the reward ratio of members of a level (each level once).")
class LevelRatioInput:
    level: str
    ratio: Ratio


@strawberry.input(description="QR-11: a tier; list tiers sorted by (windowDays, threshold), without repeats.")
class CumulativeTierInput(SettingsInput):
    window_days: int
    threshold: Money
    ratio: Ratio


@strawberry.input(description="QR-12: FIXED needs `ratios` (each > 0); RANGE needs 0 < min ≤ max, both on a 0.01 step.")
class LotteryInput(SettingsInput):
    mode: LotteryMode  # type: ignore[valid-type]
    ratios: list[Ratio] | None = None
    min_ratio: Ratio | None = strawberry.field(name="min", default=None)
    max_ratio: Ratio | None = strawberry.field(name="max", default=None)


@strawberry.input(description='QR-13: local "HH:MM" start (inclusive) and end (exclusive, "24:00" allowed), on ISO weekdays (1 = Monday; none: every day).')
class RewardPeriodInput(SettingsInput):
    start: str
    end: str
    weekdays: list[int] | None = None


@strawberry.input(description="QR-15: counts default to 1.")
class RandomReturnInput(SettingsInput):
    enabled: bool
    cash_count: int | None = None
    points_count: int | None = None


_LEVEL_PATH = re.compile(r"^queue_rebate\.member_level_ratios\.(.+)$")


@strawberry.input(description="QR-20 settings of a product (a STORE product: the store-product level), store or cashier. They replace the stored ones "
                  "whole; leave a field null (a list empty) to inherit it from the next level.")
class EntityQueueRebateInput(SettingsInput):
    enabled: bool | None = None
    extraction_ratio: Ratio | None = None
    reward_ratio: Ratio | None = None
    member_level_ratios: list[LevelRatioInput] | None = None
    cumulative_tiers: list[CumulativeTierInput] | None = None
    lottery: LotteryInput | None = None
    reward_periods: list[RewardPeriodInput] | None = None
    max_per_member_per_day: int | None = strawberry.field(default=None, description="QR-13: entitlements per member per local day; null: no limit.")
    max_per_member_total: int | None = strawberry.field(default=None, description="QR-13: entitlements per member in all; null: no limit.")
    random_return: RandomReturnInput | None = strawberry.field(default=None, description="QR-15; null: as the next level.")

    def values(self) -> dict[str, Any]:
        """The snake_case dict the services validate (`EntitySettings.parse`); levels by name."""
        levels = self._levels()
        return {**super().values(), **({"member_level_ratios": levels} if levels is not None else {})}

    def _levels(self) -> dict[str, str] | None:
        if self.member_level_ratios is None:
            return None
        out: dict[str, str] = {}
        for i, item in enumerate(self.member_level_ratios):
            if item.level in out:
                path = f"queue_rebate.member_level_ratios[{i}].level"
                raise DomainError(ErrorCode.INVALID_SETTINGS, f"{path} repeats level {item.level!r}", path)
            out[item.level] = item.ratio
        return out

    def field_path(self, field: str | None) -> str | None:
        """A domain error's field as the GraphQL input path: a level's ratio is reported by its
        index in `memberLevelRatios` (the domain names it by level)."""
        if field is None:
            return None
        match = _LEVEL_PATH.match(field)
        if match and self.member_level_ratios is not None:
            index = next((i for i, item in enumerate(self.member_level_ratios) if item.level == match.group(1)), None)
            if index is not None:
                return f"queueRebate.memberLevelRatios[{index}].ratio"
        return camel_path(field)


def settings_values(value: EntityQueueRebateInput | None) -> dict[str, Any] | None:
    return value.values() if value is not None else None
