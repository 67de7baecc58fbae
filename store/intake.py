"""Intake's set-based reads and writes (`services.intake_bulk` holds the snapshot, `services.intake`
the rules): a few queries read what a call's events reference, multi-row statements write the
accepted events, orders, lines, per-day spend (QR-11), queues and inbox items."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from datetime import datetime
from typing import Any

from store.db import Connection
from store.inbox import INSERT_ITEM
from store.orders import lines_of_orders
from store.sql import IN_CHUNK, dialect, execute, execute_many, fetch, select_in

CHUNK = IN_CHUNK  # ids per IN list / rows per multi-row INSERT (SQLite and PostgreSQL parameter limits)
UPSERT_SPEND = (
    "INSERT INTO member_spend_day (member_id, scope, day, amount_fen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (member_id, scope, day) DO UPDATE SET amount_fen = member_spend_day.amount_fen + excluded.amount_fen"
)


async def locked_orders(conn: Connection, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The orders an event would change, locked (PostgreSQL, MySQL) in id order."""
    lock = " ORDER BY id FOR UPDATE" if dialect(conn) in ("postgres", "mysql") else " ORDER BY id"
    return await select_in(conn, 'SELECT id, status, completed_at, member_id, channel, store_id FROM "order" WHERE id', sorted(ids), lock)


