"""合规 the compliance guard (DR-7): the report over every model's stored settings, and the check a
settings change passes (with `enforce` on, COMPLIANCE_LIMIT unless the model overrides it)."""

from __future__ import annotations

from typing import Any

from domain import compliance as guard
from domain.queue_rebate_settings import EntitySettings
from services.model_settings import SETTINGS_MODELS, load_settings
from store import db
from store.db import Connection
from store.distribution import entity_settings


async def limits(conn: Connection | None = None) -> guard.ComplianceSettings:
    settings: guard.ComplianceSettings = await load_settings(guard.MODEL, conn)
    return settings


async def report(conn: Connection | None = None) -> list[guard.Finding]:
    """Every setting of an enabled model (and product / store / cashier queue-rebate setting while
    the queue rebate is on) beyond the limits; a model that is off pays nothing (C-11)."""
    conn = conn or db.default()
    models = {name: s for name in SETTINGS_MODELS if getattr(s := await load_settings(name, conn), "enabled", False)}
    entities = [(label, EntitySettings.parse(values)) for label, values in await entity_settings(conn)]
    return guard.findings(models, await limits(conn), entities)


async def check(conn: Connection, model: str, settings: Any) -> None:
    """Refuse a model's new settings beyond the limits when `enforce` is on (not the guard's own;
    a model switched off pays nothing, so switching it off is never refused)."""
    if model == guard.MODEL or not getattr(settings, "enabled", False):
        return
    bounds = await limits(conn)
    guard.refuse_beyond(guard.model_findings(model, settings, bounds), bounds)


async def check_entity(conn: Connection, label: str, settings: EntitySettings) -> None:
    """The same for a product's, store's or cashier's queue-rebate settings (the plugin's override counts)."""
    bounds = await limits(conn)
    guard.refuse_beyond(guard.entity_findings(await load_settings("queue_rebate", conn), [(label, settings)], bounds), bounds)
