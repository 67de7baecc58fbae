"""Members, stores, cashiers, products and model settings (M-1..M-4, QR-19, QR-20).

Upserts are idempotent by nature (the same input twice leaves the same row); each validates
first and writes nothing when it refuses (C-8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode
from domain.model_settings import MODEL_SETTINGS
from domain.queue_rebate_settings import EntitySettings, PluginSettings, Source
from store.models import Cashier, Member, ModelSettings, Product, Store
from store.sql import claim_writer

# model name → settings parser (domain/model_settings.py); a model is off until its settings enable it (C-11).
SETTINGS_MODELS: dict[str, Callable[[Mapping[str, Any]], Any]] = {name: kind.parse for name, kind in MODEL_SETTINGS.items()}


def _ident(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be a non-empty string of at most 64 characters", field)
    return value


async def upsert_member(
    id: str, referrer: str | None = None, level: str | None = None, phone: str | None = None,
    nickname: str | None = None, avatar: str | None = None,
) -> Member:
    """M-1: referrer links form a forest; a link that would close a cycle is refused."""
    _ident(id, "id")
    async with in_transaction() as conn:
        await claim_writer(conn)
        if referrer is not None:
            _ident(referrer, "referrer")
            await _check_referrer(id, referrer, conn)
        if phone is not None and await Member.filter(phone=phone).exclude(id=id).using_db(conn).exists():
            raise DomainError(ErrorCode.DUPLICATE_PHONE, f"phone {phone} already belongs to another member", "phone")
        member = await Member.get_or_none(id=id).using_db(conn)
        fields = {"referrer_id": referrer, "level": level, "phone": phone, "nickname": nickname, "avatar": avatar}
        if member is None:
            member = await Member.create(id=id, using_db=conn, **fields)
        else:
            for name, value in fields.items():
                if value is not None or name in ("referrer_id", "level"):
                    setattr(member, name, value)
            await member.save(using_db=conn)
        return member


async def _check_referrer(member: str, referrer: str, conn: Any) -> None:
    if referrer == member:
        raise DomainError(ErrorCode.REFERRER_CYCLE, f"member {member} cannot refer itself", "referrer")
    current: str | None = referrer
    seen = {member}
    while current is not None:
        row = await Member.get_or_none(id=current).using_db(conn).only("id", "referrer_id")
        if row is None:
            if current == referrer:
                raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrer {referrer} is not a member", "referrer")
            return
        if row.referrer_id in seen:
            raise DomainError(ErrorCode.REFERRER_CYCLE, f"referrer {referrer} would make a cycle through {member}", "referrer")
        seen.add(current)
        current = row.referrer_id


async def upsert_store(id: str, recruiter: str | None = None, name: str | None = None, queue_rebate: Mapping[str, Any] | None = None) -> Store:
    _ident(id, "id")
    settings = EntitySettings.parse(queue_rebate).as_values()
    if recruiter is not None and not await Member.exists(id=recruiter):
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"recruiter {recruiter} is not a member", "recruiter")
    store, _ = await Store.update_or_create(id=id, defaults={"recruiter_id": recruiter, "name": name, "queue_rebate": settings})
    return store


async def upsert_cashier(id: str, store: str, queue_rebate: Mapping[str, Any] | None = None) -> Cashier:
    _ident(id, "id")
    settings = EntitySettings.parse(queue_rebate).as_values()
    if not await Store.exists(id=store):
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store} does not exist", "store")
    cashier, _ = await Cashier.update_or_create(id=id, defaults={"store_id": store, "queue_rebate": settings})
    return cashier


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
    if store is not None and not await Store.exists(id=store):
        raise DomainError(ErrorCode.UNKNOWN_STORE, f"store {store} does not exist", "store")
    settings = EntitySettings.parse(queue_rebate).as_values()
    product, _ = await Product.update_or_create(id=id, defaults={"source": kind.value, "store_id": store, "listed": listed, "queue_rebate": settings})
    return product


async def bulk_enable_products(enabled: bool = True) -> int:
    """QR-19 一键启用: switch the queue rebate on (or off) for every existing SELF_OPERATED /
    SUPPLIER / SUPPLY_CHAIN product (their other settings are kept); store products are left alone."""
    if not isinstance(enabled, bool):
        raise DomainError(ErrorCode.INVALID_INPUT, "enabled must be true or false", "enabled")
    changed = 0
    async with in_transaction() as conn:
        await claim_writer(conn)
        for product in await Product.filter(source__in=[s.value for s in Source if s is not Source.STORE]).using_db(conn):
            product.queue_rebate = {**product.queue_rebate, "enabled": enabled}
            await product.save(using_db=conn, update_fields=["queue_rebate"])
            changed += 1
    return changed


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
    async with in_transaction() as conn:
        await claim_writer(conn)
        row = await ModelSettings.get_or_none(model=model).using_db(conn)
        before = row.values if row else {}
        merged = {**before, **values}
        parsed = parse(merged)
        if model == "queue_rebate" and parsed.reset.enabled and parsed.reset != PluginSettings.parse(before).reset:
            from services.actions import arm_reset

            await arm_reset(conn, now or datetime.now(UTC))
        if row is None:
            return await ModelSettings.create(model=model, values=merged, version=1, using_db=conn)
        row.values, row.version = merged, row.version + 1
        await row.save(using_db=conn)
        return row


async def load_settings(model: str, conn: Any = None) -> Any:
    """The parsed settings of a model (defaults: off) as of this transaction."""
    query = ModelSettings.get_or_none(model=model)
    row = await (query.using_db(conn) if conn is not None else query)
    return SETTINGS_MODELS[model](row.values if row else {})