async def order_lines(conn: Connection, order_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The lines of these orders with their queue, refund flag, paid fen and product source."""
    head = lines_of_orders(conn, 'l.order_id AS order_id, l."index" AS "index", l.queue_id AS queue_id, l.refunded AS refunded, l.paid_fen AS paid_fen, '
                                 "p.source AS source", "LEFT JOIN product p ON p.id = l.product_id")
    return await select_in(conn, head, sorted(order_ids))


# The snapshot's lookups by id, one UNION ALL branch each (all columns text, so the branches
# agree on both databases): kind, then up to five values.
_LOOKUPS: list[tuple[str, str]] = [
    ("keys", "SELECT 'event' AS t, key AS a, digest AS b, type AS c, CAST(id AS TEXT) AS d, NULL AS e FROM event WHERE scope = ? AND key"),
    ("members", "SELECT 'member' AS t, id AS a, NULL AS b, NULL AS c, NULL AS d, NULL AS e FROM member WHERE id"),
    ("paid_orders", 'SELECT \'order\' AS t, id AS a, NULL AS b, NULL AS c, NULL AS d, NULL AS e FROM "order" WHERE id'),
    ("products", "SELECT 'product' AS t, id AS a, source AS b, store_id AS c, CAST(listed AS TEXT) AS d, CAST(queue_rebate AS TEXT) AS e FROM product WHERE id"),
    ("stores", "SELECT 'store' AS t, id AS a, NULL AS b, NULL AS c, NULL AS d, CAST(queue_rebate AS TEXT) AS e FROM store WHERE id"),
    ("cashiers", "SELECT 'cashier' AS t, id AS a, store_id AS b, NULL AS c, NULL AS d, CAST(queue_rebate AS TEXT) AS e FROM cashier WHERE id"),
]
_SETTINGS_LOOKUP = 'SELECT \'settings\' AS t, model AS a, NULL AS b, NULL AS c, NULL AS d, CAST("values" AS TEXT) AS e FROM model_settings'


async def lookup(conn: Connection, ids: Mapping[str, Iterable[str]], scope: str) -> list[dict[str, Any]]:
    """Every id lookup of the snapshot (`ids` by kind: keys — of the key `scope` only —, members,
    paid_orders, products, stores, cashiers) and the model settings, as rows (t, a, b, c, d, e), in as few round trips as
    the parameter limit allows (one for a small call): branches of at most CHUNK ids, joined
    while their ids fit in CHUNK."""
    rows: list[dict[str, Any]] = []
    for sql, params in _lookup_statements(ids, scope):
        rows += await fetch(conn, sql, params)
    return rows


def lookup_is_one_statement(ids: Mapping[str, Sized]) -> bool:
    """Whether `lookup` reads these ids in a single statement (one snapshot, whatever the isolation):
    when all its parameters (the ids, and the scope with the keys) fit in one, without building it."""
    keys = len(ids.get("keys", ()))
    return sum(len(ids.get(name, ())) for name, _ in _LOOKUPS) + (1 if keys else 0) <= CHUNK


def _lookup_statements(ids: Mapping[str, Iterable[str]], scope: str) -> list[tuple[str, list[Any]]]:
    branches: list[tuple[str, Sequence[str]]] = [(_SETTINGS_LOOKUP, [])]
    for name, head in _LOOKUPS:
        for chunk in _chunks(sorted(ids.get(name, ())), CHUNK):
            branches.append((f"{head} IN ({', '.join('?' for _ in chunk)})", [scope, *chunk] if name == "keys" else chunk))
    statements: list[tuple[str, list[Any]]] = []
    while branches:
        sql, params = [], []
        while branches and (not sql or len(params) + len(branches[0][1]) <= CHUNK):
            text, values = branches.pop(0)
            sql.append(text)
            params += values
        statements.append((" UNION ALL ".join(sql), params))
    return statements


async def insert_events(conn: Connection, scope: str, events: Sequence[tuple[str, str, str, str]], occurred_at: datetime | Sequence[datetime],
                        created_at: datetime) -> dict[str, int]:
    """Events (key, digest, type, encoded payload) of one key scope, reported at `occurred_at`
    (one time for all, or one per event); returns their ids by key."""
    ids: dict[str, int] = {}
    times = [occurred_at] * len(events) if isinstance(occurred_at, datetime) else list(occurred_at)
    for start, chunk in _numbered_chunks(events, CHUNK):
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        params = [v for i, e in enumerate(chunk, start) for v in (scope, *e, times[i], created_at)]
        insert = f"INSERT INTO event (scope, key, digest, type, payload, occurred_at, created_at) VALUES {marks}"
        if dialect(conn) == "mysql":  # no RETURNING in MySQL 8: read the ids back by the unique (scope, key)
            await execute(conn, insert, params)
            rows = await fetch(conn, f"SELECT id, key FROM event WHERE scope = ? AND key IN ({', '.join('?' for _ in chunk)})", [scope, *(e[0] for e in chunk)])
        else:
            rows = await fetch(conn, f"{insert} RETURNING id, key", params)
        ids.update({r["key"]: int(r["id"]) for r in rows})
    return ids


# PostgreSQL: a call's accepted events, its new orders and their lines and its missing queues in
# one statement of fixed text (one array per column, unnested): one round trip and one prepared
# plan whatever the call's size. The events get their ids in the order given (ORDER BY the
# ordinality), as the multi-row INSERT gives them; a queue row is inserted only when the
# statement's snapshot has none (as `ensure_queues`: no wait on a row a settlement batch updates).
_WRITE_NEW = """
WITH ev AS (
  INSERT INTO event (scope, key, digest, type, payload, occurred_at, created_at)
  SELECT $1, u.key, u.digest, u.type, CAST(u.payload AS jsonb), u.occurred_at, $7
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) WITH ORDINALITY AS u(key, digest, type, payload, occurred_at, n)
  ORDER BY u.n
  RETURNING id, key
), od AS (
  INSERT INTO "order" (id, member_id, channel, store_id, cashier_id, profit_fen, amount_fen, status, paid_at, completed_at, refunded_at, region, member_level)
  SELECT u.id, u.member_id, u.channel, u.store_id, u.cashier_id, u.profit_fen, u.amount_fen, u.status, u.paid_at, u.completed_at, u.refunded_at, u.region,
         (SELECT m.level FROM member m WHERE m.id = u.member_id)
  FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[], $14::int8[], $15::text[], $16::timestamptz[], $17::timestamptz[],
              $18::timestamptz[], $19::text[]) WITH ORDINALITY
       AS u(id, member_id, channel, store_id, cashier_id, profit_fen, amount_fen, status, paid_at, completed_at, refunded_at, region, n)
  ORDER BY u.n
), ln AS (
  INSERT INTO order_line (order_id, "index", product_id, quantity, paid_fen, deduction_fen, queue_id, refunded, extracted, cancelled)
  SELECT u.order_id, u.i, u.product_id, u.quantity, u.paid_fen, u.deduction_fen, u.queue_id, u.refunded, FALSE, FALSE
  FROM unnest($20::text[], $21::int4[], $22::text[], $23::int4[], $24::int8[], $25::int8[], $26::text[], $27::bool[]) WITH ORDINALITY
       AS u(order_id, i, product_id, quantity, paid_fen, deduction_fen, queue_id, refunded, n)
  ORDER BY u.n
), qu AS (
  INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at)
  SELECT u.id, u.model, 1, 0, 0, 0, CAST('{}' AS jsonb), CURRENT_TIMESTAMP FROM unnest($28::text[], $29::text[]) AS u(id, model)
  WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = u.id) ORDER BY u.id
  ON CONFLICT (id) DO NOTHING
)
SELECT id, key FROM ev"""
_ADD_ITEMS = ("INSERT INTO inbox_item (queue_id, event_id, status, attempts, created_at) SELECT u.queue_id, u.event_id, 'PENDING', 0, CURRENT_TIMESTAMP "
              "FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS u(queue_id, event_id, n) ORDER BY u.n")


def writes_new_in_one_statement(conn: Connection) -> bool:
    """Whether `insert_new` is one statement on this connection (PostgreSQL); elsewhere a call writes
    its events, orders and queues with `insert_events`, `insert_orders` and `ensure_queues`."""
    return dialect(conn) == "postgres"


async def insert_new(conn: Connection, scope: str, events: Sequence[tuple[str, str, str, str]], occurred_at: Sequence[datetime], created_at: datetime,
                     orders: Sequence[Sequence[Any]], lines: Sequence[Sequence[Any]], queues: Mapping[str, str]) -> dict[str, int]:
    """PostgreSQL: what `insert_events`, `insert_orders` and `ensure_queues` write, in one statement
    (same arguments); returns the events' ids by key."""
    columns = [list(c) for c in zip(*events, strict=True)] if events else [[]] * 4
    order_columns = [list(c) for c in zip(*orders, strict=True)] if orders else [[]] * 12
    line_columns = [list(c) for c in zip(*lines, strict=True)] if lines else [[]] * 8
    missing = sorted(queues.items())
    params = [scope, *columns, list(occurred_at), created_at, *order_columns, *line_columns, [q for q, _ in missing], [m for _, m in missing]]
    return {r["key"]: int(r["id"]) for r in await fetch(conn, _WRITE_NEW, params)}


