"""合规 the compliance guard across every model (SPEC DR-7), pure.

China's rules on multi-level marketing and static returns: at most `max_referral_generations`
generations of referral or share rewards, and no static return above `max_static_return` % of
what a member spent. `findings` lists every model setting beyond those limits (always, for the
ops report); with `enforce` on, `refuse_beyond` turns a model's findings into COMPLIANCE_LIMIT
unless that model's settings carry `compliance_override: true` (then they are OVERRIDDEN).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic.dataclasses import dataclass as settings_dataclass

from domain.appreciation import AppreciationSettings
from domain.distribution import DistributionSettings
from domain.errors import DomainError, ErrorCode
from domain.order_dividend import OrderDividendSettings
from domain.points_dividend_settings import PointsDividendSettings
from domain.queue_rebate_features import LotterySettings
from domain.queue_rebate_settings import EntitySettings, PluginSettings
from domain.settings import SETTINGS_CONFIG, Count, Flag, Ratio, parse_settings
from domain.union_queue import UnionQueueSettings

MODEL = "compliance"
WARN = "WARN"
OVERRIDDEN = "OVERRIDDEN"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class ComplianceSettings:
    """The platform's compliance limits (DR-7); `enforce` off lists findings without refusing."""

    max_referral_generations: Count = 3
    max_static_return: Ratio = Decimal(100)
    enforce: Flag = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: ComplianceSettings | None = None) -> ComplianceSettings:
        return parse_settings(cls, values, base=base)


@dataclass(frozen=True, slots=True)
class Finding:
    """One setting beyond a limit: `setting` is its path (`lottery.ratios[1]`, `product:P1.reward_ratio`)."""

    model: str
    setting: str
    value: Decimal
    limit: Decimal
    status: str

    def as_values(self) -> dict[str, str]:
        """The report row as I-7 prints it (decimals without trailing zeros: "130", "0.5")."""
        return {"model": self.model, "setting": self.setting, "value": _plain(self.value), "limit": _plain(self.limit), "status": self.status}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _lottery(prefix: str, lottery: LotterySettings | None) -> Iterator[tuple[str, Decimal]]:
    if lottery is None:
        return
    for i, r in enumerate(lottery.ratios):
        yield f"{prefix}lottery.ratios[{i}]", r
    if lottery.max_ratio:
        yield f"{prefix}lottery.max", lottery.max_ratio


def queue_rebate_returns(settings: PluginSettings | EntitySettings, prefix: str = "") -> Iterator[tuple[str, Decimal]]:
    """Every reward ratio a queue-rebate chain, tier, lottery or level table can give (QR-9..QR-12)."""
    if settings.reward_ratio is not None:
        yield f"{prefix}reward_ratio", settings.reward_ratio
    for level, r in settings.member_level_ratios:
        yield f"{prefix}member_level_ratios.{level}", r
    if isinstance(settings, EntitySettings):
        for i, tier in enumerate(settings.cumulative_tiers):
            yield f"{prefix}cumulative_tiers[{i}].ratio", tier.ratio
    yield from _lottery(prefix, settings.lottery)


def _generations(settings: Any) -> Iterator[tuple[str, Decimal]]:
    if isinstance(settings, DistributionSettings):
        yield "referral_ratios", Decimal(len(settings.referral_ratios))
    if isinstance(settings, PointsDividendSettings):
        yield "share_ratios", Decimal(len(settings.share_ratios))


def _static_returns(settings: Any) -> Iterator[tuple[str, Decimal]]:
    if isinstance(settings, PluginSettings):
        yield from queue_rebate_returns(settings)
    elif isinstance(settings, UnionQueueSettings):
        yield "quota_ratio", settings.quota_ratio
    elif isinstance(settings, OrderDividendSettings):
        yield "free_ratio", settings.free_ratio
    elif isinstance(settings, AppreciationSettings):
        yield "exit_multiple", settings.static_return


def _status(settings: Any) -> str:
    return OVERRIDDEN if getattr(settings, "compliance_override", False) else WARN


def model_findings(model: str, settings: Any, limits: ComplianceSettings) -> list[Finding]:
    """The platform settings of one model beyond the limits."""
    status = _status(settings)
    generations = Decimal(limits.max_referral_generations)
    out = [Finding(model, name, value, generations, status) for name, value in _generations(settings) if value > generations]
    return out + [Finding(model, name, value, limits.max_static_return, status) for name, value in _static_returns(settings) if value > limits.max_static_return]


def entity_findings(plugin: PluginSettings, entities: Iterable[tuple[str, EntitySettings]], limits: ComplianceSettings) -> list[Finding]:
    """The queue rebate's per-product / store / cashier settings (labelled "product:P1" …) beyond
    the static-return limit; the plugin's `compliance_override` covers them."""
    status = _status(plugin)
    returns = [r for label, entity in entities for r in queue_rebate_returns(entity, f"{label}.")]
    return [Finding("queue_rebate", name, value, limits.max_static_return, status) for name, value in returns if value > limits.max_static_return]


def findings(models: Mapping[str, Any], limits: ComplianceSettings, entities: Iterable[tuple[str, EntitySettings]] = ()) -> list[Finding]:
    """DR-7 report: every model's settings (model name → parsed settings) beyond the limits."""
    out: list[Finding] = []
    for model, settings in models.items():
        if model != MODEL:
            out += model_findings(model, settings, limits)
        if isinstance(settings, PluginSettings):
            out += entity_findings(settings, entities, limits)
    return out


def refuse_beyond(found: Iterable[Finding], limits: ComplianceSettings) -> None:
    """With `enforce` on, a finding that its model does not override is COMPLIANCE_LIMIT (C-8)."""
    if not limits.enforce:
        return
    for f in found:
        if f.status == WARN:
            raise DomainError(ErrorCode.COMPLIANCE_LIMIT, f"{f.model}.{f.setting} = {f.value} exceeds the compliance limit {f.limit}", f.setting)
