"""排队返利 settings: the plugin (platform) level and the per-product / store / cashier level
(QR-19, QR-20), queue scoping (QR-5) and how a line's ratios are resolved (QR-9, QR-10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from domain.money import ZERO, apply_ratio
from domain.queue_rebate import Line, RewardRule, Rules, SettleOn, Surplus
from domain.settings import Reader

MAX_EXTRACTION = Decimal(100)


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


@dataclass(frozen=True, slots=True)
class PluginSettings:
    """排队返利插件基础设置: the platform-wide settings (model `queue_rebate`)."""

    enabled: bool = False
    extraction_ratio: Decimal = ZERO
    reward_ratio: Decimal = Decimal(100)
    surplus: Surplus = Surplus.PLATFORM
    settle_on: SettleOn = SettleOn.ON_PAY
    reward_rule: RewardRule = RewardRule.QUEUE_ORDER
    mall_queue: bool = True
    all_stores_queue: bool = False
    all_cashiers_queue: bool = False
    deduction: Deduction = Deduction.PARTICIPATE
    clawback_on_refund: bool = False
    new_products_default_on: bool = True

    @property
    def rules(self) -> Rules:
        return Rules(self.surplus, self.settle_on, self.reward_rule, self.clawback_on_refund)

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: "PluginSettings | None" = None) -> "PluginSettings":
        """Validate `values` over `base` (a partial update keeps the fields it leaves out)."""
        b = base or cls()
        r = Reader(values)
        settings = cls(
            enabled=bool(r.flag("enabled", b.enabled)),
            extraction_ratio=r.ratio("extraction_ratio", b.extraction_ratio, MAX_EXTRACTION) or ZERO,
            reward_ratio=r.ratio("reward_ratio", b.reward_ratio) or ZERO,
            surplus=r.choice("surplus", Surplus, b.surplus),
            settle_on=r.choice("settle_on", SettleOn, b.settle_on),
            reward_rule=r.choice("reward_rule", RewardRule, b.reward_rule),
            mall_queue=bool(r.flag("mall_queue", b.mall_queue)),
            all_stores_queue=bool(r.flag("all_stores_queue", b.all_stores_queue)),
            all_cashiers_queue=bool(r.flag("all_cashiers_queue", b.all_cashiers_queue)),
            deduction=r.choice("deduction", Deduction, b.deduction),
            clawback_on_refund=bool(r.flag("clawback_on_refund", b.clawback_on_refund)),
            new_products_default_on=bool(r.flag("new_products_default_on", b.new_products_default_on)),
        )
        r.finish()
        return settings


@dataclass(frozen=True, slots=True)
class EntitySettings:
    """Per-product, per-store or per-cashier settings (QR-20); None means "use the next level"."""

    enabled: bool | None = None
    extraction_ratio: Decimal | None = None
    reward_ratio: Decimal | None = None

    @classmethod
    def parse(cls, values: Mapping[str, Any] | None, prefix: str = "queue_rebate.") -> "EntitySettings":
        if values is None:
            return cls()
        r = Reader(values, prefix)
        settings = cls(
            enabled=r.flag("enabled", None),
            extraction_ratio=r.ratio("extraction_ratio", None, MAX_EXTRACTION),
            reward_ratio=r.ratio("reward_ratio", None),
        )
        r.finish()
        return settings

    def as_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.extraction_ratio is not None:
            out["extraction_ratio"] = str(self.extraction_ratio)
        if self.reward_ratio is not None:
            out["reward_ratio"] = str(self.reward_ratio)
        return out


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: str
    source: Source
    store: str | None
    listed: bool
    settings: EntitySettings


@dataclass(frozen=True, slots=True)
class LineContext:
    """What the rules need to know of one order line to scope and rate it."""

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
    if product.source is Source.STORE or ctx.channel is Channel.STORE_ONLINE:
        store = product.store or ctx.store
        if store is None or ctx.store_settings.enabled is False:
            return None
        return "qr:ALL_STORES" if plugin.all_stores_queue else f"qr:STORE:{store}"
    return "qr:MALL" if plugin.mall_queue else f"qr:PRODUCT:{product.id}"


def _product_enabled(product: ProductInfo, plugin: PluginSettings) -> bool:
    if product.settings.enabled is None:
        return plugin.new_products_default_on
    return product.settings.enabled


def _chain(ctx: LineContext) -> list[tuple[str, EntitySettings]]:
    """The entity levels whose own ratios outrank the plugin default, highest first (QR-10)."""
    if ctx.channel is Channel.CASHIER:
        return [("cashier", ctx.cashier_settings)]
    product = ctx.product
    assert product is not None
    if product.source is Source.STORE or ctx.channel is Channel.STORE_ONLINE:
        return [("store_product", product.settings), ("store", ctx.store_settings)]
    return [("product", product.settings)]


def resolve_line(ctx: LineContext, plugin: PluginSettings) -> Line:
    """The line's extraction amount and reward ratio with its source (QR-9, QR-10, QR-20)."""
    chain = _chain(ctx)
    extraction_ratio = next((s.extraction_ratio for _, s in chain if s.extraction_ratio is not None), plugin.extraction_ratio)
    source, ratio = next(((f"{name}.reward_ratio", s.reward_ratio) for name, s in chain if s.reward_ratio is not None), ("plugin.reward_ratio", plugin.reward_ratio))
    earns = not (plugin.deduction is Deduction.EXCLUDE and ctx.deduction > 0)
    return Line(
        key=ctx.key, member=ctx.member, order=ctx.order, index=ctx.index, paid=ctx.paid,
        extraction=apply_ratio(ctx.paid, extraction_ratio), earns_entitlement=earns,
        reward_ratio=ratio, ratio_source=source,
    )
