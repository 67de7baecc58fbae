"""store.sql writes its SQL once for every database: a `?` inside a string literal or a quoted
identifier is text, not a parameter; and the MySQL dialect keeps what the others mean."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from store import db
from store.config import tortoise_config
from store.sql import COPY_ROWS, execute, fetch, fetch_rows, insert_rows, update_rows

pytestmark = pytest.mark.usefixtures("db")


async def test_a_question_mark_in_a_string_literal_is_not_a_placeholder():
    rows = await fetch(db.default(), "SELECT 'why?' AS asked, ? AS first, 'it''s ?' AS quoted, ? AS second", ["a", "b"])
    assert rows == [{"asked": "why?", "first": "a", "quoted": "it's ?", "second": "b"}]


async def test_a_question_mark_in_a_quoted_identifier_is_not_a_placeholder():
    rows = await fetch(db.default(), 'SELECT ? AS "who?", ? AS plain', ["a", "b"])
    assert rows == [{"who?": "a", "plain": "b"}]


async def test_the_dialect_keeps_percent_signs_backslashes_reserved_columns_and_upserts():
    conn = db.default()
    rows = await fetch(conn, "SELECT 'pool:%' AS pattern, ? AS value, 'a\\b' AS slash, CAST(7 AS TEXT) AS text", ["50%"])
    assert rows == [{"pattern": "pool:%", "value": "50%", "slash": "a\\b", "text": "7"}]
    await execute(conn, "INSERT INTO job_run (job, day, status, cursor, state, started_at) VALUES (?, ?, 'ARMED', 0, '{}', CURRENT_TIMESTAMP) "
                        "ON CONFLICT (job, day) DO NOTHING", ("j", "d"))
    await execute(conn, "INSERT INTO job_run (job, day, status, cursor, state, started_at) VALUES (?, ?, 'RUNNING', 5, '{}', CURRENT_TIMESTAMP) "
                        "ON CONFLICT (job, day) DO NOTHING", ("j", "d"))
    assert await fetch(conn, "SELECT status, cursor FROM job_run WHERE job = ?", ("j",)) == [{"status": "ARMED", "cursor": 0}]
    upsert = ("INSERT INTO balance (account, asset, amount_fen) VALUES (?, ?, ?) "
              "ON CONFLICT (account, asset) DO UPDATE SET amount_fen = balance.amount_fen + excluded.amount_fen")
    await execute(conn, upsert, ("a", "CNY", 5))
    await execute(conn, upsert, ("a", "CNY", 7))
    assert await fetch(conn, "SELECT amount_fen FROM balance WHERE account = 'a'") == [{"amount_fen": 12}]


async def test_an_update_that_changes_nothing_still_counts_its_row():
    """The fence reads an UPDATE's row count: a row matched but left as it was still counts (MySQL
    counts changed rows unless the connection asks for matched ones)."""
    conn = db.default()
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('q', 'm', 1, 0, 0, 3, '{}', CURRENT_TIMESTAMP)")
    assert await execute(conn, "UPDATE queue SET head = ? WHERE id = ? AND version = ?", (1, "q", 3)) == 1


async def test_keys_and_ids_compare_exactly():
    """Case and accents count, on every database (MySQL: the tables are utf8mb4_bin)."""
    conn = db.default()
    for account in ("Ab", "ab", "áb"):
        await execute(conn, "INSERT INTO balance (account, asset, amount_fen) VALUES (?, 'CNY', 1)", (account,))
    assert [r["account"] for r in await fetch(conn, "SELECT account FROM balance WHERE account = ?", ("ab",))] == ["ab"]


async def test_a_datetime_comes_back_as_the_same_instant():
    conn = db.default()
    when = datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))  # 00:30 UTC
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('t', 'm', 1, 0, 0, 0, '{}', ?)", (when,))
    stored = (await fetch(conn, "SELECT updated_at FROM queue WHERE id = 't'"))[0]["updated_at"]
    stored = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
    assert (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == when


async def test_postgres_sessions_plan_each_execution_for_its_parameters_and_the_tables_as_they_are(database: str):
    """A statement prepared while its tables were empty must not keep that plan as they grow
    (store.config.POSTGRES_SETTINGS); the other databases get no such setting."""
    connection = tortoise_config(database)["connections"]["default"]
    if not database.startswith("postgres"):
        assert "server_settings" not in (connection.get("credentials", {}) if isinstance(connection, dict) else {})
        return
    assert connection["credentials"]["server_settings"] == {"plan_cache_mode": "force_custom_plan"}
    conn = db.default()
    modes = await asyncio.gather(*(fetch(conn, "SELECT current_setting('plan_cache_mode') AS mode, pg_sleep(0.05) IS NULL AS slept") for _ in range(3)))
    assert [m[0]["mode"] for m in modes] == ["force_custom_plan"] * 3  # every pooled connection


def _utc(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@pytest.mark.parametrize(("count", "typed"), [(3, False), (3, True), (COPY_ROWS + 5, False)])
async def test_insert_rows_writes_every_row_and_refuses_a_duplicate_key(count: int, typed: bool):
    """A few rows go through executemany, or with their columns' types through one INSERT over
    arrays; many through COPY on PostgreSQL: the same rows each way, and a key already there fails
    the transaction with IntegrityError."""
    when = datetime(2026, 3, 1, 2, tzinfo=UTC)
    columns: Any = ("key", "source", "target", "asset", "amount_fen", "memo", "event_id", "queue_id", "created_at")
    if typed:
        columns = dict(zip(columns, ["text"] * 4 + ["bigint", "text", "bigint", "text", "timestamptz"], strict=True))
    rows = [(f"k{i}", "pool:uq", f"member:M{i}:CASH", "CNY", 100 + i, "pay", None, "uq", when) for i in range(count)]
    async with db.writing() as conn:
        await insert_rows(conn, "transfer", columns, rows)
    stored = await fetch(db.default(), "SELECT key, target, amount_fen, event_id, created_at FROM transfer ORDER BY id")
    assert [{k: v for k, v in r.items() if k != "created_at"} for r in stored] == [
        {"key": f"k{i}", "target": f"member:M{i}:CASH", "amount_fen": 100 + i, "event_id": None} for i in range(count)]  # in order
    assert {_utc(r["created_at"]) for r in stored} == {when}
    with pytest.raises(db.IntegrityError):
        async with db.writing() as conn:
            await insert_rows(conn, "transfer", columns, [(f"new{i}", *row[1:]) for i, row in enumerate(rows[1:])] + [rows[0]])
    assert len(await fetch(db.default(), "SELECT key FROM transfer")) == count  # the failed transaction wrote nothing


@pytest.mark.parametrize("count", [1, 3])
async def test_update_rows_keeps_a_column_of_keep_if_null_where_the_new_value_is_none(count: int):
    conn = db.default()
    for i in range(3):
        await execute(conn, "INSERT INTO balance (account, asset, amount_fen) VALUES (?, 'CNY', ?)", (f"a{i}", i + 1))
    ids = {r["account"]: r["id"] for r in await fetch(conn, "SELECT id, account FROM balance")}
    new = [(None, "X0"), (11, "X1"), (None, "X2")][:count]
    async with db.writing() as tx:
        await update_rows(tx, "balance", "id", {"amount_fen": "bigint", "asset": "text"}, [(*v, ids[f"a{i}"]) for i, v in enumerate(new)],
                          keep_if_null=("amount_fen",))
    rows = await fetch_rows(conn, "SELECT account, asset, amount_fen FROM balance ORDER BY account")
    expected = [("a0", "X0", 1), ("a1", "X1", 11), ("a2", "X2", 3)][:count] + [("a1", "CNY", 2), ("a2", "CNY", 3)][count - 1:]
    assert [(r["account"], r["asset"], r["amount_fen"]) for r in rows] == expected


@pytest.mark.parametrize("count", [1, 7])
async def test_update_rows_sets_each_row_its_own_values(count: int):
    conn = db.default()
    for i in range(count + 1):
        await execute(conn, "INSERT INTO balance (account, asset, amount_fen) VALUES (?, 'CNY', 0)", (f"a{i}",))
    ids = {r["account"]: r["id"] for r in await fetch(conn, "SELECT id, account FROM balance")}
    async with db.writing() as tx:
        await update_rows(tx, "balance", "id", {"amount_fen": "bigint", "asset": "text"}, [(10 * i, f"X{i}", ids[f"a{i}"]) for i in range(count)])
    rows = await fetch_rows(conn, "SELECT account, asset, amount_fen FROM balance ORDER BY account")
    assert [(r["account"], r["asset"], r["amount_fen"]) for r in rows] == [(f"a{i}", f"X{i}", 10 * i) for i in range(count)] + [(f"a{count}", "CNY", 0)]


async def test_the_outstanding_count_follows_statements_of_many_rows():
    """I-5's count per queue (triggers on `entitlement`) after inserts, an update and a delete
    that each touch several entitlements of two queues in one statement."""
    conn = db.default()
    values = ", ".join(f"('k{i}', 'm', '{q}', {i}, 'M', 'o', 0, 100, 0, '{s}', TRUE, '0', '', 0, 0, '', '', CURRENT_TIMESTAMP)"
                       for i, (q, s) in enumerate([("q1", "WAITING"), ("q1", "WAITING"), ("q1", "COMPLETED"), ("q2", "ACTIVE"), ("q2", "WAITING")]))
    await execute(conn, "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, "
                        f"ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) VALUES {values}")

    async def counts() -> dict[str, int]:
        return {r["queue_id"]: int(r["outstanding"]) for r in await fetch(conn, "SELECT queue_id, outstanding FROM liability_count")}

    assert await counts() == {"q1": 2, "q2": 2}
    ids = {r["key"]: r["id"] for r in await fetch(conn, "SELECT id, key FROM entitlement")}
    async with db.writing() as tx:
        await update_rows(tx, "entitlement", "id", {"received_fen": "bigint", "status": "text"},
                          [(100, "COMPLETED", ids["k0"]), (100, "COMPLETED", ids["k3"]), (0, "WAITING", ids["k2"]), (50, "WAITING", ids["k4"])])
    assert await counts() == {"q1": 2, "q2": 1}
    await execute(conn, "UPDATE entitlement SET received_fen = received_fen + 1")  # no status moves: no count moves
    assert await counts() == {"q1": 2, "q2": 1}
    await execute(conn, "DELETE FROM entitlement WHERE queue_id = 'q1' OR key = 'k3'")
    assert await counts() == {"q1": 0, "q2": 1}
