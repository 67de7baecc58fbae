"""积分分红 persistence: release plans (`pd_plan`, PD-1, PD-2, PD-10) and the order lines the
model reads; the daily release's progress lives in `store.jobs`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from domain.money import from_fen, to_fen
from domain.points_dividend import Plan, PlanStatus
from store.db import Connection
from store.sql import execute_many, fetch

COLUMNS = "id, key, member_id, position, amount_fen, tier, total_fen, daily_fen, released_fen, status, last_day, last_static_fen"
_IN_CHUNK = 500


def _plan(r: dict[str, Any]) -> Plan:
    return Plan(
        key=r["key"], member=r["member_id"], position=int(r["position"]), amount=from_fen(int(r["amount_fen"])), tier=r["tier"],
        total=from_fen(int(r["total_fen"])), daily=from_fen(int(r["daily_fen"])), released=from_fen(int(r["released_fen"])),
        status=PlanStatus(r["status"]), last_day=r["last_day"], last_static=from_fen(int(r["last_static_fen"])),
    )


async def plan_by_key(conn: Connection, key: str) -> Plan | None:
    rows = await fetch(conn, f"SELECT {COLUMNS} FROM pd_plan WHERE key = ?", (key,))
    return _plan(rows[0]) if rows else None


async def plans_of(conn: Connection, member: str) -> list[Plan]:
    """A member's plans, oldest first."""
    return [_plan(r) for r in await fetch(conn, f"SELECT {COLUMNS} FROM pd_plan WHERE member_id = ? ORDER BY position, key", (member,))]


async def releasing_plans(conn: Connection, members: Sequence[str], day: str) -> dict[str, list[Plan]]:
    """PD-9: the members' ACTIVE plans and those already released on `day`."""
    out: dict[str, list[Plan]] = {}
    for i in range(0, len(members), _IN_CHUNK):
        part = list(members[i:i + _IN_CHUNK])
        marks = ", ".join("?" for _ in part)
        rows = await fetch(conn, f"SELECT {COLUMNS} FROM pd_plan WHERE member_id IN ({marks}) AND (status = 'ACTIVE' OR last_day = ?)", [*part, day])
        for r in rows:
            out.setdefault(r["member_id"], []).append(_plan(r))
    return out


async def insert_plans(conn: Connection, plans: Iterable[Plan]) -> None:
    await execute_many(
        conn, "INSERT INTO pd_plan (key, member_id, position, amount_fen, tier, total_fen, daily_fen, released_fen, status, last_day, last_static_fen, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
        [(p.key, p.member, p.position, to_fen(p.amount), p.tier, to_fen(p.total), to_fen(p.daily), to_fen(p.released), p.status.value, p.last_day,
          to_fen(p.last_static)) for p in plans],
    )


async def update_plans(conn: Connection, plans: Iterable[Plan]) -> None:
    await execute_many(
        conn, "UPDATE pd_plan SET released_fen = ?, status = ?, last_day = ?, last_static_fen = ? WHERE key = ?",
        [(to_fen(p.released), p.status.value, p.last_day, to_fen(p.last_static), p.key) for p in plans],
    )


async def order_lines(conn: Connection, ids: Sequence[str]) -> dict[str, list[tuple[int, str | None, int, int]]]:
    """Each order's lines: (index, product, paid fen, deduction fen)."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    out: dict[str, list[tuple[int, str | None, int, int]]] = {}
    for r in await fetch(conn, f'SELECT order_id, "index", product_id, paid_fen, deduction_fen FROM order_line WHERE order_id IN ({marks}) ORDER BY order_id, "index"',
                         list(ids)):
        out.setdefault(r["order_id"], []).append((int(r["index"]), r["product_id"], int(r["paid_fen"]), int(r["deduction_fen"])))
    return out


async def all_plans(conn: Connection) -> list[Plan]:
    """Every plan (the replay's `plans`), oldest first."""
    return [_plan(r) for r in await fetch(conn, f"SELECT {COLUMNS} FROM pd_plan ORDER BY position, key")]


async def points_balance(conn: Connection, account: str) -> int:
    rows = await fetch(conn, "SELECT amount_fen FROM balance WHERE account = ? AND asset = 'POINTS'", (account,))
    return int(rows[0]["amount_fen"]) if rows else 0


async def day_transfers(conn: Connection, account: str, day: str) -> list[dict[str, Any]]:
    """The day's POINTS transfers of this model into `account` (keys `pd:<day>:<kind>:…`)."""
    return await fetch(conn, "SELECT key, amount_fen FROM transfer WHERE target = ? AND asset = 'POINTS' AND key LIKE ?", (account, f"pd:{day}:%"))
