"""Members, stores, cashiers, products and the models' settings rows (M-1..M-4, QR-19, QR-20)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from store.db import Connection, default
from store.models import Cashier, Member, ModelSettings, Product, Store
from store.sql import fetch


async def referrer_of(conn: Connection, member: str) -> tuple[bool, str | None]:
    """Whether the member exists, and whom it names as its referrer."""
    row = await Member.get_or_none(id=member).using_db(conn).only("id", "referrer_id")
    return (row is not None, row.referrer_id if row is not None else None)


async def phone_taken(conn: Connection, phone: str, other_than: str) -> bool:
    return await Member.filter(phone=phone).exclude(id=other_than).using_db(conn).exists()


async def save_member(conn: Connection, id: str, fields: Mapping[str, Any]) -> Member:
    """Create the member, or update it: a None value keeps the stored one, except for the referrer
    and the level, which are set as given."""
    member = await Member.get_or_none(id=id).using_db(conn)
    if member is None:
        return await Member.create(id=id, using_db=conn, **fields)
    for name, value in fields.items():
        if value is not None or name in ("referrer_id", "level"):
            setattr(member, name, value)
    await member.save(using_db=conn)
    return member


async def member_exists(id: str) -> bool:
    return await Member.exists(id=id)


async def store_exists(id: str) -> bool:
    return await Store.exists(id=id)


async def save_store(id: str, recruiter: str | None, name: str | None, settings: Mapping[str, Any], region: str | None = None) -> Store:
    store, _ = await Store.update_or_create(id=id, defaults={"recruiter_id": recruiter, "name": name, "queue_rebate": settings, "region": region})
    return store


async def save_cashier(id: str, store: str, settings: Mapping[str, Any]) -> Cashier:
    cashier, _ = await Cashier.update_or_create(id=id, defaults={"store_id": store, "queue_rebate": settings})
    return cashier


async def product_switch(conn: Connection, id: str) -> tuple[bool | None] | None:
    """A stored product's own `queue_rebate.enabled` (in a 1-tuple), or None when there is no such product."""
    row = await Product.get_or_none(id=id).using_db(conn).only("id", "queue_rebate")
    return None if row is None else ((row.queue_rebate or {}).get("enabled"),)


async def save_product(id: str, source: str, store: str | None, listed: bool, settings: Mapping[str, Any], conn: Connection | None = None) -> Product:
    product, _ = await Product.update_or_create(
        id=id, defaults={"source": source, "store_id": store, "listed": listed, "queue_rebate": settings}, using_db=conn
    )
    return product


async def set_products_enabled(conn: Connection, sources: Iterable[str], enabled: bool) -> int:
    """QR-19: `queue_rebate.enabled` of every product of these sources (other settings kept)."""
    changed = 0
    for product in await Product.filter(source__in=list(sources)).using_db(conn):
        product.queue_rebate = {**product.queue_rebate, "enabled": enabled}
        await product.save(using_db=conn, update_fields=["queue_rebate"])
        changed += 1
    return changed


async def settings_row(model: str, conn: Connection | None = None) -> ModelSettings | None:
    """A model's stored settings row (None: never set)."""
    query = ModelSettings.get_or_none(model=model)
    return await (query.using_db(conn) if conn is not None else query)


_VALUES = ModelSettings._meta.fields_map["values"]


async def settings_values(model: str, conn: Connection | None = None) -> dict[str, Any] | None:
    """A model's stored settings values (None: never set), decoded as `settings_row` decodes them,
    in one plain statement: every settlement batch reads them, and building the ORM query and row
    cost more than the read."""
    rows = await fetch(conn if conn is not None else default(), 'SELECT "values" FROM model_settings WHERE model = ?', [model])
    return _VALUES.to_python_value(rows[0]["values"]) if rows else None


async def save_settings(conn: Connection, row: ModelSettings | None, model: str, values: Mapping[str, Any]) -> ModelSettings:
    """Store a model's settings values as a new version."""
    if row is None:
        return await ModelSettings.create(model=model, values=dict(values), version=1, using_db=conn)
    row.values, row.version = dict(values), row.version + 1
    await row.save(using_db=conn)
    return row
