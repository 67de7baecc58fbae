"""The one-pass aggregation of PD-3..PD-5 gives exactly the naive walk's sums (PD-9 step 2), and the daily
release streamed deepest first matches the reference on random forests."""

import random
import time
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ledger import Asset
from domain.points_dividend import Plan, ReleaseMember, daily_release, daily_release_reference, plans_account
from domain.points_dividend_settings import PointsDividendSettings, TeamTier
from domain.team_accelerations import AccelerationRules, ReleaseSource, aggregate_accelerations, naive_accelerations

amounts = st.integers(0, 1_000_000).map(lambda fen: D(fen) / 100)
ratios = st.integers(0, 1_000_000).map(lambda r: D(r) / 10_000)  # 0..100 %, 4 dp


@st.composite
def rules(draw: st.DrawFn) -> AccelerationRules:
    shares = tuple(draw(st.lists(ratios, max_size=3)))
    team = tuple(sorted(set(draw(st.lists(ratios.filter(lambda r: r > 0), max_size=6)))))
    return AccelerationRules(shares, team, draw(st.sampled_from([D(0), D(3), D("0.0001")]) | ratios))


@st.composite
def forests(draw: st.DrawFn, top: int, monotone: bool) -> list[ReleaseSource]:
    """Random referrer links (a member's referrer is an earlier one); levels arbitrary, or from team performance."""
    n = draw(st.integers(1, 40))
    parents = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, n)]
    depth = [0] * n
    for i in range(1, n):
        depth[i] = depth[parents[i]] + 1 if parents[i] is not None else 0  # type: ignore[index]
    releases = [draw(amounts | st.just(D(0))) for _ in range(n)]
    if monotone:
        spend = [draw(st.integers(0, 5)) for _ in range(n)]
        team = [0] * n
        for i in reversed(range(n)):
            if parents[i] is not None:
                team[parents[i]] += team[i] + spend[i]  # type: ignore[index]
        levels = [min(top, t // 3) for t in team]
    else:
        levels = [draw(st.integers(0, top)) for _ in range(n)]
    sources = [ReleaseSource(f"m{i}", None if parents[i] is None else f"m{parents[i]}", depth[i], levels[i], releases[i]) for i in range(n)]
    order = draw(st.permutations(range(n)))
    return sorted((sources[i] for i in order), key=lambda s: -s.depth)


def sums(result: dict[str, object]) -> dict[str, tuple[D, D, D]]:
    return {m: (a.share, a.team, a.same_level) for m, a in result.items()}  # type: ignore[attr-defined]


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_pd9_aggregated_pass_equals_naive_walk_exactly_on_random_forests(data: st.DataObject) -> None:
    r = data.draw(rules())
    sources = data.draw(forests(len(r.team_ratios), monotone=data.draw(st.booleans())))
    aggregated = {a.member: a for a in aggregate_accelerations(sources, r)}
    assert sums(aggregated) == sums(naive_accelerations(sources, r))  # type: ignore[arg-type]


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_pd9_streamed_daily_release_equals_reference_with_random_plans(data: st.DataObject) -> None:
    r = data.draw(rules())
    tiers = tuple(TeamTier(f"t{i}", D(1000 * (i + 1)), ratio) for i, ratio in enumerate(r.team_ratios))
    s = PointsDividendSettings(enabled=True, share_ratios=r.share_ratios, team_tiers=tiers, same_level_ratio=r.same_level_ratio)
    sources = data.draw(forests(len(tiers), monotone=True))
    members = []
    for source in sources:
        plans = []
        for k in range(data.draw(st.integers(0, 2))):
            total = data.draw(amounts.filter(lambda a: a > 0))
            released = min(total, data.draw(amounts))
            plans.append(Plan(f"{source.member}:{k}", source.member, k, total, "t", total, data.draw(amounts), released=released))
        members.append(ReleaseMember(source.member, source.parent, source.depth, source.level, tuple(plans)))
    results = list(daily_release("d", members, s))
    assert results == daily_release_reference("d", members, s)
    for m, r in zip(members, results, strict=True):  # what the plans gave equals what the member got, and the promise shrank by it
        gained = sum((p.released for p in r.plans), D(0)) - sum((p.released for p in m.plans), D(0))
        to_wallet = sum((p.amount for p in r.postings if p.asset is Asset.POINTS and p.target == f"member:{m.member}:POINTS"), D(0))
        from_plans = sum((p.amount for p in r.postings if p.asset is Asset.ENTITLEMENT and p.source == plans_account(m.member)), D(0))
        assert gained == to_wallet == from_plans == r.static + r.paid.share + r.paid.team + r.paid.same_level or r.already_released
        assert all(p.released <= p.total for p in r.plans)


def test_pd9_pass_over_100000_members_with_a_10000_deep_chain_is_linear() -> None:
    rng = random.Random(3)
    parent: list[int | None] = [None, *range(9_999)]
    parent += [rng.randrange(len(parent) + i) for i in range(90_000)]
    depth = [0] * len(parent)
    for i, p in enumerate(parent):
        if p is not None:
            depth[i] = depth[p] + 1
    levels = [min(7, (len(parent) - i) // 12_000) if i < 10_000 else 0 for i in range(len(parent))]
    sources = sorted(
        (ReleaseSource(f"m{i}", None if p is None else f"m{p}", depth[i], levels[i], D(36)) for i, p in enumerate(parent)),
        key=lambda s: -s.depth,
    )
    rules = AccelerationRules((D(50), D(30)), tuple(D(r) for r in (10, 20, 26, 32, 38, 44, 50)), D(3))
    started = time.perf_counter()
    total = sum((a.share + a.team + a.same_level for a in aggregate_accelerations(sources, rules)), D(0))
    elapsed = time.perf_counter() - started
    assert total > 0 and elapsed < 30, f"{elapsed:.1f} s"
