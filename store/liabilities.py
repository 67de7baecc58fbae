"""I-5 reads: liability and pool balances, the kept WAITING counts and the per-day inflow and
outflow of those accounts. One indexed read each, whatever the number of entitlements."""

from __future__ import annotations

from typing import Any

from store.db import default
from store.sql import fetch


async def tracked_balances() -> list[dict[str, Any]]:
    """Balances of every liability (ENTITLEMENT) and pool (CNY) account."""
    return await fetch(default(), "SELECT account, asset, amount_fen FROM balance WHERE (account LIKE 'liability:%' AND asset = 'ENTITLEMENT') "
                       "OR (account LIKE 'pool:%' AND asset = 'CNY') ORDER BY account")


async def waiting_counts() -> dict[str, int]:
    """Per queue, its outstanding (WAITING / ACTIVE) entitlements (kept by the triggers of migration 0004)."""
    return {r["queue_id"]: int(r["outstanding"]) for r in await fetch(default(), "SELECT queue_id, outstanding FROM liability_count")}


async def flows_since(day: str) -> list[dict[str, Any]]:
    """Per tracked account: what came in and went out on the UTC days from `day` on."""
    return await fetch(default(), "SELECT account, asset, SUM(inflow_fen) AS inflow, SUM(outflow_fen) AS outflow, SUM(inflows) AS inflows "
                       "FROM ledger_day WHERE day >= ? GROUP BY account, asset", (day,))


async def flows_by_day(day: str, queue: str | None = None) -> list[dict[str, Any]]:
    """Per UTC day from `day` on and per tracked account (of one queue when given): its inflow and outflow."""
    accounts = "" if queue is None else " AND account IN (?, ?)"
    params: tuple[str, ...] = (day,) if queue is None else (day, f"liability:{queue}", f"pool:{queue}")
    return await fetch(default(), "SELECT day, account, asset, SUM(inflow_fen) AS inflow, SUM(outflow_fen) AS outflow "
                       f"FROM ledger_day WHERE day >= ?{accounts} GROUP BY day, account, asset ORDER BY day", params)
