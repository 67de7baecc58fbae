"""排队返利 settings: the plugin (platform) level and the per-product / store / cashier level
(QR-9..QR-20), queue scoping (QR-5) and how a line's ratios are resolved (QR-9, QR-10, QR-13).

Settings are frozen pydantic dataclasses (domain/settings.py) parsed from JSON-able mappings (C-8:
typed errors with a field path, unknown fields refused) and written back by `as_values()` so the
shell can store them; their fields are what `settings.schema.json` describes.
Nested objects (lottery, random_return, reset) and lists are replaced whole by an update, except
`random_return` and `reset` of the plugin, whose fields left out keep the `base` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import model_validator
from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.money import ZERO, apply_ratio
from domain.queue_rebate import Line, RewardRule, Rules, SettleOn, Surplus
from domain.queue_rebate_features import (
    DAILY_LIMIT,
    DEDUCTION_EXCLUDED,
    OUTSIDE_PERIOD,
    TOTAL_LIMIT,
    ExchangeTarget,
    ExchangeTargets,
    LevelRatios,
    LotterySettings,
    MemberCounts,
    Period,
    RandomReturnSettings,
    ResetSettings,
    Tiers,
    cumulative_ratio,
    in_periods,
    level_ratio,
    level_ratios_values,
    limit_reason,
)
from domain.settings import SETTINGS_CONFIG, DisplayName, Flag, Limit, Percent, PositiveRatio, Ratio, parse_settings, refusal

DEFAULT_MODEL_NAME = "排队返利"
DEFAULT_EXCHANGE_BUTTON = "兑换"
RANDOM_RETURN_OFF = RandomReturnSettings()
RESET_OFF = ResetSettings()

__all__ = [
    "DAILY_LIMIT",
    "DEDUCTION_EXCLUDED",
    "OUTSIDE_PERIOD",
    "TOTAL_LIMIT",
    "Channel",
    "Deduction",
    "EntitySettings",
    "LineContext",
    "MemberCounts",
    "PluginSettings",
    "ProductInfo",
    "RatioChoice",
    "Source",
    "cumulative_scope",
    "cumulative_windows",
    "entitlement_block",
    "limit_scopes",
    "lottery_at",
    "lottery_for",
    "queue_closed",
    "queue_for",
    "random_return_for",
    "resolve_line",
    "reward_ratio_for",
    "saved_switch",
]


class Deduction(str, Enum):
    """抵扣订单开关 (QR-9)."""

    PARTICIPATE = "PARTICIPATE"
    EXCLUDE = "EXCLUDE"


class Source(str, Enum):
    SELF_OPERATED = "SELF_OPERATED"
    SUPPLIER = "SUPPLIER"
    SUPPLY_CHAIN = "SUPPLY_CHAIN"
    STORE = "STORE"


class Channel(str, Enum):
    MALL = "MALL"
    STORE_ONLINE = "STORE_ONLINE"
    CASHIER = "CASHIER"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class PluginSettings:
    """排队返利插件基础设置: the platform-wide settings (model `queue_rebate`)."""

    enabled: Flag = False  # QR-19 开启排队返利 (master switch)
    extraction_ratio: Percent = ZERO
    reward_ratio: Ratio = Decimal(100)
    surplus: Surplus = Surplus.PLATFORM
    settle_on: SettleOn = SettleOn.ON_PAY
    reward_rule: RewardRule = RewardRule.QUEUE_ORDER
    mall_queue: Flag = True
    all_stores_queue: Flag = False
    all_cashiers_queue: Flag = False
    deduction: Deduction = Deduction.PARTICIPATE  # QR-9
    clawback_on_refund: Flag = False
    new_products_default_on: Flag = True  # QR-19 商品排队返利
    paused: Flag = False  # QR-17 队列奖励暂停
    member_level_ratios: LevelRatios = ()  # QR-10 plugin member-level ratios
    lottery: LotterySettings | None = None  # QR-12 plugin lottery
    exchange_enabled: Flag = False  # QR-14
    exchange_to: ExchangeTargets = (ExchangeTarget.POINTS,)
    exchange_ratio: PositiveRatio = Decimal(100)  # 150: 1.00 of remainder → 1.50 points / love value
    love_value_frozen: Flag = False  # love value from exchange lands frozen (else available)
    model_display_name: DisplayName = DEFAULT_MODEL_NAME  # QR-18 custom names
    exchange_button_name: DisplayName = DEFAULT_EXCHANGE_BUTTON
    random_return: RandomReturnSettings = RANDOM_RETURN_OFF  # QR-15 plugin level
    reset: ResetSettings = RESET_OFF  # QR-16
    show_queue_progress: Flag = True  # QR-18 display settings
    show_cumulative: Flag = True
    show_pending_count: Flag = True
    show_member_info: Flag = True
    show_pending_amount: Flag = True
    compliance_override: Flag = False  # DR-7: settings beyond the compliance limits are kept (OVERRIDDEN)

    @model_validator(mode="after")
    def _exchange_has_targets(self) -> PluginSettings:
        if self.exchange_enabled and not self.exchange_to:
            raise refusal("must list POINTS and/or LOVE_VALUE when exchange is enabled", at=("exchange_to",))
        return self

    @property
    def rules(self) -> Rules:
        return Rules(self.surplus, self.settle_on, self.reward_rule, self.clawback_on_refund, self.paused)

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: PluginSettings | None = None, prefix: str = "") -> PluginSettings:
        """Validate `values` over `base` (a partial update keeps the fields it leaves out)."""
        return parse_settings(cls, values, prefix.removesuffix("."), base=base or cls(), merge=("random_return", "reset"))

    def as_values(self) -> dict[str, Any]:
        """JSON-able form (decimals as strings) that `parse` reads back to an equal object."""
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "extraction_ratio": str(self.extraction_ratio),
            "reward_ratio": str(self.reward_ratio),
            "surplus": self.surplus.value,
            "settle_on": self.settle_on.value,
            "reward_rule": self.reward_rule.value,
            "mall_queue": self.mall_queue,
            "all_stores_queue": self.all_stores_queue,
            "all_cashiers_queue": self.all_cashiers_queue,
            "deduction": self.deduction.value,
            "clawback_on_refund": self.clawback_on_refund,
            "new_products_default_on": self.new_products_default_on,
            "paused": self.paused,
            "member_level_ratios": level_ratios_values(self.member_level_ratios),
            "exchange_enabled": self.exchange_enabled,
            "exchange_to": [t.value for t in self.exchange_to],
            "exchange_ratio": str(self.exchange_ratio),
            "love_value_frozen": self.love_value_frozen,
            "model_display_name": self.model_display_name,
            "exchange_button_name": self.exchange_button_name,
            "random_return": self.random_return.as_values(),
            "reset": self.reset.as_values(),
            "show_queue_progress": self.show_queue_progress,
            "show_cumulative": self.show_cumulative,
            "show_pending_count": self.show_pending_count,
            "show_member_info": self.show_member_info,
            "show_pending_amount": self.show_pending_amount,
            "compliance_override": self.compliance_override,
        }
        if self.lottery is not None:
            out["lottery"] = self.lottery.as_values()
        return out


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class EntitySettings:
    """Per-product, per-store or per-cashier settings (QR-20); None / empty means "use the next level"."""

    enabled: Flag | None = None
    extraction_ratio: Percent | None = None
    reward_ratio: Ratio | None = None
    member_level_ratios: LevelRatios = ()  # QR-10
    cumulative_tiers: Tiers = ()  # QR-11
    lottery: LotterySettings | None = None  # QR-12
    reward_periods: tuple[Period, ...] = ()  # QR-13; empty: any time
    max_per_member_per_day: Limit | None = None  # QR-13; None: no limit
    max_per_member_total: Limit | None = None
    random_return: RandomReturnSettings | None = None  # QR-15; None: as the plugin

    @classmethod
    def parse(cls, values: Mapping[str, Any] | None, prefix: str = "queue_rebate.") -> EntitySettings:
        return cls() if values is None else parse_settings(cls, values, prefix.removesuffix("."))

    def as_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.extraction_ratio is not None:
            out["extraction_ratio"] = str(self.extraction_ratio)
        if self.reward_ratio is not None:
            out["reward_ratio"] = str(self.reward_ratio)
        if self.member_level_ratios:
            out["member_level_ratios"] = level_ratios_values(self.member_level_ratios)
        if self.cumulative_tiers:
            out["cumulative_tiers"] = [t.as_values() for t in self.cumulative_tiers]
        if self.lottery is not None:
            out["lottery"] = self.lottery.as_values()
        if self.reward_periods:
            out["reward_periods"] = [p.as_values() for p in self.reward_periods]
        if self.max_per_member_per_day is not None:
            out["max_per_member_per_day"] = self.max_per_member_per_day
        if self.max_per_member_total is not None:
            out["max_per_member_total"] = self.max_per_member_total
        if self.random_return is not None:
            out["random_return"] = self.random_return.as_values()
        return out

    @property
    def has_limits(self) -> bool:
        return self.max_per_member_per_day is not None or self.max_per_member_total is not None


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: str
    source: Source
    store: str | None
    listed: bool
    settings: EntitySettings


@dataclass(frozen=True, slots=True)
class LineContext:
    """What the rules need to know of one order line to scope and rate it.

    The fields after `cashier_settings` are supplied by the shell where the settings need them:
    - `member_level`: the member's level at order time (M-2), for member-level ratios;
    - `cumulative_totals`: window_days → the member's completed-order total in that window, in
      `cumulative_scope(ctx)`, for each window of `cumulative_windows(ctx)` (QR-11);
    - `drawn_ratio` / `drawn_from`: a lottery ratio already drawn and its source, e.g.
      "product.lottery" (QR-12; only when re-resolving an entitlement that has drawn);
    - `local_time`: the payment time in the platform's time zone, naive (C-9, QR-13 periods);
    - `member_counts`: scope key of `limit_scopes(ctx)` → the member's entitlement counts there.
    """

    key: str
    member: str
    order: str
    index: int
    channel: Channel
    paid: Decimal
    deduction: Decimal
    product: ProductInfo | None
    store: str | None
    store_settings: EntitySettings
    cashier_settings: EntitySettings
    member_level: str | None = None
    cumulative_totals: Mapping[int, Decimal] = field(default_factory=dict)
    drawn_ratio: Decimal | None = None
    drawn_from: str | None = None
    local_time: datetime | None = None
    member_counts: Mapping[str, MemberCounts] = field(default_factory=dict)


def queue_for(ctx: LineContext, plugin: PluginSettings) -> str | None:
    """QR-5: which queue the line joins and pays, or None when it takes no part."""
    if not plugin.enabled:
        return None
    if ctx.channel is Channel.CASHIER:
        if ctx.store is None or ctx.cashier_settings.enabled is False or ctx.store_settings.enabled is False:
            return None
        return "qr:ALL_CASHIERS" if plugin.all_cashiers_queue else f"qr:CASHIER:{ctx.store}"
    product = ctx.product
    if product is None or not product.listed or not _product_enabled(product, plugin):
        return None
    if _is_store_line(ctx):
        store = product.store or ctx.store
        if store is None or ctx.store_settings.enabled is False:
            return None
        return "qr:ALL_STORES" if plugin.all_stores_queue else f"qr:STORE:{store}"
    return "qr:MALL" if plugin.mall_queue else f"qr:PRODUCT:{product.id}"


DEFAULT_ON_SOURCES = frozenset({Source.SELF_OPERATED, Source.SUPPLIER})


def saved_switch(source: Source, given: bool | None, stored: tuple[bool | None] | None, plugin: PluginSettings) -> bool | None:
    """QR-19 商品排队返利 (seed 001 二2: 添加新商品保存时默认开启): the `enabled` a product is saved with.

    Its own switch when given. Otherwise an existing product (`stored` holds its switch) keeps
    the one it has; a new SELF_OPERATED / SUPPLIER product gets the platform's "new products
    default on" as its own switch, so changing that later leaves it as it is; other new products
    get none.
    """
    if given is not None:
        return given
    if stored is not None:
        return stored[0]
    return plugin.new_products_default_on if source in DEFAULT_ON_SOURCES else None


def queue_closed(queue_id: str, product: ProductInfo | None) -> bool:
    """QR-5: the PRODUCT queue of a delisted product pays nothing more (seed 001 五: 下架了则后续永远
    不会再奖励), not even the extraction of a line paid before the delisting (ON_COMPLETE)."""
    return product is not None and not product.listed and queue_id == f"qr:PRODUCT:{product.id}"


def _product_enabled(product: ProductInfo, plugin: PluginSettings) -> bool:
    if product.settings.enabled is None:
        return plugin.new_products_default_on
    return product.settings.enabled


def _is_store_line(ctx: LineContext) -> bool:
    product = ctx.product
    return product is not None and (product.source is Source.STORE or ctx.channel is Channel.STORE_ONLINE)


def _line_store(ctx: LineContext) -> str | None:
    if ctx.channel is Channel.CASHIER or ctx.product is None:
        return ctx.store
    return ctx.product.store or ctx.store


def _chain(ctx: LineContext) -> list[tuple[str, EntitySettings]]:
    """The entity levels whose own settings outrank the plugin's, highest first (QR-10)."""
    if ctx.channel is Channel.CASHIER:
        return [("cashier", ctx.cashier_settings)]
    product = ctx.product
    assert product is not None
    if _is_store_line(ctx):
        return [("store_product", product.settings), ("store", ctx.store_settings)]
    return [("product", product.settings)]


