"""Resolving a reward ratio does not scan a member's history (issue: QR-10/QR-11 with all settings on).

    .venv/bin/python -m bench.ratio [--database URL]

It works on a database of its own (created on the server of BENCH_POSTGRES_URL or DATABASE_URL,
dropped after); --database names an existing one to WIPE instead (bench/common.py).

A product with member-level ratios, cumulative tiers (30 d / 60 d windows), a lottery, limits
and random return; member M0 has N prior completed orders (and their per-day spend row, all on
one day), either older than every window (history) or inside the 60-day window; then 300 new
orders of M0 are settled and the per-order cost is printed for N = 1 000 and 100 000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from tortoise import connections

from bench.common import add_arguments, bench_environment, fresh_database
from services import intake
from services.replay import Replay, settle_all
from services.runtime import platform_zone
from store.sql import execute_many

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
console = Console()
SETTINGS = {"enabled": True, "extraction_ratio": "10", "reward_ratio": "100", "member_level_ratios": {"gold": "120"},
            "lottery": {"mode": "FIXED", "ratios": ["10", "20"]}, "random_return": {"enabled": True, "cash_count": 4, "points_count": 1},
            "exchange_ratio": "150"}
PRODUCT = {"enabled": True, "cumulative_tiers": [{"window_days": 30, "threshold": "2000.00", "ratio": "50"},
                                                  {"window_days": 60, "threshold": "10000.00", "ratio": "100"}],
           "max_per_member_per_day": 100_000, "max_per_member_total": 1_000_000}


async def setup(prior: int, in_window: bool) -> None:
    await fresh_database(os.environ["DATABASE_URL"])
    replay = Replay(now=NOW)
    for e in ({"type": "settings", "model": "queue_rebate", "values": SETTINGS}, {"type": "member", "id": "M0"},
              {"type": "product", "id": "P1", "source": "SELF_OPERATED", "queue_rebate": PRODUCT}):
        await replay.apply(e)
    when = NOW - (timedelta(days=20) if in_window else timedelta(days=400))
    conn = connections.get("default")
    for start in range(0, prior, 20_000):
        ids = range(start, min(prior, start + 20_000))
        await execute_many(conn, 'INSERT INTO "order" (id, member_id, channel, amount_fen, status, paid_at, completed_at) '
                           "VALUES (?, 'M0', 'MALL', 10000, 'COMPLETED', ?, ?)", [(f"h{i}", when, when) for i in ids])
        await execute_many(conn, 'INSERT INTO order_line (order_id, "index", product_id, quantity, paid_fen, deduction_fen, queue_id, refunded, extracted, '
                           "cancelled) VALUES (?, 0, 'P1', 1, 10000, 0, NULL, FALSE, FALSE, FALSE)", [(f"h{i}",) for i in ids])
    # what intake keeps for them (QR-11): every prior order completed on one local day, one row
    day = when.astimezone(platform_zone()).date().isoformat()
    await execute_many(conn, "INSERT INTO member_spend_day (member_id, scope, day, amount_fen) VALUES ('M0', 'mall', ?, ?)", [(day, prior * 10000)])


async def per_order(prior: int, in_window: bool, orders: int = 300) -> float:
    await setup(prior, in_window)
    events = [{"type": "order.paid", "key": f"n{i}:paid", "order": f"n{i}", "member": "M0", "channel": "MALL",
               "lines": [{"product": "P1", "quantity": 1, "paid": "100.00"}]} for i in range(orders)]
    await intake.record_many(events, NOW)
    t0 = time.perf_counter()
    await settle_all()
    return (time.perf_counter() - t0) / orders


async def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    async with bench_environment(parser.parse_args()):
        await figures()


async def figures() -> None:
    table = Table("member's prior completed orders", "where", "ms per settled order", title="Ratio resolution with every setting on")
    for in_window in (False, True):
        costs = {}
        for prior in (1_000, 100_000):
            costs[prior] = await per_order(prior, in_window)
            table.add_row(f"{prior:,}", "inside the 60-day window" if in_window else "older than every window", f"{costs[prior] * 1000:.2f}")
        table.add_row("ratio 100 000 / 1 000", "", f"{costs[100_000] / costs[1_000]:.2f}")
    console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
