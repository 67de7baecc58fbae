"""排队返利 persistence: the queue's window of WAITING entitlements, the order lines it settles, what
the settings read of the world (levels, per-day spend, limit counts, the catalog) and the batch's
writes (QR-1..QR-17)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain import queue_rebate as qr
from domain.money import ZERO, from_fen, to_fen
from store.db import Connection
from store.models import Cashier, Order, OrderLine, Product, Store
from store.sql import dialect, fetch, insert_rows, select_in, update_rows

ENTITLEMENT_COLUMNS = (
    "id, key, member_id, order_id, line, queue_id, position, total_fen, received_fen, status, order_completed, ratio, ratio_source, "
    "paid_fen, lottery_source, drawn_ratio, exchanged_to, exchanged_fen, created_at"
)
Loaded = tuple[qr.Entitlement, datetime]  # an entitlement and when it was created (UTC)


def _utc(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _loaded(r: dict[str, Any]) -> Loaded:
    e = qr.Entitlement(
        key=r["key"], member=r["member_id"], order=r["order_id"], line=int(r["line"]), queue=r["queue_id"], position=int(r["position"]),
        total=from_fen(int(r["total_fen"])), received=from_fen(int(r["received_fen"])), status=qr.Status(r["status"]),
        order_completed=bool(r["order_completed"]), ratio=Decimal(r["ratio"]), ratio_source=r["ratio_source"], db_id=int(r["id"]),
        paid=from_fen(int(r["paid_fen"])), lottery_source=r["lottery_source"] or "",
        drawn_ratio=Decimal(r["drawn_ratio"]) if r["drawn_ratio"] is not None else None,
        exchanged_to=r["exchanged_to"] or "", exchanged_amount=from_fen(int(r["exchanged_fen"])) if r["exchanged_fen"] is not None else ZERO,
    )
    return e, _utc(r["created_at"])


async def load_window(conn: Connection, queue_id: str, after: int, upto: int, count: int) -> list[Loaded]:
    """The queue's WAITING entitlements at positions (after, upto], the first `count`, through the
    (queue_id, position) index (from the head: what no longer waits there is skipped)."""
    rows = await fetch(
        conn,
        f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE queue_id = ? AND status = 'WAITING' AND position > ? AND position <= ? "
        "ORDER BY position LIMIT ?",
        (queue_id, after, upto, count),
    )
    return [_loaded(r) for r in rows]


LOAD_WINDOWS = (  # PostgreSQL: `load_window` of several queues, each through the index
    "SELECT w.wq AS window_of, e.* FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS w(wq, wafter, wupto) CROSS JOIN LATERAL ("
    f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE queue_id = w.wq AND status = 'WAITING' AND position > w.wafter AND position <= w.wupto "
    "ORDER BY position LIMIT ?) e"
)


async def load_windows(conn: Connection, windows: Sequence[tuple[str, int, int]], count: int) -> dict[str, list[Loaded]]:
    """`load_window` of several queues (queue, after, upto each), by queue; on PostgreSQL in one statement."""
    if dialect(conn) != "postgres":
        return {q: await load_window(conn, q, after, upto, count) for q, after, upto in windows}
    found: dict[str, list[Loaded]] = {q: [] for q, _, _ in windows}
    columns = [list(column) for column in zip(*windows, strict=True)]
    for r in await fetch(conn, LOAD_WINDOWS, (*columns, count)):
        found[r.pop("window_of")].append(_loaded(r))
    return found


async def waiting_after(conn: Connection, queue_id: str, cursor: int, count: int) -> list[Loaded]:
    """The queue's next `count` WAITING entitlements after position `cursor` (a reset's chunk)."""
    rows = await fetch(conn, f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE queue_id = ? AND status = 'WAITING' AND position > ? "
                       "ORDER BY position LIMIT ?", (queue_id, cursor, count))
    return [_loaded(r) for r in rows]


async def entitlement_by_key(conn: Connection, key: str) -> Loaded | None:
    rows = await fetch(conn, f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE model = 'queue_rebate' AND key = ?", (key,))
    return _loaded(rows[0]) if rows else None


async def entitlement_row(conn: Connection, key: str) -> dict[str, Any] | None:
    """An entitlement's stored row as it is (a member action's checks)."""
    rows = await fetch(conn, "SELECT * FROM entitlement WHERE model = 'queue_rebate' AND key = ?", (key,))
    return rows[0] if rows else None


async def waiting_head(conn: Connection, queue_id: str, from_position: int) -> int | None:
    """The lowest position still WAITING in the queue, at or after `from_position` (before which
    nobody waits; None: nobody waits)."""
    rows = await fetch(conn, "SELECT MIN(position) AS head FROM entitlement WHERE queue_id = ? AND status = 'WAITING' AND position >= ?",
                       (queue_id, from_position))
    return int(rows[0]["head"]) if rows and rows[0]["head"] is not None else None


async def order_lines(conn: Connection, queue_id: str, orders: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The lines of these orders that settle in this queue, by order, in line order; each row
    carries `_dirty` (False) for `save_lines`."""
    ids = sorted(set(orders))
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = await fetch(conn, f"SELECT * FROM order_line WHERE queue_id = ? AND order_id IN ({marks}) ORDER BY order_id, \"index\"", (queue_id, *ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["_dirty"] = False
        out.setdefault(r["order_id"], []).append(r)
    return out


async def order_lines_many(conn: Connection, orders: Mapping[str, Iterable[str]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """`order_lines` of several queues (queue → its orders) in one statement, by queue."""
    wanted = {q: set(o) for q, o in orders.items()}
    ids = sorted(set().union(*wanted.values()))
    found: dict[str, dict[str, list[dict[str, Any]]]] = {q: {} for q in wanted}
    if not ids:
        return found
    queue_marks, order_marks = ", ".join("?" for _ in wanted), ", ".join("?" for _ in ids)
    rows = await fetch(conn, f"SELECT * FROM order_line WHERE queue_id IN ({queue_marks}) AND order_id IN ({order_marks}) ORDER BY order_id, \"index\"",
                       (*sorted(wanted), *ids))
    for r in rows:
        if r["order_id"] in wanted[r["queue_id"]]:
            r["_dirty"] = False
            found[r["queue_id"]].setdefault(r["order_id"], []).append(r)
    return found


async def order_levels(conn: Connection, orders: Iterable[str]) -> dict[str, str | None]:
    """M-2: the member's level each order recorded when it was paid."""
    return {r["id"]: r["member_level"] for r in await select_in(conn, 'SELECT id, member_level FROM "order" WHERE id', sorted(set(orders)))}


@dataclass(frozen=True, slots=True)
class Entity:
    """A product, store or cashier as settlement reads it (QR-20): its columns, not an ORM row."""

    id: str
    queue_rebate: Any  # its own settings (JSON), None where never set
    source: str = ""  # a product's
    store_id: str | None = None  # a product's
    listed: bool = True  # a product's


_JSON = Product._meta.fields_map["queue_rebate"]  # the JSON columns decode as the ORM decodes them


async def catalog(conn: Connection, products: Iterable[str], stores: Iterable[str], cashiers: Iterable[str]) -> tuple[dict[str, Entity], dict[str, Entity], dict[str, Entity]]:
    """The products, and the stores (those named and the products' own) and cashiers, by id: plain
    statements (each batch reads them; the ORM's query building cost more than the reads)."""
    found = {r["id"]: Entity(r["id"], _JSON.to_python_value(r["queue_rebate"]), r["source"], r["store_id"], bool(r["listed"]))
             for r in await select_in(conn, "SELECT id, source, store_id, listed, queue_rebate FROM product WHERE id", sorted(set(products)))}
    store_ids = set(stores) | {p.store_id for p in found.values() if p.store_id}
    return (  # no statement for an empty set (a mall order names no store or cashier)
        found,
        {r["id"]: Entity(r["id"], _JSON.to_python_value(r["queue_rebate"])) for r in await select_in(conn, "SELECT id, queue_rebate FROM store WHERE id", sorted(store_ids))},
        {r["id"]: Entity(r["id"], _JSON.to_python_value(r["queue_rebate"])) for r in await select_in(conn, "SELECT id, queue_rebate FROM cashier WHERE id", sorted(set(cashiers)))},
    )


async def spend_total(conn: Connection, member: str, scope: str, after_day: str, upto_day: str) -> Decimal:
    """QR-11: the member's completed spend in a scope over the local days (after_day, upto_day]."""
    rows = await fetch(
        conn, "SELECT COALESCE(SUM(amount_fen), 0) AS total FROM member_spend_day WHERE member_id = ? AND scope = ? AND day > ? AND day <= ?",
        [member, scope, after_day, upto_day],
    )
    return from_fen(int(rows[0]["total"] or 0))


async def scope_counts(conn: Connection, member: str, scope: str, product: str | None, start: datetime, end: datetime) -> tuple[int, int]:
    """QR-13: (ever, created in [start, end)) of the member's entitlements in a limit scope; with
    `product`, only those from lines of that product."""
    if product is not None:
        base = ('FROM entitlement e JOIN order_line l ON l.order_id = e.order_id AND l."index" = e.line '
                "WHERE e.member_id = ? AND e.scope_key = ? AND e.model = 'queue_rebate' AND l.product_id = ?")
        params: list[Any] = [member, scope, product]
    else:
        base, params = "FROM entitlement e WHERE e.member_id = ? AND e.scope_key = ? AND e.model = 'queue_rebate'", [member, scope]
    rows = await fetch(conn, f"SELECT COUNT(*) AS total, SUM(CASE WHEN e.created_at >= ? AND e.created_at < ? THEN 1 ELSE 0 END) AS today {base}",
                       [start, end, *params])
    return int(rows[0]["total"] or 0), int(rows[0]["today"] or 0)


async def line_of(conn: Connection, order_id: str, index: int) -> tuple[Order, OrderLine, Product | None, Store | None, Cashier | None] | None:
    """An order line with its order, product, store (the product's, else the order's) and cashier."""
    order = await Order.get_or_none(id=order_id).using_db(conn)
    line = await OrderLine.get_or_none(order_id=order_id, index=index).using_db(conn)
    if order is None or line is None:
        return None
    product = await Product.get_or_none(id=line.product_id).using_db(conn) if line.product_id else None
    store_id = product.store_id if product is not None and product.store_id else order.store_id
    store = await Store.get_or_none(id=store_id).using_db(conn) if store_id else None
    cashier = await Cashier.get_or_none(id=order.cashier_id).using_db(conn) if order.cashier_id else None
    return order, line, product, store, cashier


async def queues_with_waiting(conn: Connection) -> list[str]:
    """The queue rebate's queues that have WAITING entitlements, in id order (each looked for from
    its head: nobody before it waits)."""
    out = []
    for row in await fetch(conn, "SELECT id, head FROM queue WHERE model = 'queue_rebate' AND head <= tail ORDER BY id"):
        if await fetch(conn, "SELECT 1 AS x FROM entitlement WHERE queue_id = ? AND status = 'WAITING' AND position >= ? LIMIT 1",
                       (row["id"], row["head"])):
            out.append(row["id"])
    return out


def _audit(e: qr.Entitlement, drawn_at: Mapping[str, datetime]) -> tuple[Any, ...]:
    """drawn_ratio, drawn_at, exchanged_to, exchanged_fen: what randomness and members decided (C-10)."""
    exchanged = e.exchanged_to or None
    return (str(e.drawn_ratio) if e.drawn_ratio is not None else None, drawn_at.get(e.key), exchanged,
            to_fen(e.exchanged_amount) if exchanged else None)


_NEW_ENTITLEMENT = {  # name → PostgreSQL type (`insert_rows`)
    "key": "text", "model": "text", "queue_id": "text", "position": "bigint", "member_id": "text", "order_id": "text", "line": "integer", "total_fen": "bigint",
    "received_fen": "bigint", "status": "text", "order_completed": "boolean", "ratio": "text", "ratio_source": "text", "paid_fen": "bigint", "boost_fen": "bigint",
    "lottery_source": "text", "scope_key": "text", "drawn_ratio": "text", "drawn_at": "timestamptz", "exchanged_to": "text", "exchanged_fen": "bigint",
    "created_at": "timestamptz",
}


_CHANGED_ENTITLEMENT = {
    "received_fen": "bigint", "status": "text", "order_completed": "boolean", "total_fen": "bigint", "ratio": "text", "ratio_source": "text",
    "drawn_ratio": "text", "drawn_at": "timestamptz", "exchanged_to": "text", "exchanged_fen": "bigint",
}


async def save_entitlements(
    conn: Connection, touched: Iterable[qr.Entitlement], scopes: Mapping[str, str], drawn_at: Mapping[str, datetime], created: Mapping[str, datetime],
) -> None:
    """Insert the batch's new entitlements (with their limit scope and creation time) and update the changed ones."""
    touched = list(touched)
    await insert_rows(  # on PostgreSQL one statement (INSERT … unnest, or COPY from COPY_ROWS on), not one INSERT a row
        conn, "entitlement", _NEW_ENTITLEMENT,
        [(e.key, "queue_rebate", e.queue, e.position, e.member, e.order, e.line, to_fen(e.total), to_fen(e.received), e.status.value, e.order_completed, str(e.ratio),
          e.ratio_source, to_fen(e.paid), 0, e.lottery_source, scopes.get(e.key, ""), *_audit(e, drawn_at), created[e.key])
         for e in touched if e.db_id is None],
    )
    await update_rows(  # on PostgreSQL one UPDATE for all of them, not one a row
        conn, "entitlement", "id", _CHANGED_ENTITLEMENT,
        [(to_fen(e.received), e.status.value, e.order_completed, to_fen(e.total), str(e.ratio), e.ratio_source, *_audit(e, drawn_at), e.db_id)
         for e in touched if e.db_id is not None],
        keep_if_null=("drawn_at",),  # None: not drawn in this batch, the stored time stays
    )


async def save_lines(conn: Connection, *lines: Mapping[str, list[dict[str, Any]]]) -> None:
    """The extraction and flags of the order lines these batches changed (`_dirty`; each mapping a
    batch's lines by order), in one call for all of them."""
    await update_rows(  # on PostgreSQL one UPDATE for all of them, not one a line
        conn, "order_line", "id", {"extraction_fen": "bigint", "extracted": "boolean", "cancelled": "boolean"},
        [(r["extraction_fen"], bool(r["extracted"]), bool(r["cancelled"]), r["id"]) for found in lines for rows in found.values() for r in rows if r["_dirty"]],
    )