@dataclass(frozen=True, slots=True)
class RatioChoice:
    """The winning reward ratio and its source (e.g. "product.member_level"), and the lottery
    the entitlement may still draw from ("" when a higher level won or no lottery is set)."""

    ratio: Decimal
    source: str
    lottery_source: str = ""


def reward_ratio_for(ctx: LineContext, plugin: PluginSettings) -> RatioChoice:
    """QR-10: the first ratio set along the chain, for all three families:

    entity member-level ratios (highest entity first) → plugin member-level → entity cumulative
    tiers → entity lotteries → plugin lottery → entity own ratios → plugin default. Entities are
    [product] (mall / product queues), [cashier] (cashier queues) or [store_product, store]
    (store online queues). A lottery counts only once drawn (`ctx.drawn_ratio` from
    `ctx.drawn_from`); until then the chain goes on and `lottery_source` names the first lottery set.
    """
    chain = _chain(ctx)
    levels: list[tuple[str, LevelRatios]] = [(name, s.member_level_ratios) for name, s in chain]
    levels.append(("plugin", plugin.member_level_ratios))
    for name, ratios in levels:
        ratio = level_ratio(ratios, ctx.member_level)
        if ratio is not None:
            return RatioChoice(ratio, f"{name}.member_level")
    for name, s in chain:
        ratio = cumulative_ratio(s.cumulative_tiers, ctx.cumulative_totals)
        if ratio is not None:
            return RatioChoice(ratio, f"{name}.cumulative")
    lotteries: list[tuple[str, LotterySettings | None]] = [(name, s.lottery) for name, s in chain]
    lotteries.append(("plugin", plugin.lottery))
    offered = next((f"{name}.lottery" for name, lottery in lotteries if lottery is not None), "")
    if ctx.drawn_ratio is not None and ctx.drawn_from:
        for name, _ in lotteries:
            if ctx.drawn_from == f"{name}.lottery":
                return RatioChoice(ctx.drawn_ratio, ctx.drawn_from, offered or ctx.drawn_from)
    for name, s in chain:
        if s.reward_ratio is not None:
            return RatioChoice(s.reward_ratio, f"{name}.reward_ratio", offered)
    return RatioChoice(plugin.reward_ratio, "plugin.reward_ratio", offered)


