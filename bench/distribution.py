"""分销 per-order cost against the depth of the referral chain (a script, not a test; DR-2, ADR 0008).

    .venv/bin/python -m bench.distribution [--depths 10 10000] [--orders 1000] [--rounds 5] [--stand-in]

For each depth it empties its own PostgreSQL database (bench/common.py) and seeds, set-based, a
chain that deep (members by INSERT … SELECT over generate_series, tree nodes with their jump
pointers in one executemany) with one settled 1.00 order per chain member, 200 buyers hung under
the chain's last member, and the paths and Fenwick rows of it all (`store.team_paths.rebuild`,
the migration's backfill). Tiers bronze 1 000 / silver 5 000 / gold 10⁹: on the 10 000 chain the
upper half reaches bronze and silver, nobody gold, so every walk searches all the way to the root.
Then rounds of orders (paid and completed, recorded through intake) are timed through the real `dr`
batch handler (`settle_all`): the rewards (referral, level difference, same level) and the update
of every ancestor's team performance; and the team part alone (`team_chain` and the Fenwick
update, rolled back). Rounds run interleaved between the depths, so the machine's load falls on
both alike; it prints the median round of each after one to warm up, the ratio of the medians and
the median of the rounds' ratios (≤ 1.5), and the rows of the paths' tables one more round scans,
fetches and writes per order (PostgreSQL's own counters, which load cannot blur). `--stand-in`
then times, once per depth, the recursive team-performance query the paths replaced
(O(orders × depth)): what each order read before.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from rich.console import Console
from tortoise import connections

from bench.common import add_arguments, fresh_database, record_orders, sized_databases, use
from domain.team_tree import TeamNode, join
from services import distribution, queries
from services.catalog import set_settings
from services.model_settings import load_settings
from services.replay import settle_all
from store import db
from store import team_paths as paths
from store import team_tree as tree
from store.sql import execute, fetch

NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)
BUYERS = 200
TIERS = [{"name": "bronze", "performance": "1000", "ratio": "10"}, {"name": "silver", "performance": "5000", "ratio": "20"},
         {"name": "gold", "performance": "1000000000", "ratio": "30"}]
console = Console()


async def recursive_team(members: list[str]) -> dict[str, int]:
    """The stand-in the paths replaced (and the tests' oracle): each member's team performance (fen)
    summed over all its descendants' settled, unrefunded orders by one recursive query, O(orders × depth)."""
    rows = await fetch(
        db.default(),
        "WITH RECURSIVE up(ancestor, amount) AS ("
        " SELECT m.referrer_id, d.amount_fen FROM distribution_order d JOIN member m ON m.id = d.member_id"
        "  WHERE d.status = 'OPEN' AND m.referrer_id IS NOT NULL"
        " UNION ALL SELECT m.referrer_id, up.amount FROM up JOIN member m ON m.id = up.ancestor WHERE m.referrer_id IS NOT NULL"
        ") SELECT ancestor, SUM(amount) AS fen FROM up GROUP BY ancestor",
    )
    found = {r["ancestor"]: int(r["fen"]) for r in rows}
    return {m: found.get(m, 0) for m in members}


async def seed(depth: int) -> None:
    conn = connections.get("default")
    await execute(conn, "INSERT INTO member (id, referrer_id, created_at) SELECT 'c' || g, CASE WHEN g = 0 THEN NULL ELSE 'c' || (g - 1) END, "
                        "CURRENT_TIMESTAMP FROM generate_series(0, ?::bigint - 1) AS g", (depth,))
    await execute(conn, "INSERT INTO member (id, referrer_id, created_at) SELECT 'b' || g, ?, CURRENT_TIMESTAMP FROM generate_series(1, ?::bigint) AS g",
                  (f"c{depth - 1}", BUYERS))
    nodes: dict[str, TeamNode] = {}
    for r in await fetch(conn, "SELECT id, referrer_id FROM member ORDER BY id LIKE 'b%', CAST(SUBSTR(id, 2) AS BIGINT)"):
        nodes[r["id"]] = join(r["id"], nodes[r["referrer_id"]] if r["referrer_id"] else None, nodes.__getitem__)
    await tree.save_nodes(conn, list(nodes.values()))
    await execute(conn, "INSERT INTO distribution_order (order_id, member_id, amount_fen, status, completed_at) "
                        "SELECT 'seed' || g, 'c' || g, 100, 'OPEN', CURRENT_TIMESTAMP FROM generate_series(0, ?::bigint - 1) AS g", (depth,))
    amounts = await fetch(conn, "SELECT member_id, amount_fen FROM distribution_order")
    async with db.writing() as w:
        await paths.rebuild(w, [(r["member_id"], int(r["amount_fen"])) for r in amounts])
    await execute(conn, "INSERT INTO product (id, source, listed, queue_rebate) VALUES ('P1', 'SELF_OPERATED', TRUE, '{}')")
    await execute(conn, "VACUUM ANALYZE")
    await set_settings("distribution", {"enabled": True, "team_tiers": TIERS, "same_level_ratio": "3", "recruit_ratio": "0"}, NOW)


async def one_round(tag: str, orders: int) -> float:
    """Record `orders` orders (paid, completed) through intake; seconds per order of their settlement."""
    await record_orders(tag, orders, BUYERS, NOW)
    t0 = time.perf_counter()
    await settle_all()
    return (time.perf_counter() - t0) / orders


class _Rollback(Exception):
    pass


async def team_round(orders: int) -> float:
    """The team part alone, seconds per order: `services.distribution.team_chain` (route, descent,
    rewarded members) and the Fenwick update, in one transaction rolled back at the end."""
    settings = await load_settings("distribution")
    elapsed = 0.0
    try:
        async with db.writing() as conn:
            t0 = time.perf_counter()
            for i in range(orders):
                chain = await distribution.team_chain(conn, f"b{i % BUYERS + 1}", settings)
                await paths.add(conn, chain.slots, 10_000)
            elapsed = time.perf_counter() - t0
            raise _Rollback
    except _Rollback:
        pass
    return elapsed / orders


async def check(depth: int) -> str:
    """The chain's top, middle and last members: the paths' team performance equals the sum of the
    settled orders of everyone below them (the whole chain below and every buyer; the recursive
    query would take O(orders × depth) here)."""
    probe = {"c0": 0, f"c{depth // 2}": depth // 2, f"c{depth - 1}": depth - 1}
    got = await paths.performances(db.default(), list(probe))
    for member, i in probe.items():
        rows = await fetch(db.default(), "SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM distribution_order WHERE status = 'OPEN' "
                                         "AND NOT (member_id LIKE 'c%' AND CAST(SUBSTR(member_id, 2) AS BIGINT) <= ?)", (i,))
        assert got[member] == int(rows[0]["fen"]), (member, got[member], rows)
    return ", ".join(f"{m} {fen / 100:,.2f}" for m, fen in got.items())


async def measure(urls: dict[int, str], orders: int, rounds: int) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Seed each depth, then the rounds interleaved: the whole settlement per order, and the team
    part alone; the rounds after the first (a warm-up) of each."""
    for depth, url in urls.items():
        await fresh_database(url)
        t0 = time.perf_counter()
        await seed(depth)
        console.print(f"seeded a chain {depth:,} deep and {BUYERS} buyers in {time.perf_counter() - t0:.1f}s")
    times: dict[int, list[float]] = {d: [] for d in urls}
    team: dict[int, list[float]] = {d: [] for d in urls}
    for r in range(rounds + 1):
        for depth, url in urls.items():
            await use(url)
            times[depth].append(await one_round(str(r), orders))
            team[depth].append(await team_round(orders))
    for depth, url in urls.items():
        await use(url)
        assert await queries.is_zero_sum()
        console.print(f"depth {depth:>6,}: team performance (paths = recursive sum) {await check(depth)}")
        console.print(f"depth {depth:>6,}: rows of team_node and team_fenwick per settled order: {await rows_touched(url, orders)}")
    return {d: t[1:] for d, t in times.items()}, {d: t[1:] for d, t in team.items()}


_TOUCHED = ("SELECT COALESCE(SUM(seq_tup_read), 0) AS scanned, COALESCE(SUM(idx_tup_fetch), 0) AS fetched, "
            "COALESCE(SUM(n_tup_ins + n_tup_upd), 0) AS written FROM pg_stat_user_tables WHERE relname IN ('team_node', 'team_fenwick')")


async def rows_touched(url: str, orders: int) -> str:
    """What one more round reads and writes of the paths' tables, per order, from PostgreSQL's own
    counters (the connections closed before each reading, so that their counts are in): a figure
    the machine's load cannot blur."""
    await use(url)
    before = (await fetch(db.default(), _TOUCHED))[0]
    await one_round("rows", orders)
    await use(url)
    after = (await fetch(db.default(), _TOUCHED))[0]
    return ", ".join(f"{k} {(int(after[k]) - int(before[k])) / orders:.1f}" for k in ("scanned", "fetched", "written"))


async def stand_in(urls: dict[int, str]) -> None:
    """Before the paths: one call of the recursive query per depth (what each order read)."""
    for depth, url in urls.items():
        await use(url)
        orders = (await fetch(db.default(), "SELECT COUNT(*) AS n FROM distribution_order"))[0]["n"]
        t0 = time.perf_counter()
        await recursive_team([f"c{depth - 1}"])
        console.print(f"depth {depth:>6,}: the recursive stand-in over {orders:,} settled orders, one call: {(time.perf_counter() - t0) * 1000:,.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stand-in", action="store_true", help="also time the recursive query the paths replaced, once per depth")
    add_arguments(parser)
    args = parser.parse_args()
    async with sized_databases(args, args.depths, "distribution") as urls:
        results, team = await measure(urls, args.orders, args.rounds)
        low, high = min(args.depths), max(args.depths)
        for label, figures in (("settled through the dr handler", results), ("team part alone", team)):
            medians = {d: statistics.median(t) for d, t in figures.items()}
            for d, t in figures.items():
                console.print(f"depth {d:>6,}, {label}: {medians[d] * 1000:.3f} ms per order (median of {len(t)} interleaved rounds of "
                              f"{args.orders:,} orders; rounds {', '.join(f'{x * 1000:.3f}' for x in t)})")
            paired = statistics.median(h / lo for h, lo in zip(figures[high], figures[low], strict=True))
            console.print(f"{label}: ratio depth {high:,} / depth {low:,}: {medians[high] / medians[low]:.2f} of the medians, "
                          f"{paired:.2f} the median of the rounds' ratios (must be ≤ 1.5)")
        if args.stand_in:
            await stand_in(urls)


if __name__ == "__main__":
    asyncio.run(main())
