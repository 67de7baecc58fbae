"""The worker's statistics keeper (services/statistics.py): on PostgreSQL a table that grew since its
last ANALYZE is analyzed, after which the intake's lookups use their indexes as the table grows;
elsewhere nothing is done."""

import asyncio

import asyncpg
import pytest

from services.statistics import enabled, keep_statistics
from store import db
from store import statistics as store
from store.sql import execute, fetch

pytestmark = pytest.mark.usefixtures("db")
ROWS = 5000


async def _grow(database: str) -> None:
    """ROWS events of one key scope (with payloads of a real report's size) and ROWS orders, written by a connection of their own
    whose table statistics are flushed at once (the keeper reads the server's cumulative statistics)."""
    conn = await asyncpg.connect(database.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(
            "INSERT INTO event (scope, key, digest, type, payload, occurred_at, created_at) "
            "SELECT '', 'k' || n || ':paid', 'd', 'order.paid', jsonb_build_object('pad', repeat('x', 300)), now(), now() FROM generate_series(1, $1) AS n", ROWS)
        await conn.execute(
            'INSERT INTO "order" (id, member_id, channel, profit_fen, amount_fen, status, paid_at) '
            "SELECT 'o' || n, 'M1', 'MALL', 0, 100, 'PAID', now() FROM generate_series(1, $1) AS n", ROWS)
        await conn.execute("SELECT pg_stat_force_next_flush()")
    finally:
        await conn.close()


async def _plan(sql: str, params: list[object]) -> str:
    return "\n".join(r["QUERY PLAN"] for r in await fetch(db.default(), f"EXPLAIN {sql}", params))


async def test_a_grown_table_is_analyzed_and_its_lookups_then_use_their_indexes(database: str):
    if not database.startswith("postgres"):
        await execute(db.default(), "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('q', 'm', 1, 0, 0, 0, '{}', CURRENT_TIMESTAMP)")
        assert await store.stale_tables(store.project_tables()) == []
        assert await keep_statistics() == []  # InnoDB and SQLite keep their own; nothing is run
        return
    await _grow(database)
    for _ in range(50):  # the server's statistics reach other sessions once flushed
        stale = await store.stale_tables(store.project_tables())
        if {"event", "order"} <= set(stale):
            break
        await asyncio.sleep(0.1)
    assert {"event", "order"} <= set(stale)
    assert "tortoise_migrations" not in store.project_tables()

    analyzed = await keep_statistics()
    assert {"event", "order"} <= set(analyzed)
    rows = await fetch(db.default(), "SELECT relname, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname IN ('event', 'order')")
    assert {r["relname"]: r["analyzed"] for r in rows} == {"event": True, "order": True}
    assert not {"event", "order"} & set(await store.stale_tables(store.project_tables()))  # nothing more to do until they change again

    keys = [f"k{n}:paid" for n in range(1, 51)]  # a group's keys: found by the unique (scope, key) index, not by the scope alone
    plan = await _plan("SELECT id FROM event WHERE scope = ? AND key = ANY(?)", ["", keys])
    assert "Index Cond: (((scope)::text = ''::text) AND ((key)::text = ANY" in plan, plan
    plan = await _plan('SELECT id FROM "order" WHERE id = ANY(?)', [[f"o{n}" for n in range(1, 17)]])
    assert "Seq Scan" not in plan and "order_pkey" in plan, plan


def test_the_keeper_is_on_unless_turned_off():
    assert enabled({}) and enabled({"REBATE_KEEP_STATISTICS": "ON "}) and not enabled({"REBATE_KEEP_STATISTICS": "off"})
    with pytest.raises(ValueError, match="REBATE_KEEP_STATISTICS"):
        enabled({"REBATE_KEEP_STATISTICS": "sometimes"})
