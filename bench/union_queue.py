"""Union queue daily settlement at scale (a script, not a test; issue: 1 000 000 WAITING).

    .venv/bin/python -m bench.union_queue [--waiting 1000000] [--database URL]

It works on a database of its own (created on the server of BENCH_POSTGRES_URL or DATABASE_URL,
dropped after); --database names an existing one to WIPE instead (bench/common.py). It inserts N WAITING union-queue entitlements of
100.00 each with a pool that pays half of them, runs the day's settlement through the same
batch job the worker runs (streamed in chunks, one fenced transaction each), and prints the time,
the chunks, the peak memory of the process, and that a second run of the same day pays nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime

from rich.console import Console
from tortoise import connections

from bench.common import add_arguments, bench_environment, fresh_database
from domain.ledger import Asset, transfer
from domain.money import from_fen
from domain.union_queue import FUNDING, LIABILITY, POOL, PROMISED
from services import queries
from services.catalog import set_settings
from services.intake import record
from services.replay import daily_settlement_event, settle_all
from services.union_queue import CHUNK
from store.ledger import write_postings
from store.sql import execute, execute_many, fetch

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
console = Console()


async def seed(waiting: int) -> None:
    conn = connections.get("default")
    await execute(conn, "INSERT INTO member (id, created_at) VALUES ('M', CURRENT_TIMESTAMP)")
    step = 50_000
    for start in range(0, waiting, step):
        rows = [(f"u{i}", i + 1, f"u{i}", NOW) for i in range(start, min(waiting, start + step))]
        await execute_many(
            conn,
            "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, ratio, "
            "ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) VALUES (?, 'union_queue', 'uq', ?, 'M', ?, 0, 10000, 0, 'WAITING', TRUE, "
            "'0', 'bench', 0, 0, '', '', ?)", rows)
        console.print(f"  seeded {min(waiting, start + step):,}", end="\r")
    pool_fen = waiting // 2 * 10000
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('uq', 'union_queue', 1, ?, ?, 0, '{}', CURRENT_TIMESTAMP)",
                  (waiting, pool_fen))
    # the pool's money and the promises are on the ledger like any other (C-5)
    seed = transfer("bench:seed:pool", FUNDING, POOL, from_fen(pool_fen), Asset.CNY, "bench seed")
    seed += transfer("bench:seed:promised", PROMISED, LIABILITY, from_fen(waiting * 10000), Asset.ENTITLEMENT, "bench seed")
    await write_postings(conn, [(p, None) for p in seed], "uq", NOW)
    await set_settings("union_queue", {"enabled": True})


async def completed() -> int:
    rows = await fetch(connections.get("default"), "SELECT COUNT(*) AS n FROM entitlement WHERE queue_id = 'uq' AND status = 'COMPLETED'")
    return int(rows[0]["n"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=1_000_000)
    add_arguments(parser)
    args = parser.parse_args()
    async with bench_environment(args) as url:
        await fresh_database(url)
        await settle_day(args.waiting)


async def settle_day(waiting: int) -> None:
    t0 = time.perf_counter()
    await seed(waiting)
    console.print(f"seeded {waiting:,} WAITING entitlements in {time.perf_counter() - t0:.1f}s")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    await record(daily_settlement_event(NOW), NOW)
    await settle_all()
    elapsed = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    paid = await completed()
    pools = await queries.pools()
    await record(daily_settlement_event(NOW), NOW)
    await settle_all()
    again = await completed()
    console.print(f"daily settlement: {paid:,} of {waiting:,} paid in {elapsed:.1f}s ({paid / elapsed:,.0f}/s), "
                  f"chunks of {CHUNK:,}, pool left {pools['uq']}")
    console.print(f"peak RSS {rss_before / 1024:.0f} MiB after seeding, {rss_after / 1024:.0f} MiB after the settlement; "
                  f"same day again: {again - paid} more paid; zero-sum: {await queries.is_zero_sum()}")


if __name__ == "__main__":
    asyncio.run(main())
