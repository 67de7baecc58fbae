"""消费增值 persistence (CA-1..CA-7): holders keyed by cost per point, the pool's state (the `ca`
queue row), the price history, the sales and exits of each event, and each order's mint.

A holder's cost per point `spend / points` is kept in millionths of a yuan, rounded down, in a
BIGINT with a B-tree index (exact integer comparisons on both databases): "holders whose exit
price ≤ P" is the range scan `cost_micro <= floor(P / exit_multiple × 10⁶)` (`holders_reaching`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from domain.appreciation import POOL_ID, PoolState, PriceRecord, Quote, Sale
from domain.appreciation_holders import Holder
from domain.money import from_fen, to_fen
from store.db import Connection
from store.queue import load_state, save_state
from store.sql import execute_many, fetch

MICRO = 1_000_000
MAX_KEY = 2**63 - 1
HOLDER_COLUMNS = "member_id, points_fen, spend_fen, started_at, participation"


def utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back text)."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def cost_key(holder: Holder) -> int | None:
    """The indexed cost per point: floor(spend / points × 10⁶), None without points."""
    cost = holder.cost_per_point
    return None if cost is None else min(math.floor(cost * MICRO), MAX_KEY)


def _key_bound(value: Fraction) -> int:
    return max(0, min(math.floor(value * MICRO), MAX_KEY))


def _holder(r: dict[str, Any]) -> Holder:
    return Holder(r["member_id"], from_fen(int(r["points_fen"])), from_fen(int(r["spend_fen"])), utc(r["started_at"]), int(r["participation"]))


async def holders(conn: Connection, members: Sequence[str]) -> dict[str, Holder]:
    """The stored holders among `members` (a batch's members, loaded up front)."""
    out: dict[str, Holder] = {}
    for i in range(0, len(members), 500):
        chunk = list(members[i:i + 500])
        rows = await fetch(conn, f"SELECT {HOLDER_COLUMNS} FROM appreciation_holder WHERE member_id IN ({', '.join('?' for _ in chunk)})", chunk)
        out.update({r["member_id"]: _holder(r) for r in rows})
    return out


async def holders_reaching(conn: Connection, lower: Fraction | None, upper: Fraction) -> list[Holder]:
    """Holders whose cost per point c lies in (lower, upper] (and perhaps a few just outside, from
    the rounded keys): an index range scan on `cost_micro`."""
    low = -1 if lower is None else _key_bound(lower)
    rows = await fetch(conn, f"SELECT {HOLDER_COLUMNS} FROM appreciation_holder WHERE cost_micro >= ? AND cost_micro <= ?", (low, _key_bound(upper)))
    return [_holder(r) for r in rows]


async def lowest_key(conn: Connection) -> int | None:
    """The lowest stored cost-per-point key (None: no holder holds points): one index probe, no
    parameters. Only the `ca` batch writes holders, so it holds for the whole of a batch."""
    rows = await fetch(conn, "SELECT MIN(cost_micro) AS k FROM appreciation_holder")
    return None if not rows or rows[0]["k"] is None else int(rows[0]["k"])


def below_every_key(lowest: int | None, upper: Fraction) -> bool:
    """True when no stored holder can have a cost per point ≤ `upper` (its key would be ≤ the
    range's upper key): `holders_reaching(…, upper)` would find nobody."""
    return lowest is None or _key_bound(upper) < lowest


async def save_holders(conn: Connection, changed: Iterable[Holder]) -> None:
    """Upsert the changed holders (member order, so concurrent writers never deadlock)."""
    rows = [(h.member, to_fen(h.points), to_fen(h.spend), h.started_at, h.participation, cost_key(h)) for h in sorted(changed, key=lambda h: h.member)]
    await execute_many(
        conn,
        "INSERT INTO appreciation_holder (member_id, points_fen, spend_fen, started_at, participation, cost_micro) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (member_id) DO UPDATE SET points_fen = excluded.points_fen, spend_fen = excluded.spend_fen, "
        "started_at = excluded.started_at, participation = excluded.participation, cost_micro = excluded.cost_micro",
        rows,
    )


async def load_pool(conn: Connection) -> PoolState:
    """The pool's state from the `ca` queue row (the last price as its two amounts, so a frozen
    price stays exact)."""
    s = await load_state(conn, POOL_ID)
    last = Quote(Decimal(s["last_pool"]), Decimal(s["last_circulating"])) if s.get("last_pool") is not None else None
    return PoolState(Decimal(s.get("pool", "0.00")), Decimal(s.get("circulating", "0.00")), last)


async def save_pool(conn: Connection, state: PoolState, version: int) -> bool:
    """The pool's state, fenced on the version the batch set; False: another writer won."""
    last = state.last_price
    values = {"pool": str(state.pool), "circulating": str(state.circulating),
              "last_pool": str(last.pool) if last else None, "last_circulating": str(last.circulating) if last else None}
    return await save_state(conn, POOL_ID, values, version)


async def add_prices(conn: Connection, records: Sequence[PriceRecord]) -> None:
    await execute_many(
        conn, "INSERT INTO appreciation_price (at, cause, event_key, member_id, pool_fen, circulating_fen, price_fen) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r.at, r.cause.value, r.key, r.member, to_fen(r.pool), to_fen(r.circulating), to_fen(r.price)) for r in records],
    )


async def add_sales(conn: Connection, sales: Sequence[tuple[int, Sale, datetime]]) -> None:
    """(event id, sale, time) of every sale and exit of a batch."""
    await execute_many(
        conn, "INSERT INTO appreciation_sale (event_id, member_id, points_fen, price_fen, value_fen, paid_fen, forced, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(e, s.member, to_fen(s.points), to_fen(s.price), to_fen(s.value), to_fen(s.paid), s.forced, at) for e, s, at in sales],
    )


@dataclass(slots=True)
class OrderMint:
    """What a completed order added to its member's participation (for a refund of it)."""

    order: str
    member: str
    amount: Decimal
    points: Decimal
    participation: int
    stored: bool = True


async def order_mints(conn: Connection, orders: Sequence[str]) -> dict[str, OrderMint]:
    if not orders:
        return {}
    marks = ", ".join("?" for _ in orders)
    rows = await fetch(conn, f"SELECT order_id, member_id, amount_fen, points_fen, participation FROM appreciation_order WHERE order_id IN ({marks})", list(orders))
    return {r["order_id"]: OrderMint(r["order_id"], r["member_id"], from_fen(int(r["amount_fen"])), from_fen(int(r["points_fen"])), int(r["participation"])) for r in rows}


async def save_order_mints(conn: Connection, mints: Iterable[OrderMint]) -> None:
    mints = list(mints)
    await execute_many(
        conn, "INSERT INTO appreciation_order (order_id, member_id, amount_fen, points_fen, participation) VALUES (?, ?, ?, ?, ?)",
        [(m.order, m.member, to_fen(m.amount), to_fen(m.points), m.participation) for m in mints if not m.stored],
    )
    await execute_many(
        conn, "UPDATE appreciation_order SET amount_fen = ?, points_fen = ? WHERE order_id = ?",
        [(to_fen(m.amount), to_fen(m.points), m.order) for m in mints if m.stored],
    )


# --- reads for the API and the replay output -------------------------------------------------


async def pool_state(conn: Connection) -> PoolState:
    return await load_pool(conn)


async def holder(conn: Connection, member: str) -> Holder | None:
    return (await holders(conn, [member])).get(member)


async def lowest_cost_holders(conn: Connection, limit: int) -> list[Holder]:
    """Holders with points, the lowest cost per point first: the nearest to a forced exit (their
    exit price is exit_multiple × that cost); the index on `cost_micro` serves it."""
    rows = await fetch(conn, f"SELECT {HOLDER_COLUMNS} FROM appreciation_holder WHERE points_fen > 0 AND cost_micro IS NOT NULL "
                       "ORDER BY cost_micro, member_id LIMIT ?", (limit,))
    return [_holder(r) for r in rows]


async def price_history(conn: Connection, after: int, limit: int) -> list[dict[str, Any]]:
    """Price changes oldest first, keyset-paginated on their id (pass the last id seen as `after`)."""
    rows = await fetch(conn, "SELECT id, at, cause, event_key, member_id, pool_fen, circulating_fen, price_fen FROM appreciation_price "
                             "WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
    return [_price_row(r) for r in rows]


def _price_row(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(r["id"]), "at": utc(r["at"]), "cause": r["cause"], "key": r["event_key"], "member": r["member_id"],
            "pool": from_fen(int(r["pool_fen"])), "circulating": from_fen(int(r["circulating_fen"])), "price": from_fen(int(r["price_fen"]))}


async def prices_between(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Price changes with start ≤ at < end, in order (the daily view buckets them)."""
    rows = await fetch(conn, "SELECT id, at, cause, event_key, member_id, pool_fen, circulating_fen, price_fen FROM appreciation_price "
                             "WHERE at >= ? AND at < ? ORDER BY id", (start, end))
    return [_price_row(r) for r in rows]


async def last_price_before(conn: Connection, when: datetime) -> dict[str, Any] | None:
    rows = await fetch(conn, "SELECT id, at, cause, event_key, member_id, pool_fen, circulating_fen, price_fen FROM appreciation_price "
                             "WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1", (when,))
    return _price_row(rows[0]) if rows else None


async def event_row(conn: Connection, event_id: int, types: Sequence[str]) -> dict[str, Any] | None:
    """id, key, type and the payload's member of an event of one of `types` (None: no such event)."""
    marks = ", ".join("?" for _ in types)
    rows = await fetch(conn, f"SELECT id, key, type, payload FROM event WHERE id = ? AND type IN ({marks})", (event_id, *types))
    if not rows:
        return None
    payload = rows[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, (str, bytes)) else dict(payload)
    return {"id": int(rows[0]["id"]), "key": rows[0]["key"], "type": rows[0]["type"], "member": payload.get("member")}


async def sales_of_event(conn: Connection, event_id: int) -> list[dict[str, Any]]:
    """The sale an event made and the exits it set off, in order."""
    rows = await fetch(conn, "SELECT member_id, points_fen, price_fen, value_fen, paid_fen, forced FROM appreciation_sale WHERE event_id = ? ORDER BY id", (event_id,))
    return [{"member": r["member_id"], "points": from_fen(int(r["points_fen"])), "price": from_fen(int(r["price_fen"])), "value": from_fen(int(r["value_fen"])),
             "paid": from_fen(int(r["paid_fen"])), "forced": bool(r["forced"])} for r in rows]

