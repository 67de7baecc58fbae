"""订单分红 persistence: the dividend queue's entries (OD-1..OD-4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from domain import order_dividend as od
from domain.money import from_fen, to_fen
from store.db import Connection
from store.sql import execute_many, fetch

COLUMNS = "id, key, member_id, position, paid_fen, total_fen, received_fen, status"


def _entry(r: dict[str, Any]) -> od.DividendEntry:
    return od.DividendEntry(
        key=r["key"], member=r["member_id"], position=int(r["position"]), amount=from_fen(int(r["paid_fen"])),
        cap=from_fen(int(r["total_fen"])), received=from_fen(int(r["received_fen"])), status=od.Status(r["status"]), db_id=int(r["id"]),
    )


async def load_entries(conn: Connection, status: str, after: int, count: int) -> list[od.DividendEntry]:
    """The first `count` entries in a status after position `after`, in position order."""
    rows = await fetch(
        conn, f"SELECT {COLUMNS} FROM entitlement WHERE queue_id = 'od' AND status = ? AND position > ? ORDER BY position LIMIT ?",
        (status, after, count),
    )
    return [_entry(r) for r in rows]


async def entry_by_order(conn: Connection, order: str) -> od.DividendEntry | None:
    rows = await fetch(conn, f"SELECT {COLUMNS} FROM entitlement WHERE model = 'order_dividend' AND key = ?", (order,))
    return _entry(rows[0]) if rows else None


async def save_entries(conn: Connection, touched: Iterable[od.DividendEntry], now: datetime) -> None:
    """Insert the batch's new entries, update the changed ones."""
    touched = list(touched)
    await execute_many(
        conn,
        "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, "
        "ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) "
        "VALUES (?, 'order_dividend', 'od', ?, ?, ?, 0, ?, ?, ?, TRUE, '0', 'order_dividend.free_ratio', ?, 0, '', '', ?)",
        [(e.key, e.position, e.member, e.key, to_fen(e.cap), to_fen(e.received), e.status.value, to_fen(e.amount), now) for e in touched if e.db_id is None],
    )
    await execute_many(
        conn, "UPDATE entitlement SET received_fen = ?, status = ? WHERE id = ?",
        [(to_fen(e.received), e.status.value, e.db_id) for e in touched if e.db_id is not None],
    )
