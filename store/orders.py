"""Orders as the per-order models (order dividend, union queue) read them: amount, profit, the
orderer's referrer and the lines."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.money import from_fen
from store.db import Connection
from store.sql import dialect, fetch


def lines_of_orders(conn: Connection, columns: str, joins: str = "") -> str:
    """`SELECT columns` of the order lines `l` (with `joins`), up to the orders' id for the caller
    to complete with `IN (…)`.

    On PostgreSQL the lines are reached through the orders' primary key, each order's lines an
    index range scan of (order_id, index): a table that was never analyzed (no autovacuum) has no
    statistics on `order_line.order_id`, and the planner, which then takes `order_id IN (…)` for a
    large share of the table, scans all of it (a custom plan as much as a generic one). The
    LATERAL subquery (kept apart by OFFSET 0) leaves it only that index scan per order."""
    if dialect(conn) == "postgres":
        return (f'SELECT {columns} FROM "order" o CROSS JOIN LATERAL (SELECT * FROM order_line x WHERE x.order_id = o.id OFFSET 0) l '
                f"{joins} WHERE o.id")
    return f"SELECT {columns} FROM order_line l {joins} WHERE l.order_id"


async def orders_with_referrers(conn: Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
    """id, member_id, amount_fen, profit_fen and the member's referrer_id of each order."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return await fetch(
        conn,
        f'SELECT o.id AS id, o.member_id AS member_id, o.amount_fen AS amount_fen, o.profit_fen AS profit_fen, m.referrer_id AS referrer_id '
        f'FROM "order" o JOIN member m ON m.id = o.member_id WHERE o.id IN ({marks})',
        list(ids),
    )


async def line_amounts(conn: Connection, ids: Sequence[str]) -> dict[str, list[tuple[str | None, Decimal]]]:
    """Each order's (product, paid) per line, in line order."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    lines: dict[str, list[tuple[str | None, Decimal]]] = {}
    head = lines_of_orders(conn, "l.order_id AS order_id, l.product_id AS product_id, l.paid_fen AS paid_fen")
    for r in await fetch(conn, f'{head} IN ({marks}) ORDER BY l.order_id, l."index"', list(ids)):
        lines.setdefault(r["order_id"], []).append((r["product_id"], from_fen(int(r["paid_fen"]))))
    return lines
