"""Orders as the per-order models (order dividend, union queue) read them: amount, profit, the
orderer's referrer and the lines."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.money import from_fen
from store.db import Connection
from store.sql import fetch


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
    for r in await fetch(conn, f'SELECT order_id, product_id, paid_fen FROM order_line WHERE order_id IN ({marks}) ORDER BY order_id, "index"', list(ids)):
        lines.setdefault(r["order_id"], []).append((r["product_id"], from_fen(int(r["paid_fen"]))))
    return lines
