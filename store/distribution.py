"""分销 the distribution model's rows: agents, shareholders, the orders it settled, the rewards it
paid (DR-1..DR-8). Team performance lives on the team paths (`store.team_paths`, ADR 0008)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.distribution import AgentLevel, Reward, RewardKind, region_prefix
from domain.money import from_fen, to_fen
from store.db import Connection
from store.sql import execute, execute_many, fetch


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A completed order as the distribution rules read it; `region` is the order's, else its store's."""

    id: str
    member: str
    channel: str
    region: str | None
    recruiter: str | None


async def order_rows(conn: Connection, ids: Sequence[str]) -> dict[str, OrderRow]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = await fetch(
        conn,
        f'SELECT o.id AS id, o.member_id AS member_id, o.channel AS channel, COALESCE(o.region, s.region) AS region, s.recruiter_id AS recruiter_id '
        f'FROM "order" o LEFT JOIN store s ON s.id = o.store_id WHERE o.id IN ({marks})',
        list(ids),
    )
    return {r["id"]: OrderRow(r["id"], r["member_id"], r["channel"], r["region"], r["recruiter_id"]) for r in rows}


async def agents_for(conn: Connection, region: str | None) -> dict[AgentLevel, str]:
    """The agent of each level whose region covers `region` (DR-5)."""
    if not region:
        return {}
    wanted = {level: prefix for level in AgentLevel if (prefix := region_prefix(region, level)) is not None}
    if not wanted:
        return {}
    where = " OR ".join("(level = ? AND region = ?)" for _ in wanted)
    params = [v for level, prefix in wanted.items() for v in (level.value, prefix)]
    rows = await fetch(conn, f"SELECT level, member_id FROM distribution_agent WHERE {where}", params)
    return {AgentLevel(r["level"]): r["member_id"] for r in rows}


async def save_agent(conn: Connection, level: AgentLevel, region: str, member: str | None) -> None:
    """Assign (or with None remove) the agent of one level and region."""
    await execute(conn, "DELETE FROM distribution_agent WHERE level = ? AND region = ?", (level.value, region))
    if member is not None:
        await execute(conn, "INSERT INTO distribution_agent (level, region, member_id) VALUES (?, ?, ?)", (level.value, region, member))


async def agents(conn: Connection) -> list[dict[str, Any]]:
    return await fetch(conn, "SELECT level, region, member_id FROM distribution_agent ORDER BY level, region")


async def save_shareholder(conn: Connection, member: str, weight: Decimal) -> None:
    """Set a shareholder's weight; 0 removes it."""
    await execute(conn, "DELETE FROM distribution_shareholder WHERE member_id = ?", (member,))
    if weight > 0:
        await execute(conn, "INSERT INTO distribution_shareholder (member_id, weight) VALUES (?, ?)", (member, format(weight.normalize(), "f")))


async def shareholders(conn: Connection) -> dict[str, Decimal]:
    return {r["member_id"]: Decimal(r["weight"]) for r in await fetch(conn, "SELECT member_id, weight FROM distribution_shareholder ORDER BY member_id")}


async def settled_orders(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Order id → status (OPEN / REFUNDED) of the given orders this model already settled."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    return {r["order_id"]: r["status"] for r in await fetch(conn, f"SELECT order_id, status FROM distribution_order WHERE order_id IN ({marks})", list(ids))}


async def record_order(conn: Connection, order: str, member: str, amount: Decimal, at: datetime) -> None:
    await execute(conn, "INSERT INTO distribution_order (order_id, member_id, amount_fen, status, completed_at) VALUES (?, ?, ?, 'OPEN', ?)",
                  (order, member, to_fen(amount), at))


async def settled_fen(conn: Connection, order: str) -> int:
    """The amount (fen) this model settled an order at."""
    rows = await fetch(conn, "SELECT amount_fen FROM distribution_order WHERE order_id = ?", (order,))
    return int(rows[0]["amount_fen"]) if rows else 0


async def refund_order(conn: Connection, order: str) -> None:
    await execute(conn, "UPDATE distribution_order SET status = 'REFUNDED' WHERE order_id = ?", (order,))


async def open_turnover(conn: Connection) -> Decimal:
    """DR-6: the amount of the settled, unrefunded orders no dividend has counted yet."""
    rows = await fetch(conn, "SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM distribution_order WHERE period IS NULL AND status = 'OPEN'")
    return from_fen(int(rows[0]["fen"]))


async def close_period(conn: Connection, period: str) -> None:
    await execute(conn, "UPDATE distribution_order SET period = ? WHERE period IS NULL", (period,))


async def save_rewards(conn: Connection, source: str, rewards: Iterable[Reward], at: datetime) -> None:
    await execute_many(
        conn, "INSERT INTO distribution_reward (source, member_id, kind, amount_fen, reversed, created_at) VALUES (?, ?, ?, ?, FALSE, ?)",
        [(source, r.member, r.kind.value, to_fen(r.amount), at) for r in rewards],
    )


async def unreversed_rewards(conn: Connection, source: str) -> list[Reward]:
    rows = await fetch(conn, "SELECT member_id, kind, amount_fen FROM distribution_reward WHERE source = ? AND reversed = FALSE ORDER BY id", (source,))
    return [Reward(r["member_id"], RewardKind(r["kind"]), from_fen(int(r["amount_fen"]))) for r in rows]


async def mark_reversed(conn: Connection, source: str) -> None:
    await execute(conn, "UPDATE distribution_reward SET reversed = TRUE WHERE source = ?", (source,))


async def earnings(conn: Connection, member: str | None, since: datetime | None, until: datetime | None) -> dict[str, Decimal]:
    """Kind → the rewards paid (and not reversed) to `member` (None: everyone) in [since, until)."""
    sql = "SELECT kind, COALESCE(SUM(amount_fen), 0) AS fen FROM distribution_reward WHERE reversed = FALSE"
    params: list[Any] = []
    for clause, value in (("member_id = ?", member), ("created_at >= ?", since), ("created_at < ?", until)):
        if value is not None:
            sql += f" AND {clause}"
            params.append(value)
    rows = await fetch(conn, sql + " GROUP BY kind ORDER BY kind", params)
    return {r["kind"]: from_fen(int(r["fen"])) for r in rows}


async def entity_settings(conn: Connection) -> list[tuple[str, dict[str, Any]]]:
    """Every product's, store's and cashier's own queue-rebate settings, labelled `product:<id>` … (DR-7 report)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for table in ("product", "store", "cashier"):
        for r in await fetch(conn, f"SELECT id, queue_rebate FROM {table} ORDER BY id"):
            value = r["queue_rebate"]
            values = json.loads(value) if isinstance(value, (str, bytes)) else value
            if values:
                out.append((f"{table}:{r['id']}", dict(values)))
    return out
