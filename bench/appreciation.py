"""消费增值 per-order cost against the number of holders (a script, not a test; CA-4).

    .venv/bin/python -m bench.appreciation [--holders 1000 1000000] [--orders 2000] [--rounds 3] [--no-wallets] [--profile] [--database URL]

For each size it empties its own PostgreSQL database (bench/common.py), seeds that many holders
with one set-based INSERT … SELECT over generate_series (their points, spend, cost-per-point key
and wallet balances; the pool state to match, price 2.00, nobody near an exit), records the
orders (paid and completed) through intake, then times only their settlement through the real
`ca` batch handler (`settle_all`). Each size has a database of its own and the rounds run
interleaved, so the machine's load falls on every size alike: the best round of each after one
to warm up. Per order that is one holder read, the price change's range checked against the
lowest stored cost key (an index range scan only when it reaches one) and the writes. It prints
the per-order time of each size and the ratio of the largest to the smallest, which must stay
≤ 1.2. `--profile` times the settlement's statements per size (bench/statements.py) and prints
the costliest with their ratio and their EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import nullcontext
from datetime import UTC, datetime

import asyncpg
from rich.console import Console
from tortoise import connections

from bench.common import add_arguments, fresh_database, record_orders, sized_databases, use
from bench.statements import Statements, timed
from services import queries
from services.catalog import set_settings
from services.replay import settle_all
from store.sql import execute

NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)
BUYERS = 200
console = Console()


async def seed(holders: int, wallets: bool = True) -> None:
    """`holders` holders of 100.00 points each, spend 1000.00 + (g mod 1000), and the pool at 2.00;
    with `wallets`, each holder's points on the ledger as a transfer and a balance of its own, else
    one transfer for all of them (the ledger then stays small: the holder index alone grows)."""
    conn = connections.get("default")
    await execute(conn, "INSERT INTO appreciation_holder (member_id, points_fen, spend_fen, started_at, participation, cost_micro) "
                        "SELECT 'h' || g, 10000, 100000 + (g % 1000) * 100, TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL '1 second', 1, "
                        "(100000 + (g % 1000) * 100) * 1000000 / 10000 FROM generate_series(1, ?::bigint) AS g", (holders,))
    circulating = holders * 10000
    if wallets:
        await execute(conn, "INSERT INTO transfer (key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at) "
                            "SELECT 'bench:h' || g || ':mint', 'platform:issued:appreciation', 'member:h' || g || ':APPRECIATION_POINTS', 'APPRECIATION_POINTS', "
                            "10000, 'mint', NULL, 'ca', CURRENT_TIMESTAMP FROM generate_series(1, ?::bigint) AS g", (holders,))
    else:
        await execute(conn, "INSERT INTO transfer (key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at) VALUES "
                            "('bench:holders', 'platform:issued:appreciation', 'platform:bench:holders', 'APPRECIATION_POINTS', ?, 'mint', NULL, 'ca', CURRENT_TIMESTAMP)",
                      (circulating,))
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
    await execute(conn, "VACUUM ANALYZE")  # now, rather than an autovacuum of the seeded tables during the timing
    await set_settings("appreciation", {"enabled": True}, NOW)


async def one_round(tag: str, orders: int, profile: Statements | None = None) -> tuple[float, float]:
    """Record `orders` orders (paid, completed) through intake; seconds per order of their
    settlement, wall clock and this process's CPU (the handler's side, without PostgreSQL's).
    With `profile`, the settlement's statements are timed into it."""
    await record_orders(tag, orders, BUYERS, NOW)
    t0, c0 = time.perf_counter(), time.process_time()
    with timed(profile) if profile is not None else nullcontext():
        await settle_all()
    return (time.perf_counter() - t0) / orders, (time.process_time() - c0) / orders


async def measure(urls: dict[int, str], orders: int, rounds: int, wallets: bool, profile: bool = False) -> dict[int, tuple[float, float]]:
    """Seed each size in its own database, then run the rounds interleaved (size by size, round
    after round) so that the machine's load falls on every size alike; the best round of each
    after one to warm up. With `profile`, the statements of the timed rounds are timed per size and
    the costliest explained (EXPLAIN ANALYZE, BUFFERS; rolled back)."""
    for n, url in urls.items():
        await fresh_database(url)
        t0 = time.perf_counter()
        await seed(n, wallets)
        console.print(f"seeded {n:,} holders in {time.perf_counter() - t0:.1f}s")
    times: dict[int, list[tuple[float, float]]] = {n: [] for n in urls}
    profiles = {n: Statements() for n in urls}
    for r in range(rounds + 1):
        for n, url in urls.items():
            await use(url)
            times[n].append(await one_round(str(r), orders, profiles[n] if profile and r else None))
    for n, url in urls.items():
        await use(url)
        assert await queries.is_zero_sum()
        if profile:
            await explain(n, profiles[n], rounds * orders)
    if profile:
        report(profiles, rounds * orders)
    return {n: min(t[1:]) for n, t in times.items()}


def report(profiles: dict[int, Statements], orders: int) -> None:
    """µs per order of each costly statement, per size, and the ratio of the largest size to the smallest."""
    low, high = min(profiles), max(profiles)
    shapes = [k for k, _, _ in profiles[high].top(14)]
    for k in shapes:
        a, b = profiles[low].seconds.get(k, 0.0) / orders * 1e6, profiles[high].seconds[k] / orders * 1e6
        console.print(f"{a:8.1f} µs {b:8.1f} µs  ×{b / a if a else float('inf'):.2f}  calls {profiles[high].calls[k]:>6}  {k[:150]}", highlight=False)
    total = [sum(profiles[n].seconds.values()) / orders * 1e6 for n in (low, high)]
    console.print(f"statements in all: {total[0]:.1f} µs vs {total[1]:.1f} µs per order", highlight=False)


async def explain(size: int, profile: Statements, orders: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the costliest statements with a sample of their arguments,
    each in a transaction rolled back."""
    pool = connections.get("default")._pool  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        for k, seconds, calls in profile.top(8):
            sql, args = profile.sample[k]
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                continue
            tr = conn.transaction()
            await tr.start()
            try:
                plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)]
            except asyncpg.PostgresError as exc:  # a unique key the sample already wrote: the plan without running it
                await tr.rollback()
                tr = conn.transaction()
                await tr.start()
                plan = [f"(not run: {type(exc).__name__})", *(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))]
            finally:
                await tr.rollback()
            console.print(f"[{size:,}] {seconds / orders * 1e6:.1f} µs per order, {calls} calls: {k[:160]}", highlight=False)
            console.print("\n".join("    " + line for line in plan), highlight=False, soft_wrap=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holders", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-wallets", action="store_true", help="seed the holders without a ledger account each (isolates the holder index)")
    parser.add_argument("--profile", action="store_true", help="time the settlement's statements per size and explain the costliest")
    add_arguments(parser)
    args = parser.parse_args()
    async with sized_databases(args, args.holders, "appreciation") as urls:
        results = await measure(urls, args.orders, args.rounds, not args.no_wallets, args.profile)
        for n, (wall, cpu) in results.items():
            console.print(f"{n:>9,} holders: {wall * 1000:.2f} ms per order, {cpu * 1000:.2f} ms of it the handler's CPU "
                          f"(best of {args.rounds} interleaved rounds of {args.orders:,} orders)")
        low, high = min(args.holders), max(args.holders)
        console.print(f"ratio {high:,} / {low:,} holders: {results[high][0] / results[low][0]:.2f} (must be ≤ 1.2); "
                      f"handler CPU {results[high][1] / results[low][1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
