"""消费增值 per-order cost against the number of holders (a script, not a test; CA-4).

    .venv/bin/python -m bench.appreciation [--holders 1000 1000000] [--orders 2000] [--rounds 3] [--database URL]

For each size it empties its own PostgreSQL database (bench/common.py), seeds that many holders
with one set-based INSERT … SELECT over generate_series (their points, spend, cost-per-point key
and wallet balances; the pool state to match, price 2.00, nobody near an exit), records the
orders (paid and completed) through intake, then times only their settlement through the real
`ca` batch handler (`settle_all`): the best of a few rounds after one to warm up. Per order that is one holder read, one index range scan of the
price change (normally empty) and the writes. It prints the per-order time of each size and the
ratio of the largest to the smallest, which must stay ≤ 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from rich.console import Console
from tortoise import connections

from bench.common import add_arguments, bench_environment, fresh_database
from services import intake, queries
from services.catalog import set_settings
from services.replay import settle_all
from store.sql import execute

NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)
BUYERS = 200
console = Console()


async def seed(holders: int) -> None:
    """`holders` holders of 100.00 points each, spend 1000.00 + (g mod 1000), and the pool at 2.00."""
    conn = connections.get("default")
    await execute(conn, "INSERT INTO appreciation_holder (member_id, points_fen, spend_fen, started_at, participation, cost_micro) "
                        "SELECT 'h' || g, 10000, 100000 + (g % 1000) * 100, TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL '1 second', 1, "
                        "(100000 + (g % 1000) * 100) * 1000000 / 10000 FROM generate_series(1, ?::bigint) AS g", (holders,))
    circulating = holders * 10000
    await execute(conn, "INSERT INTO transfer (key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at) "
                        "SELECT 'bench:h' || g || ':mint', 'platform:issued:appreciation', 'member:h' || g || ':APPRECIATION_POINTS', 'APPRECIATION_POINTS', "
                        "10000, 'mint', NULL, 'ca', CURRENT_TIMESTAMP FROM generate_series(1, ?::bigint) AS g", (holders,))
    await execute(conn, "INSERT INTO transfer (key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at) "
                        "VALUES ('bench:pool', 'platform:expense:appreciation', 'pool:ca', 'CNY', ?, 'contribution', NULL, 'ca', CURRENT_TIMESTAMP)", (2 * circulating,))
    await execute(conn, "INSERT INTO balance (account, asset, amount_fen) SELECT account, asset, SUM(delta) FROM ("
                        "SELECT target AS account, asset, amount_fen AS delta FROM transfer UNION ALL "
                        "SELECT source AS account, asset, -amount_fen AS delta FROM transfer) m GROUP BY account, asset")
    state = f'{{"pool": "{2 * holders * 100}.00", "circulating": "{holders * 100}.00", "last_pool": "{2 * holders * 100}.00", "last_circulating": "{holders * 100}.00"}}'
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('ca', 'appreciation', 1, 0, ?, 0, ?, CURRENT_TIMESTAMP)",
                  (2 * circulating, state))
    await execute(conn, "INSERT INTO member (id, created_at) SELECT 'b' || g, CURRENT_TIMESTAMP FROM generate_series(1, ?::bigint) AS g", (BUYERS,))
    await execute(conn, "INSERT INTO product (id, source, listed, queue_rebate) VALUES ('P1', 'SELF_OPERATED', TRUE, '{}')")
    await execute(conn, "ANALYZE")
    await set_settings("appreciation", {"enabled": True}, NOW)


async def per_order(holders: int, orders: int, rounds: int) -> float:
    """Seconds per order of the settlement alone, with `holders` holders: the best of `rounds`
    rounds of `orders` orders each, after one round to warm up."""
    await seed(holders)
    times = []
    for r in range(rounds + 1):
        events = []
        for i in range(orders):
            o = f"o{r}-{i}"
            events += [{"type": "order.paid", "key": f"{o}:paid", "order": o, "member": f"b{i % BUYERS + 1}", "channel": "MALL",
                        "lines": [{"product": "P1", "quantity": 1, "paid": "100.00"}]},
                       {"type": "order.completed", "key": f"{o}:completed", "order": o}]
        for start in range(0, len(events), 1000):
            await intake.record_many(events[start:start + 1000], NOW)
        t0 = time.perf_counter()
        await settle_all()
        times.append((time.perf_counter() - t0) / orders)
    assert await queries.is_zero_sum()
    return min(times[1:])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holders", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    add_arguments(parser)
    args = parser.parse_args()
    async with bench_environment(args) as url:
        if not url.startswith("postgres"):
            raise SystemExit("the appreciation benchmark runs on PostgreSQL")
        results = {}
        for n in args.holders:
            await fresh_database(url)
            t0 = time.perf_counter()
            results[n] = await per_order(n, args.orders, args.rounds)
            took = time.perf_counter() - t0
            console.print(f"{n:>9,} holders: {results[n] * 1000:.2f} ms per order (best of {args.rounds} rounds of {args.orders:,} orders; seed + run {took:.1f}s)")
        low, high = min(args.holders), max(args.holders)
        console.print(f"ratio {high:,} / {low:,} holders: {results[high] / results[low]:.2f} (must be ≤ 1.2)")


if __name__ == "__main__":
    asyncio.run(main())
