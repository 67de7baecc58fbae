"""DR-2/DR-3 team performance on the team paths (ADR 0008) against the recursive sum it replaced, on
SQLite and PostgreSQL: random trees with joins after orders, refunds and leaf moves, each order's
team and referral rewards as the linear walk over the recursive sums gives them."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from bench.distribution import recursive_team  # the recursive stand-in the paths replaced: the oracle
from domain import distribution as dr
from domain.level_difference import scan_lookup
from domain.money import from_fen
from domain.team_paths import deepest_reaching
from services.replay import Replay, state
from store import db
from store import distribution as dr_store
from store import team_paths as paths
from store.sql import fetch
from tests.integration.scenario import completed, member, paid, product, refunded

pytestmark = pytest.mark.usefixtures("db")
OFF = {"DISTRICT": "0", "CITY": "0", "PROVINCE": "0"}
TIERS = [{"name": "bronze", "performance": "100", "ratio": "10"}, {"name": "silver", "performance": "300", "ratio": "20"},
         {"name": "gold", "performance": "900", "ratio": "30"}]
VALUES = {"enabled": True, "recruit_ratio": "0", "agent_ratios": OFF, "team_tiers": TIERS, "same_level_ratio": "3"}


def chain(parents: dict[str, str | None], m: str) -> list[str]:
    out, up = [], parents[m]
    while up is not None:
        out.append(up)
        up = parents[up]
    return out


async def expected_rewards(parents: dict[str, str | None], order: str, m: str, amount: str) -> set[dr.Reward]:
    """DR-1..DR-3 by the linear walk over the recursive sums as they stand before the order."""
    settings = dr.DistributionSettings.parse(VALUES)
    up = chain(parents, m)
    team = await recursive_team(up)
    facts = dr.OrderFacts(order, D(amount), referrers=up[:2], team=scan_lookup([(a, settings.team_level(from_fen(team[a]))) for a in up]))
    return set(dr.order_rewards(settings, facts))


async def assert_paths_match(parents: dict[str, str | None]) -> None:
    members = sorted(parents)
    assert await paths.performances(db.default(), members) == await recursive_team(members)
    # the SQL descent answers as the one in memory, on every path and a few thresholds
    rows = await fetch(db.default(), "SELECT path_id, idx, fen FROM team_fenwick")
    fenwick = {(r["path_id"], int(r["idx"])): int(r["fen"]) for r in rows}
    wanted = [(p, x) for p in sorted({p for p, _ in fenwick}) for x in (1, 5_000, 20_000, 90_000, 10**9)]
    assert await paths.deepest(db.default(), wanted) == [deepest_reaching(lambda i, p=p: fenwick.get((p, i), 0), x) for p, x in wanted]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_dr2_team_paths_equal_the_recursive_sum_on_random_trees(seed: int) -> None:
    rng, replay = random.Random(seed), Replay()
    await replay.apply({"type": "settings", "model": "distribution", "values": VALUES})
    await replay.apply(product("P1"))
    parents: dict[str, str | None] = {}
    orders: list[tuple[str, str]] = []
    refunds = moves = 0
    for step in range(70):
        kind = rng.choice(["join", "join", "order", "order", "order", "refund", "move"]) if parents else "join"
        if kind == "join":
            m = f"m{len(parents)}"
            parents[m] = rng.choice([None, *parents]) if parents else None
            await replay.apply(member(m, parents[m]))
        elif kind == "order":
            m, o, amount = rng.choice(sorted(parents)), f"o{step}", f"{rng.randint(1, 400)}.{rng.randint(0, 99):02d}"
            want = await expected_rewards(parents, o, m, amount)
            await replay.apply(paid(o, m, ("P1", amount)))
            await replay.apply(completed(o))
            async with db.writing() as conn:
                assert set(await dr_store.unreversed_rewards(conn, o)) == want
            orders.append((o, m))
        elif kind == "refund" and orders:
            o, _ = orders.pop(rng.randrange(len(orders)))
            await replay.apply(refunded(o))
            refunds += 1
        elif kind == "move":
            leaves = sorted(m for m in parents if m not in parents.values())
            m = rng.choice(leaves)
            to = rng.choice([None, *(x for x in parents if x != m)])
            if to != parents[m]:
                parents[m] = to
                await replay.apply(member(m, to))
                moves += 1
        if step % 10 == 9:
            await assert_paths_match(parents)
    await assert_paths_match(parents)
    assert refunds and moves and len(orders) > 5 and (await state())["zero_sum"]
    async with db.writing() as conn:  # migration 0012's backfill of an existing tree gives the same team performance
        settled = await fetch(conn, "SELECT member_id, amount_fen FROM distribution_order WHERE status = 'OPEN'")
        await paths.rebuild(conn, [(r["member_id"], int(r["amount_fen"])) for r in settled])
    await assert_paths_match(parents)


async def test_dr2_hand_checked_example_on_the_paths_with_refunds_and_later_joins() -> None:
    """A → B → C → D, E under C, F under B, G under A (SPEC DR-2 example, docs/distribution.md)."""
    replay = Replay()
    await replay.apply({"type": "settings", "model": "distribution", "values": {
        "enabled": True, "recruit_ratio": "0", "agent_ratios": OFF, "same_level_ratio": "0",
        "team_tiers": [{"name": "bronze", "performance": "1000", "ratio": "10"}, {"name": "star", "performance": "5000", "ratio": "44"},
                       {"name": "king", "performance": "9000", "ratio": "50"}]}})
    await replay.apply(product("P1"))
    for m, up in (("A", None), ("B", "A"), ("C", "B"), ("D", "C"), ("E", "C"), ("F", "B"), ("G", "A")):
        await replay.apply(member(m, up))
    places = await fetch(db.default(), "SELECT member_id, path_id, position FROM team_node ORDER BY member_id")
    assert {r["member_id"]: (r["path_id"], int(r["position"])) for r in places} == {
        "A": ("A", 1), "B": ("A", 2), "C": ("A", 3), "D": ("A", 4), "E": ("E", 1), "F": ("F", 1), "G": ("G", 1)}
    for o, m, amount in (("e1", "E", "1000.00"), ("f1", "F", "4000.00"), ("g1", "G", "4000.00")):
        await replay.apply(paid(o, m, ("P1", amount)))
        await replay.apply(completed(o))

    async def team() -> dict[str, int]:
        return await paths.performances(db.default(), list("ABCDEFGZ"))

    assert await team() == {"A": 900_000, "B": 500_000, "C": 100_000, "D": 0, "E": 0, "F": 0, "G": 0, "Z": 0}
    await replay.apply(paid("d1", "D", ("P1", "10000.00")))
    await replay.apply(completed("d1"))
    # the order's own 10 000 joins after its rewards: C bronze 10 % + 0.3 %, B star 34 % + 0.2 %, A king 6 %
    async with db.writing() as conn:
        got = {(x.member, x.kind.value): str(x.amount) for x in await dr_store.unreversed_rewards(conn, "d1")}
    assert got == {("C", "REFERRAL"): "30.00", ("C", "TEAM"): "1000.00", ("B", "REFERRAL"): "20.00", ("B", "TEAM"): "3400.00", ("A", "TEAM"): "600.00"}
    assert await team() == {"A": 1_900_000, "B": 1_500_000, "C": 1_100_000, "D": 0, "E": 0, "F": 0, "G": 0, "Z": 0}
    await replay.apply(refunded("f1"))  # DR-8: F's 4 000 leaves B's and A's teams
    await replay.apply(member("Z", "E"))  # a join after the orders: E's heir, its path
    await replay.apply(paid("z1", "Z", ("P1", "500.00")))
    await replay.apply(completed("z1"))
    assert await team() == {"A": 1_550_000, "B": 1_150_000, "C": 1_150_000, "D": 0, "E": 50_000, "F": 0, "G": 0, "Z": 0}
    assert await team() == await recursive_team(list("ABCDEFGZ"))
    assert (await fetch(db.default(), "SELECT path_id, position FROM team_node WHERE member_id = 'Z'"))[0] == {"path_id": "E", "position": 2}