async def insert_orders(conn: Connection, orders: Sequence[Sequence[Any]], lines: Sequence[Sequence[Any]]) -> None:
    """New orders (id, member_id, channel, store_id, cashier_id, profit_fen, amount_fen, status,
    paid_at, completed_at, refunded_at, region) and their lines (order_id, index, product_id, quantity,
    paid_fen, deduction_fen, queue_id, refunded). Each order records its member's level as the
    member row has it in this transaction (M-2: the level at the time of the order)."""
    await execute_many(
        conn, 'INSERT INTO "order" (id, member_id, channel, store_id, cashier_id, profit_fen, amount_fen, status, paid_at, completed_at, refunded_at, region, '
        "member_level) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT level FROM member WHERE member.id = ?))", [(*o, o[1]) for o in orders],
    )
    await execute_many(
        conn, 'INSERT INTO order_line (order_id, "index", product_id, quantity, paid_fen, deduction_fen, queue_id, refunded, extracted, cancelled) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, FALSE, FALSE)", lines,
    )


async def update_orders(conn: Connection, completed: Sequence[Sequence[Any]], refunded: Sequence[Sequence[Any]], refunded_lines: Sequence[Sequence[Any]]) -> None:
    """Stored orders completed (status, completed_at, id) or refunded (status, refunded_at, id),
    and stored lines refunded (order_id, index)."""
    await execute_many(conn, 'UPDATE "order" SET status = ?, completed_at = ? WHERE id = ?', completed)
    await execute_many(conn, 'UPDATE "order" SET status = ?, refunded_at = ? WHERE id = ?', refunded)
    await execute_many(conn, 'UPDATE order_line SET refunded = TRUE WHERE order_id = ? AND "index" = ?', refunded_lines)


async def add_spend(conn: Connection, rows: Sequence[tuple[str, str, str, int]]) -> None:
    """QR-11: add (member, scope, local day, fen) to the per-day completed spend; callers pass the
    rows in key order so that concurrent writers never deadlock."""
    await execute_many(conn, UPSERT_SPEND, rows)


async def ensure_queues(conn: Connection, queues: Mapping[str, str]) -> None:
    """Create the missing queue rows (id → model). Only missing ones are inserted: ON CONFLICT on a
    row that a settlement batch is updating would wait for that batch to commit."""
    known = {r["id"] for r in await select_in(conn, "SELECT id FROM queue WHERE id", list(queues))}
    await execute_many(
        conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES (?, ?, 1, 0, 0, 0, '{}', CURRENT_TIMESTAMP) "
        "ON CONFLICT (id) DO NOTHING", [(q, model) for q, model in sorted(queues.items()) if q not in known],
    )


async def add_inbox_items(conn: Connection, items: Sequence[tuple[str, int]]) -> None:
    """PENDING inbox items (queue_id, event_id), their ids in this order (PostgreSQL: one statement)."""
    if dialect(conn) == "postgres":
        if items:
            await execute(conn, _ADD_ITEMS, [[q for q, _ in items], [e for _, e in items]])
        return
    await execute_many(conn, INSERT_ITEM, items)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for _, chunk in _numbered_chunks(items, size):
        yield chunk


def _numbered_chunks(items: Sequence[Any], size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    """The chunks with the index of their first item."""
    for start in range(0, len(items), size):
        yield start, items[start:start + size]