def lottery_at(ctx: LineContext, plugin: PluginSettings, source: str) -> LotterySettings | None:
    """The lottery settings named by a source such as "store.lottery" for this line, if set."""
    if source == "plugin.lottery":
        return plugin.lottery
    return next((s.lottery for name, s in _chain(ctx) if f"{name}.lottery" == source), None)


def lottery_for(ctx: LineContext, plugin: PluginSettings) -> tuple[str, LotterySettings] | None:
    """QR-12: the lottery this line's entitlement may draw from, or None (none set, or a
    member-level / cumulative ratio outranks every lottery)."""
    source = reward_ratio_for(ctx, plugin).lottery_source
    lottery = lottery_at(ctx, plugin, source) if source else None
    return (source, lottery) if lottery is not None else None


def cumulative_windows(ctx: LineContext) -> frozenset[int]:
    """QR-11: the window lengths (days) whose totals the shell must put in `cumulative_totals`."""
    return frozenset(t.window_days for _, s in _chain(ctx) for t in s.cumulative_tiers)


def cumulative_scope(ctx: LineContext) -> str:
    """QR-11: which completed orders count: "mall" (the member's SELF_OPERATED + SUPPLIER lines)
    or "store:<id>" (the member's cashier + online orders of that store)."""
    if ctx.channel is Channel.CASHIER or _is_store_line(ctx):
        return f"store:{_line_store(ctx)}"
    return "mall"


