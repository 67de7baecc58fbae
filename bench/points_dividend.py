"""The points-dividend daily release over a large forest (PD-9), pure: no database is touched.

    .venv/bin/python -m bench.points_dividend [members] [chain depth]

100 000 members by default, one chain 10 000 deep, the rest hung under random earlier members,
one plan each and seed 003's settings. Prints the steps a walk up every chain would take, the
time of the one-pass aggregation alone and of the whole release (plans, rounding, postings).
"""

from __future__ import annotations

import random
import sys
import time
from decimal import Decimal

from domain.points_dividend import ReleaseMember, daily_release, open_plan
from domain.points_dividend_settings import PointsDividendSettings
from domain.team_accelerations import ReleaseSource, aggregate_accelerations

SETTINGS = PointsDividendSettings(enabled=True)


def forest(members: int, chain: int, seed: int = 3) -> list[ReleaseMember]:
    rng = random.Random(seed)
    parents: list[int | None] = [None, *range(chain - 1)]
    parents += [rng.randrange(chain + i) for i in range(members - chain)]
    depth = [0] * members
    for i, p in enumerate(parents):
        if p is not None:
            depth[i] = depth[p] + 1
    out = []
    for i, p in enumerate(parents):
        level = min(len(SETTINGS.team_tiers), (chain - i) * 8 // chain) if i < chain else 0
        plan, _ = open_plan(f"o{i}", f"m{i}", Decimal(3000 + (i % 50) * 1000), i, SETTINGS)
        assert plan is not None
        out.append(ReleaseMember(f"m{i}", None if p is None else f"m{p}", depth[i], level, (plan,)))
    return sorted(out, key=lambda m: -m.depth)


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    chain = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    ms = forest(members, chain)
    print(f"{members} members, deepest {ms[0].depth}; a walk up every chain: {sum(m.depth for m in ms):,} steps")
    sources = [ReleaseSource(m.member, m.parent, m.depth, m.level, m.plans[0].daily) for m in ms]
    started = time.perf_counter()
    recipients = sum(1 for _ in aggregate_accelerations(sources, SETTINGS.acceleration_rules))
    print(f"one-pass aggregation: {time.perf_counter() - started:.2f} s, {recipients} recipients")
    started = time.perf_counter()
    postings = sum(len(r.postings) for r in daily_release("2026-01-02", ms, SETTINGS))
    print(f"whole daily release: {time.perf_counter() - started:.2f} s, {postings} postings")


if __name__ == "__main__":
    main()
