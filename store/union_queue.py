"""工会排队 persistence: the union queue's entitlements (UQ-1..UQ-4); the daily settlement's
progress lives in `store.jobs`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain import union_queue as uq
from domain.ledger import Asset, Wallet
from domain.money import ZERO, from_fen, to_fen
from store.db import Connection
from store.ledger import Leg, MemberAccount, post_rows
from store.sql import dialect, execute_many, fetch, fetch_rows, update_rows

COLUMNS = "id, key, member_id, order_id, position, total_fen, received_fen, boost_fen, status"


STATUS = {s.value: s for s in uq.Status}


def _amount(fen: Any) -> Decimal:
    return from_fen(int(fen)) if fen else ZERO


def _entitlement(r: Mapping[str, Any]) -> uq.UEntitlement:
    return uq.UEntitlement(
        key=r["key"], member=r["member_id"], order=r["order_id"], position=int(r["position"]), total=_amount(r["total_fen"]),
        received=_amount(r["received_fen"]), boost=_amount(r["boost_fen"]), status=STATUS[r["status"]], db_id=int(r["id"]),
    )


async def _select(conn: Connection, where: str, params: tuple[Any, ...]) -> list[uq.UEntitlement]:
    rows = await fetch_rows(conn, f"SELECT {COLUMNS} FROM entitlement WHERE queue_id = 'uq' AND {where}", params)
    return [_entitlement(r) for r in rows]


async def by_order(conn: Connection, order: str) -> list[uq.UEntitlement]:
    """The order's entitlement (keyed by the order id), if it joined."""
    return await _select(conn, "model = 'union_queue' AND key = ?", (order,))


async def oldest_waiting(conn: Connection, member: str) -> list[uq.UEntitlement]:
    """The member's WAITING entitlement nearest the head (UQ-2: a referrer's to accelerate)."""
    return await _select(conn, "member_id = ? AND status = 'WAITING' ORDER BY position LIMIT 1", (member,))


async def boosted_waiting(conn: Connection) -> list[uq.UEntitlement]:
    """WAITING entitlements with an unpaid boost, in position order (UQ-3 pays them first)."""
    return await _select(conn, "boost_fen > 0 AND status = 'WAITING' ORDER BY position", ())


async def waiting_after(conn: Connection, cursor: int, count: int) -> list[uq.UEntitlement]:
    """The next `count` WAITING entitlements after position `cursor` (a daily settlement's chunk;
    the scan of (queue_id, position) skips what no longer waits, so `cursor` is at or after the head)."""
    return await _select(conn, "status = 'WAITING' AND position > ? ORDER BY position LIMIT ?", (cursor, count))


async def waiting_head(conn: Connection, from_position: int) -> int | None:
    """The lowest WAITING position at or after `from_position` (None: nobody waits there)."""
    rows = await fetch(conn, "SELECT MIN(position) AS head FROM entitlement WHERE queue_id = 'uq' AND status = 'WAITING' AND position >= ?", (from_position,))
    return int(rows[0]["head"]) if rows and rows[0]["head"] is not None else None


async def save_entitlements(conn: Connection, touched: Iterable[uq.UEntitlement], now: datetime) -> None:
    """Insert the batch's new entitlements, update the changed ones (one statement on PostgreSQL:
    a daily settlement's chunk of 5 000)."""
    touched = list(touched)
    await execute_many(
        conn,
        "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, "
        "ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) "
        "VALUES (?, 'union_queue', 'uq', ?, ?, ?, 0, ?, ?, ?, TRUE, '0', 'union_queue.quota_ratio', 0, ?, '', '', ?)",
        [(e.key, e.position, e.member, e.order, to_fen(e.total), to_fen(e.received), e.status.value, to_fen(e.boost), now) for e in touched if e.db_id is None],
    )
    await update_rows(conn, "entitlement", "id", {"received_fen": "bigint", "boost_fen": "bigint", "status": "text"},
                      [(to_fen(e.received), to_fen(e.boost), e.status.value, e.db_id) for e in touched if e.db_id is not None])


def pays_in_sql(conn: Connection) -> bool:
    """Whether `pay_through` can write a daily settlement's payouts here (PostgreSQL)."""
    return dialect(conn) == "postgres"


async def waiting_dues(conn: Connection, cursor: int, count: int) -> list[tuple[int, int]]:
    """PostgreSQL: (position, remaining fen) of the next `count` WAITING entitlements after position
    `cursor`, read as two arrays (one row: no driver row per entitlement)."""
    rows = await fetch_rows(conn, "SELECT array_agg(position ORDER BY position) AS p, array_agg(due ORDER BY position) AS d FROM ("
                            "SELECT position, total_fen - received_fen AS due FROM entitlement WHERE queue_id = 'uq' AND status = 'WAITING' "
                            "AND position > ? ORDER BY position LIMIT ?) w", (cursor, count))
    return list(zip(rows[0]["p"] or (), rows[0]["d"] or (), strict=True))


PAY_THROUGH = (  # every WAITING entitlement in (after, through] with something remaining, paid in full (UQ-3)
    "UPDATE entitlement AS e SET received_fen = e.total_fen, boost_fen = 0, status = 'COMPLETED' FROM ("
    " SELECT id, total_fen - received_fen AS fen FROM entitlement WHERE queue_id = 'uq' AND status = 'WAITING' AND position > ? AND position <= ?"
    " AND total_fen > received_fen) AS d WHERE e.id = d.id RETURNING e.key, e.member_id, d.fen"
)


@dataclass(frozen=True, slots=True)
class Paid:
    """What `pay_through` paid, one entry per entitlement in each list: the member, the key of the
    member's cash transfer, the fen."""

    members: list[str]
    keys: list[str]
    fens: list[int]

    def __len__(self) -> int:
        return len(self.fens)


async def pay_through(conn: Connection, day: str, after: int, through: int, event_id: int | None, now: datetime) -> Paid:
    """PostgreSQL, one statement: pay in full every WAITING entitlement after position `after` up to
    `through` (what `domain.union_queue.settle_dues` decided), with the transfers, keys and balances
    of the domain's `settle_batch`: pool → member cash per entitlement, and the promises settled in
    one transfer. Returns what it paid, read as arrays (one row, however many were paid)."""
    pay = f"uq:{day}:pay:"
    legs = (Leg(pay, uq.POOL, MemberAccount("member_id", Wallet.CASH), Asset.CNY, "pay"),
            Leg(uq.settle_key(day, through), uq.LIABILITY, uq.PROMISED, Asset.ENTITLEMENT, "pay", whole=True))
    rows = await post_rows(conn, PAY_THROUGH, (after, through), legs, event_id, uq.QUEUE_ID, now,
                           "array_agg(r.member_id) AS m, array_agg(r.key) AS k, array_agg(r.fen) AS f")
    row = rows[0]
    return Paid(list(row["m"] or ()), [pay + k for k in row["k"] or ()], list(row["f"] or ()))
