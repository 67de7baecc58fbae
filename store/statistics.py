"""Planner statistics of the project's tables (PostgreSQL): which have changed enough since their
last ANALYZE, and ANALYZE them.

Why: PostgreSQL plans with per-column statistics that only ANALYZE gathers. A table that was never
analyzed is planned with default selectivities: `scope = ''` on `event` looks selective, so the
intake's key lookup reads every event of the scope by that column alone, and `id = ANY(…)` on
`"order"` or `order_line` looks like a sequential scan's work; the cost of such a lookup then grows
with the table, whatever the plan cache does. Autovacuum analyzes a table once 50 + 10 % of its rows
have changed; a server without it (or with it off for these tables) never does. The same rule
here keeps a rebate database planned well on either; where autovacuum runs, it has usually done it
first and nothing is stale. MySQL / MariaDB (InnoDB recalculates persistent statistics after 10 %
of a table changes) and SQLite (its planner prefers an index without statistics) need nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise import Tortoise

from store.db import Connection, default
from store.sql import dialect, execute, fetch

THRESHOLD = 50  # rows changed since the last ANALYZE, plus SCALE × the rows the last one counted (autovacuum's defaults)
SCALE = 0.1


def project_tables() -> list[str]:
    """The tables of the project's models (the migrations' own bookkeeping table is not read on a hot path)."""
    return sorted({m._meta.db_table for app in Tortoise.apps.values() for m in app.values()})


async def stale_tables(tables: Sequence[str], conn: Connection | None = None) -> list[str]:
    """Of these tables (of the current schema), those changed by at least THRESHOLD + SCALE × their
    last counted rows since their last ANALYZE (never analyzed: since they were created), most changed first;
    none on a database other than PostgreSQL."""
    conn = conn or default()
    if dialect(conn) != "postgres" or not tables:
        return []
    rows = await fetch(
        conn, "SELECT s.relname AS name FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        f"WHERE s.schemaname = current_schema() AND s.relname = ANY(?) AND s.n_mod_since_analyze >= {THRESHOLD} + {SCALE} * GREATEST(c.reltuples, 0) "
        "ORDER BY s.n_mod_since_analyze DESC, s.relname", [list(tables)],
    )
    return [str(r["name"]) for r in rows]


async def analyze(table: str, conn: Connection | None = None) -> None:
    """ANALYZE one table (outside a transaction; a table another session is analyzing is skipped,
    the next round finds it again if it is still stale)."""
    conn = conn or default()
    quoted = table.replace('"', '""')
    await execute(conn, f'ANALYZE (SKIP_LOCKED) "{quoted}"')
