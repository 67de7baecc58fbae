"""The points-dividend daily release over a large forest (PD-9), in memory and on the database.

    .venv/bin/python -m bench.points_dividend [--members 10000 100000] [--chain-share 0.1] [--database URL]
    .venv/bin/python -m bench.points_dividend --pure [members] [chain depth]

On the database (the default), for each size: a forest of that many members with one chain of
`chain-share` of them (10 000 deep for 100 000), the rest hung under random earlier members,
one completed order each (3000..52 000) folded into the team totals by the same fold the `pd`
queue runs, one plan each; then the day's release through the same batch job the worker runs
(streamed in chunks, one fenced transaction each). Prints the fold and release times, the time
per member and its ratio between the sizes, the peak RSS, and that a second run releases nothing.
It works on a database of its own (bench/common.py); --database names one to WIPE instead.
`--pure` runs the domain alone (no database): the one-pass aggregation and the whole release.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from tortoise import connections

from bench.common import add_arguments, bench_environment, fresh_database
from domain.money import to_fen
from domain.points_dividend import ReleaseMember, daily_release, open_plan
from domain.points_dividend_settings import PointsDividendSettings
from domain.team_accelerations import ReleaseSource, aggregate_accelerations
from domain.team_tree import TeamNode, join
from services import points_dividend as pd
from services import queries, team_tree
from services.catalog import set_settings
from services.intake import record
from services.replay import settle_all
from store import db, jobs
from store import points_dividend as plans_store
from store import team_tree as tree
from store.ledger import write_postings
from store.sql import execute_many

SETTINGS = PointsDividendSettings(enabled=True)
NOW = datetime(2026, 1, 2, 2, tzinfo=UTC)


def parents(members: int, chain: int, seed: int = 3) -> list[int | None]:
    rng = random.Random(seed)
    out: list[int | None] = [None, *range(chain - 1)]
    return out + [rng.randrange(chain + i) for i in range(members - chain)]


def forest(members: int, chain: int, seed: int = 3) -> list[ReleaseMember]:
    ps = parents(members, chain, seed)
    depth = [0] * members
    for i, p in enumerate(ps):
        if p is not None:
            depth[i] = depth[p] + 1
    out = []
    for i, p in enumerate(ps):
        level = min(len(SETTINGS.team_tiers), (chain - i) * 8 // chain) if i < chain else 0
        plan, _ = open_plan(f"o{i}", f"m{i}", Decimal(3000 + (i % 50) * 1000), i, SETTINGS)
        assert plan is not None
        out.append(ReleaseMember(f"m{i}", None if p is None else f"m{p}", depth[i], level, (plan,)))
    return sorted(out, key=lambda m: -m.depth)


def pure(members: int, chain: int) -> None:
    ms = forest(members, chain)
    print(f"{members} members, deepest {ms[0].depth}; a walk up every chain: {sum(m.depth for m in ms):,} steps")
    sources = [ReleaseSource(m.member, m.parent, m.depth, m.level, m.plans[0].daily) for m in ms]
    started = time.perf_counter()
    recipients = sum(1 for _ in aggregate_accelerations(sources, SETTINGS.acceleration_rules))
    print(f"one-pass aggregation: {time.perf_counter() - started:.2f} s, {recipients} recipients")
    started = time.perf_counter()
    postings = sum(len(r.postings) for r in daily_release("2026-01-02", ms, SETTINGS))
    print(f"whole daily release: {time.perf_counter() - started:.2f} s, {postings} postings")


async def seed(members: int, chain: int) -> float:
    """Members, tree nodes, one completed order's delta and one plan each; returns the fold's seconds."""
    conn = connections.get("default")
    ps = parents(members, chain)
    nodes: dict[str, TeamNode] = {}
    for i, p in enumerate(ps):
        nodes[f"m{i}"] = join(f"m{i}", nodes[f"m{p}"] if p is not None else None, nodes.__getitem__)
    step = 20_000
    ids = list(nodes)
    for start in range(0, members, step):
        part = ids[start:start + step]
        await execute_many(conn, "INSERT INTO member (id, referrer_id, created_at) VALUES (?, ?, CURRENT_TIMESTAMP)", [(m, nodes[m].parent) for m in part])
        await tree.save_nodes(conn, [nodes[m] for m in part])
        await tree.add_deltas(conn, [(f"order:o{m[1:]}:completed", m, nodes[m].parent, f"o{m[1:]}", 0, to_fen(_amount(int(m[1:]))), 0) for m in part])
        plans, postings = [], []
        for m in part:
            plan, opened = open_plan(f"o{m[1:]}", m, _amount(int(m[1:])), int(m[1:]), SETTINGS)
            assert plan is not None
            plans.append(plan)
            postings += opened
        await plans_store.insert_plans(conn, plans)
        await write_postings(conn, [(p, None) for p in postings], pd.QUEUE, NOW)
        print(f"  seeded {min(members, start + step):,}", end="\r", flush=True)
    started = time.perf_counter()
    async with db.writing() as w:
        await team_tree.fold(w)
    return time.perf_counter() - started


def _amount(i: int) -> Decimal:
    return Decimal(3000 + (i % 50) * 1000)


async def release(members: int, chain: int) -> dict[str, float]:
    fold = await seed(members, chain)
    await set_settings("points_dividend", {"enabled": True})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    await record(pd.daily_release_event(NOW), NOW)
    await settle_all()
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    totals = await jobs.run_state(connections.get("default"), pd.DAILY_RELEASE, pd.release_day(NOW))
    assert totals is not None and totals["done"]
    await record({**pd.daily_release_event(NOW), "key": "bench:again"}, NOW)
    await settle_all()
    again = await jobs.run_state(connections.get("default"), pd.DAILY_RELEASE, pd.release_day(NOW))
    assert again == totals, "a second run of the day changed the release"
    print(f"{members:,} members, chain {chain:,} deep: fold of {members:,} orders {fold:.1f} s; release {elapsed:.1f} s "
          f"({elapsed / members * 1e6:.0f} µs per member, chunks of {pd.CHUNK:,}); static {totals['static_fen'] / 100:,.2f}, "
          f"share {totals['share_fen'] / 100:,.2f}, team {totals['team_fen'] / 100:,.2f}, same-level {totals['same_level_fen'] / 100:,.2f}; "
          f"peak RSS {rss_before / 1024:.0f} MiB before, {rss / 1024:.0f} MiB after; zero-sum {await queries.is_zero_sum()}; second run: nothing")
    return {"per_member": elapsed / members, "elapsed": elapsed}


async def main(args: argparse.Namespace) -> None:
    results = []
    async with bench_environment(args) as url:
        for members in args.members:
            await fresh_database(url)
            results.append(await release(members, max(1, int(members * args.chain_share))))
    if len(results) > 1:
        first, last = results[0]["per_member"], results[-1]["per_member"]
        print(f"time per member: {first * 1e6:.0f} µs at {args.members[0]:,}, {last * 1e6:.0f} µs at {args.members[-1]:,}; ratio {last / first:.2f}")


if __name__ == "__main__":
    if "--pure" in sys.argv:
        rest = [a for a in sys.argv[1:] if a != "--pure"]
        pure(int(rest[0]) if rest else 100_000, int(rest[1]) if len(rest) > 1 else 10_000)
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("--members", type=int, nargs="+", default=[10_000, 100_000])
        parser.add_argument("--chain-share", type=float, default=0.1)
        add_arguments(parser)
        asyncio.run(main(parser.parse_args()))
