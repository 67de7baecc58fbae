"""Members, stores, cashiers, products and model settings (M-1..M-4, QR-19, QR-20).

Upserts are idempotent by nature (the same input twice leaves the same row); each validates
first and writes nothing when it refuses (C-8).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.distribution import check_region
from domain.errors import DomainError, ErrorCode
from domain.member_levels import MemberLevelSettings
from domain.queue_rebate_settings import EntitySettings, PluginSettings, Source, saved_switch
from services import compliance, team_tree
from services.actions import arm_reset
from services.model_settings import SETTINGS_MODELS, load_settings
from store import catalog as rows
from store import db
from store.models import Cashier, Member, ModelSettings, Product, Store

__all__ = [
    "SETTINGS_MODELS", "bulk_enable_products", "load_settings", "set_settings", "upsert_cashier", "upsert_member", "upsert_product", "upsert_store",
]


def _ident(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be a non-empty string of at most 64 characters", field)
    return value


async def upsert_member(
    id: str, referrer: str | None = None, level: str | None = None, phone: str | None = None,
    nickname: str | None = None, avatar: str | None = None,
) -> Member:
    """M-1: referrer links form a forest; a link that would close a cycle is refused. M-2: the
    level is none or one of the configured member levels (UNKNOWN_MEMBER_LEVEL otherwise)."""
    _ident(id, "id")
    async with db.writing() as conn:
        levels: MemberLevelSettings = await load_settings("member_levels", conn)
        levels.check(level)
        if referrer is not None:
            _ident(referrer, "referrer")
            await _check_referrer(id, referrer, conn)
        if phone is not None and await rows.phone_taken(conn, phone, id):
            raise DomainError(ErrorCode.DUPLICATE_PHONE, f"phone {phone} already belongs to another member", "phone")
        fields = {"referrer_id": referrer, "level": level, "phone": phone, "nickname": nickname, "avatar": avatar}
        await team_tree.place(conn, id, referrer)  # ADR 0006: depth and jump pointer; REFERRER_LOCKED once it has a team
        return await rows.save_member(conn, id, fields)


async def _check_referrer(member: str, referrer: str, conn: Any) -> None:
    if referrer == member:
        raise DomainError(ErrorCode.REFERRER_CYCLE, f"member {member} cannot refer itself", "referrer")
    current: str | None = referrer
    seen = {member}
    while current is not None:
        exists, next_referrer = await rows.referrer_of(conn, current)
        if not exists:
            if current == referrer:
                raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrer {referrer} is not a member", "referrer")
            return
        if next_referrer in seen:
            raise DomainError(ErrorCode.REFERRER_CYCLE, f"referrer {referrer} would make a cycle through {member}", "referrer")
        seen.add(current)
        current = next_referrer


async def _levels_checked(settings: EntitySettings | PluginSettings, conn: Any = None, prefix: str = "queue_rebate.") -> Any:
    """QR-10 / M-2: member-level ratios name configured member levels (once those are enabled)."""
    levels: MemberLevelSettings = await load_settings("member_levels", conn)
    levels.check_ratios(settings.member_level_ratios, prefix)
    return settings


async def _entity_parsed(label: str, values: Mapping[str, Any] | None, conn: Any = None) -> EntitySettings:
    """A product's, store's or cashier's queue-rebate settings: member levels configured (M-2), within the compliance guard (DR-7)."""
    settings: EntitySettings = await _levels_checked(EntitySettings.parse(values), conn)
    await compliance.check_entity(conn or db.default(), label, settings)
    return settings


async def _entity_settings(label: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
    return (await _entity_parsed(label, values)).as_values()


async def upsert_store(
    id: str, recruiter: str | None = None, name: str | None = None, queue_rebate: Mapping[str, Any] | None = None, region: str | None = None
) -> Store:
    _ident(id, "id")
    settings = await _entity_settings(f"store:{id}", queue_rebate)
    if region is not None:
        check_region(region)
    if recruiter is not None and not await rows.member_exists(recruiter):
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"recruiter {recruiter} is not a member", "recruiter")
    return await rows.save_store(id, recruiter, name, settings, region)


async def upsert_cashier(id: str, store: str, queue_rebate: Mapping[str, Any] | None = None) -> Cashier:
    _ident(id, "id")
    settings = await _entity_settings(f"cashier:{id}", queue_rebate)
    if not await rows.store_exists(store):
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store} does not exist", "store")
    return await rows.save_cashier(id, store, settings)


async def upsert_product(
    id: str, source: str, store: str | None = None, listed: bool = True, queue_rebate: Mapping[str, Any] | None = None
) -> Product:
    _ident(id, "id")
    try:
        kind = Source(source)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"source must be one of {', '.join(s.value for s in Source)}", "source") from None
    if (kind is Source.STORE) != (store is not None):
        raise DomainError(ErrorCode.INVALID_INPUT, "a STORE product needs its store, other sources have none", "store")
    if store is not None and not await rows.store_exists(store):
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store} does not exist", "store")
    async with db.writing() as conn:
        parsed = await _entity_parsed(f"product:{id}", queue_rebate, conn)
        plugin: PluginSettings = await load_settings("queue_rebate", conn)
        enabled = saved_switch(kind, parsed.enabled, await rows.product_switch(conn, id), plugin)
        settings = {**parsed.as_values(), **({"enabled": enabled} if enabled is not None else {})}
        return await rows.save_product(id, kind.value, store, listed, settings, conn)


async def bulk_enable_products(enabled: bool = True) -> int:
    """QR-19 一键启用: switch the queue rebate on (or off) for every existing SELF_OPERATED /
    SUPPLIER / SUPPLY_CHAIN product (their other settings are kept); store products are left alone."""
    if not isinstance(enabled, bool):
        raise DomainError(ErrorCode.INVALID_INPUT, "enabled must be true or false", "enabled")
    async with db.writing() as conn:
        return await rows.set_products_enabled(conn, [s.value for s in Source if s is not Source.STORE], enabled)


async def set_settings(model: str, values: Mapping[str, Any], now: datetime | None = None) -> ModelSettings:
    """A partial update of a model's settings: validated over the stored ones, or refused whole.

    `now` (default: the wall clock) matters to the queue rebate's reset (QR-16): switching it on
    or changing its schedule arms it at `now`, so only runs scheduled after that are due.
    """
    parse = SETTINGS_MODELS.get(model)
    if parse is None:
        raise DomainError(ErrorCode.UNKNOWN_MODEL, f"unknown model {model!r}; one of {', '.join(SETTINGS_MODELS)}", "model")
    if not isinstance(values, Mapping):
        raise DomainError(ErrorCode.INVALID_SETTINGS, "values must be an object", "values")
    async with db.writing() as conn:
        row = await rows.settings_row(model, conn)
        before = row.values if row else {}
        merged = {**before, **values}
        parsed = parse(merged)
        if model == "queue_rebate" and "member_level_ratios" in values:
            await _levels_checked(parsed, conn, prefix="")
        await compliance.check(conn, model, parsed)
        if model == "queue_rebate" and parsed.reset.enabled and parsed.reset != PluginSettings.parse(before).reset:
            await arm_reset(conn, now or datetime.now(UTC))
        return await rows.save_settings(conn, row, model, merged)