def limit_scopes(ctx: LineContext) -> dict[str, str]:
    """QR-13: level → scope key for the levels that set limits. For each scope key the shell puts
    the member's entitlement counts (today in local time, and in all) in `ctx.member_counts`:
    "product:<id>" — entitlements from lines of that product; "store:<id>" — from that store's
    online lines; "cashier:<store id>" — from that store's cashier payments."""
    scopes: dict[str, str] = {}
    for name, s in _chain(ctx):
        if not s.has_limits:
            continue
        if name in ("product", "store_product"):
            assert ctx.product is not None
            scopes[name] = f"product:{ctx.product.id}"
        else:
            scopes[name] = f"{name}:{_line_store(ctx)}"
    return scopes


def entitlement_block(ctx: LineContext, plugin: PluginSettings) -> str:
    """Why the line earns no entitlement ("" when it earns one): DEDUCTION_EXCLUDED (QR-9),
    OUTSIDE_PERIOD, TOTAL_LIMIT or DAILY_LIMIT (QR-13). The line still extracts either way."""
    if plugin.deduction is Deduction.EXCLUDE and ctx.deduction > 0:
        return DEDUCTION_EXCLUDED
    chain = _chain(ctx)
    for name, s in chain:
        if s.reward_periods:
            if ctx.local_time is None:
                raise DomainError(ErrorCode.INVALID_INPUT, f"local_time is required: the {name} sets reward periods", "local_time")
            if not in_periods(s.reward_periods, ctx.local_time):
                return OUTSIDE_PERIOD
    scopes = limit_scopes(ctx)
    for name, s in chain:
        if name in scopes:
            reason = limit_reason(s.max_per_member_per_day, s.max_per_member_total, ctx.member_counts.get(scopes[name], MemberCounts()))
            if reason:
                return reason
    return ""


def random_return_for(ctx: LineContext, plugin: PluginSettings) -> RandomReturnSettings | None:
    """QR-15: the random-return settings for this line's entitlement (the first entity level that
    sets them, else the plugin's), or None when random return is off for it."""
    chosen = next((s.random_return for _, s in _chain(ctx) if s.random_return is not None), plugin.random_return)
    return chosen if chosen.enabled else None


def resolve_line(ctx: LineContext, plugin: PluginSettings) -> Line:
    """The line's extraction amount and reward ratio with its source (QR-9, QR-10, QR-13, QR-20)."""
    chain = _chain(ctx)
    extraction_ratio = next((s.extraction_ratio for _, s in chain if s.extraction_ratio is not None), plugin.extraction_ratio)
    choice = reward_ratio_for(ctx, plugin)
    reason = entitlement_block(ctx, plugin)
    return Line(
        key=ctx.key, member=ctx.member, order=ctx.order, index=ctx.index, paid=ctx.paid,
        extraction=apply_ratio(ctx.paid, extraction_ratio), earns_entitlement=not reason,
        reward_ratio=choice.ratio, ratio_source=choice.source,
        lottery_source=choice.lottery_source, no_entitlement_reason=reason,
    )
