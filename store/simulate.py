"""Reads `rebate simulate` makes: of the platform's database (read-only: its settings and mall
products) and of the simulation's own temporary database (statuses, members' cash)."""

from __future__ import annotations

import json
from typing import Any

from domain.money import from_fen
from store.db import default
from store.sql import fetch


async def platform_snapshot() -> list[dict[str, Any]]:
    """The stored settings of every model and the mall's products, as I-6 events (SELECTs only)."""
    events: list[dict[str, Any]] = []
    for r in await fetch(default(), 'SELECT model, "values" AS v FROM model_settings ORDER BY model'):
        values = json.loads(r["v"]) if isinstance(r["v"], str | bytes) else dict(r["v"])
        events.append({"type": "settings", "model": r["model"], "values": values})
    rows = await fetch(default(), "SELECT id, source, listed, queue_rebate FROM product WHERE source IN ('SELF_OPERATED', 'SUPPLIER', 'SUPPLY_CHAIN') ORDER BY id")
    for r in rows:
        qr = json.loads(r["queue_rebate"]) if isinstance(r["queue_rebate"], str | bytes) else dict(r["queue_rebate"] or {})
        events.append({"type": "product", "id": r["id"], "source": r["source"], "store": None, "listed": bool(r["listed"]), "queue_rebate": qr})
    return events


async def status_counts() -> dict[str, int]:
    """Entitlements per status (the simulation's own database: a scan is fine there)."""
    return {r["status"]: int(r["n"]) for r in await fetch(default(), "SELECT status, COUNT(*) AS n FROM entitlement GROUP BY status")}


async def members_cash() -> Any:
    """What the models credited to members' cash wallets, in all."""
    rows = await fetch(default(), "SELECT COALESCE(SUM(amount_fen), 0) AS total FROM balance WHERE asset = 'CNY' AND account LIKE 'member:%:CASH'")
    return from_fen(int(rows[0]["total"]))


async def listed_mall_products() -> list[str]:
    rows = await fetch(default(), "SELECT id FROM product WHERE listed AND source IN ('SELF_OPERATED', 'SUPPLIER', 'SUPPLY_CHAIN') ORDER BY id")
    return [r["id"] for r in rows]
