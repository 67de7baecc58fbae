"""Points dividend 积分分红 / 积分释放, pure (PD-1..PD-10), with seed 003's worked examples."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal as D

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Posting
from domain.points_dividend import (
    FUNDING,
    PROMISED,
    MemberRelease,
    Plan,
    PlanStatus,
    ReleaseMember,
    adjust_points,
    cancel_plan,
    daily_release,
    daily_release_reference,
    member_level,
    open_plan,
    order_amount,
    plans_account,
)
from domain.points_dividend_settings import PointsDividendSettings
from domain.team_accelerations import AccelerationRules, ReleaseSource, aggregate_accelerations, naive_accelerations

ON = PointsDividendSettings(enabled=True)
DAY = "2026-01-02"


def plan(order: str, member: str, amount: str, position: int = 1, settings: PointsDividendSettings = ON) -> Plan:
    opened, postings = open_plan(order, member, D(amount), position, settings)
    assert opened is not None and postings[0].amount == opened.total
    return opened


def level(performance: str) -> int:
    return ON.team_level(D(performance))


def points(postings: Iterable[Posting], member: str) -> D:
    wallet = f"member:{member}:POINTS"
    return sum((p.amount for p in postings if p.asset is Asset.POINTS and p.target == wallet), D(0))


def zero_sum(postings: Iterable[Posting]) -> bool:
    balance: Counter[tuple[Asset, str]] = Counter()
    for p in postings:
        balance[(p.asset, p.source)] -= p.amount
        balance[(p.asset, p.target)] += p.amount
    return all(sum(v for (a, _), v in balance.items() if a is asset) == 0 for asset in Asset)


def run(members: list[ReleaseMember], day: str = DAY, settings: PointsDividendSettings = ON) -> dict[str, MemberRelease]:
    """The streaming release, checked against the reference walk and for zero-sum."""
    ordered = sorted(members, key=lambda m: -m.depth)
    results = {r.member: r for r in daily_release(day, ordered, settings)}
    assert results == {r.member: r for r in daily_release_reference(day, ordered, settings)}
    assert zero_sum(p for r in results.values() for p in r.postings)
    return results


def one_member_days(plans: tuple[Plan, ...], days: int) -> list[D]:
    """Release one member with no team for `days` days, carrying its plans; the points of each day."""
    out = []
    for n in range(days):
        result = run([ReleaseMember("A", None, 0, 0, plans)], day=f"d{n}")["A"]
        plans = result.plans
        out.append(points(result.postings, "A"))
    return out


# PD-1 plans


def test_pd1_3000_order_opens_7500_point_plan_releasing_36_a_day() -> None:
    opened, postings = open_plan("o1", "A", D(3000), 1, ON)
    assert opened is not None and (opened.total, opened.daily, opened.tier) == (D("7500.00"), D("36.00"), "junior")
    assert postings == [Posting("pd:o1:open", PROMISED, plans_account("A"), Asset.ENTITLEMENT, D("7500.00"), "release plan")]


@pytest.mark.parametrize(
    ("amount", "total", "tier"),
    [("9000", "27000.00", "intermediate"), ("27000", "94500.00", "senior"), ("51000", "204000.00", "vip"), ("8999.99", "22499.98", "junior")],
)
def test_pd1_largest_threshold_at_or_below_the_amount_decides(amount: str, total: str, tier: str) -> None:
    opened = plan("o", "A", amount)
    assert (opened.total, opened.tier) == (D(total), tier)


def test_pd1_below_lowest_threshold_or_model_off_opens_no_plan() -> None:
    assert open_plan("o", "A", D("2999.99"), 1, ON) == (None, [])
    assert open_plan("o", "A", D(3000), 1, PointsDividendSettings()) == (None, [])
    with pytest.raises(DomainError) as e:
        open_plan("o", "A", D(-1), 1, ON)
    assert e.value.code is ErrorCode.NEGATIVE_AMOUNT


def test_pd1_order_amount_leaves_excluded_products_out_and_level_is_highest_tier() -> None:
    settings = replace(ON, excluded_products=frozenset({"gift"}))
    assert order_amount([("p1", D(2000)), ("gift", D(1500)), ("p2", D(1000))], settings) == D(3000)
    plans = [plan("o1", "A", "3000"), plan("o2", "A", "27000", 2), plan("o3", "A", "9000", 3)]
    assert (tier := member_level(plans, ON)) is not None and tier.name == "senior"
    assert member_level([replace(plans[1], status=PlanStatus.CANCELLED)], ON) is None


# PD-2 static release


def test_pd2_3000_order_releases_36_a_day_for_208_days_then_12() -> None:
    released = one_member_days((plan("o1", "A", "3000"),), 210)
    assert released[:208] == [D(36)] * 208 and released[208] == D(12) and released[209] == 0
    assert sum(released) == D(7500)


def test_pd2_3000_then_9000_release_144_a_day_then_108_once_the_first_ends() -> None:
    released = one_member_days((plan("o1", "A", "3000"), plan("o2", "A", "9000", 2)), 210)
    assert released[0] == D(144) and released[207] == D(144)
    assert released[208] == D(108) + D(12) and released[209] == D(108)


def test_pd2_plan_points_and_daily_amount_are_each_rounded_half_up_once() -> None:
    opened = plan("o", "A", "3333.33")
    assert (opened.total, opened.daily) == (D("8333.33"), D("40.00"))  # 8333.325 and 39.99996


def test_pd2_static_release_books_points_and_settles_the_promise() -> None:
    result = run([ReleaseMember("A", None, 0, 0, (plan("o1", "A", "3000"),))])["A"]
    assert result.postings == (
        Posting(f"pd:{DAY}:static:o1", FUNDING, "member:A:POINTS", Asset.POINTS, D("36.00"), "static release"),
        Posting(f"pd:{DAY}:static_settle:o1", plans_account("A"), PROMISED, Asset.ENTITLEMENT, D("36.00"), "static release"),
    )
    assert result.plans[0].released == D(36) and result.plans[0].status is PlanStatus.ACTIVE


# PD-3 share acceleration


def test_pd3_a_receives_18_from_b_drawn_from_a_first_plan() -> None:
    a_plans = (plan("a1", "A", "3000", 1), plan("a2", "A", "3000", 2))
    results = run([ReleaseMember("A", None, 0, 0, a_plans), ReleaseMember("B", "A", 1, 0, (plan("b1", "B", "3000"),))])
    assert points(results["B"].postings, "B") == D(36)
    assert results["A"].paid.share == D(18) and points(results["A"].postings, "A") == D(36 + 36 + 18)
    first, second = results["A"].plans
    assert (first.released, second.released) == (D(36 + 18), D(36))


def test_pd3_second_generation_receives_30_percent() -> None:
    c_plan = plan("c1", "C", "3000")
    results = run([ReleaseMember("A", None, 0, 0, (plan("a1", "A", "3000"),)), ReleaseMember("B", "A", 1, 0), ReleaseMember("C", "B", 2, 0, (c_plan,))])
    assert results["B"].exact.share == D(18) and results["B"].paid.share == 0  # no plan of its own (PD-6)
    assert results["A"].paid.share == D("10.80")


# PD-4 team level difference, PD-5 same level


TEAM_ONLY = AccelerationRules((), ON.acceleration_rules.team_ratios, ON.same_level_ratio)


def both(sources: list[ReleaseSource], rules: AccelerationRules = TEAM_ONLY) -> dict[str, tuple[D, D, D]]:
    naive = {m: (a.share, a.team, a.same_level) for m, a in naive_accelerations(sources, rules).items()}
    assert naive == {a.member: (a.share, a.team, a.same_level) for a in aggregate_accelerations(sources, rules)}
    return naive


def test_pd4_a_king_b_star_c_bronze_10000_in_c_downline_pays_c_1000_b_3400_a_600() -> None:
    sources = [
        ReleaseSource("X1", "C", 3, 0, D(6000)),
        ReleaseSource("X2", "C", 3, 0, D(4000)),
        ReleaseSource("C", "B", 2, level("50000"), D(0)),
        ReleaseSource("B", "A", 1, level("15000000"), D(0)),
        ReleaseSource("A", None, 0, level("30000000"), D(0)),
    ]
    assert both(sources) == {"C": (0, D(1000), 0), "B": (0, D(3400), 0), "A": (0, D(600), 0)}


def test_pd4_own_tier_does_not_count_and_paid_follows_tiers_past_a_full_recipient() -> None:
    c_plan = replace(plan("c1", "C", "3000"), released=D("7400.00"))  # 100 left: 36 static, then room for 64
    x_plan = plan("x1", "X", "833333.33")  # 10 000.00 a day
    results = run(
        [
            ReleaseMember("A", None, 0, level("30000000"), (plan("a1", "A", "9000"),)),
            ReleaseMember("B", "A", 1, level("15000000"), (plan("b1", "B", "9000"),)),
            ReleaseMember("C", "B", 2, level("50000"), (c_plan,)),
            ReleaseMember("X", "C", 3, level("600000"), (x_plan,)),
        ],
        settings=replace(ON, share_ratios=()),
    )
    assert results["X"].static == D(10000) and results["X"].exact.team == 0
    assert results["C"].rounded.team == D(1000) and results["C"].paid.team == D(64)
    assert results["C"].plans[0].status is PlanStatus.EXHAUSTED
    # C's excess is not passed on: B 3400 (+ 44 % of C's own 36), A 600 (+ 6 % of C's 36 + 50 % of B's 108)
    assert (results["B"].paid.team, results["A"].paid.team) == (D(3400) + D("15.84"), D(600) + D("2.16") + D(54))


def test_pd5_a_and_b_both_bronze_b_receives_10_percent_a_3_percent() -> None:
    sources = [ReleaseSource("X", "B", 2, 0, D(1000)), ReleaseSource("B", "A", 1, level("50000"), D(0)), ReleaseSource("A", None, 0, level("60000"), D(0))]
    assert both(sources) == {"B": (0, D(100), 0), "A": (0, 0, D(30))}


def test_pd5_same_level_bonus_is_paid_once_per_walk() -> None:
    bronze = level("50000")
    sources = [
        ReleaseSource("X", "C", 3, 0, D(1000)),
        ReleaseSource("C", "B", 2, bronze, D(0)),
        ReleaseSource("B", "A", 1, bronze, D(0)),
        ReleaseSource("A", None, 0, level("200000"), D(0)),
    ]
    assert both(sources) == {"C": (0, D(100), 0), "B": (0, 0, D(30)), "A": (0, D(100), 0)}


# PD-6 capping, PD-9 order of work and rounding once


def test_pd6_accelerations_capped_at_remaining_plan_points_after_static() -> None:
    a_plan = replace(plan("a1", "A", "3000"), released=D("7450.00"))  # 50 left, 36 of them released statically
    b_plan = plan("b1", "B", "9000")  # 108 a day: A's share 54
    results = run([ReleaseMember("A", None, 0, 0, (a_plan,)), ReleaseMember("B", "A", 1, 0, (b_plan,))])
    a = results["A"]
    assert (a.static, a.rounded.share, a.paid.share) == (D(36), D(54), D(14))
    assert a.plans[0].status is PlanStatus.EXHAUSTED and a.plans[0].released == a.plans[0].total


def test_pd6_a_member_without_plans_receives_nothing() -> None:
    results = run([ReleaseMember("A", None, 0, 0), ReleaseMember("B", "A", 1, 0, (plan("b1", "B", "3000"),))])
    assert results["A"].exact.share == D(18) and results["A"].postings == ()


def test_pd9_accelerations_summed_exactly_per_kind_then_rounded_half_up_once() -> None:
    """Three referrals each release 0.01: 50 % of each is 0.005, exactly 0.015 in all, rounded once to 0.02 (not 3 × 0.01)."""
    tiny = replace(plan("t", "T", "3000"), daily=D("0.01"))
    members = [ReleaseMember("A", None, 0, 0, (plan("a1", "A", "3000"),))]
    members += [ReleaseMember(f"B{i}", "A", 1, 0, (replace(tiny, key=f"b{i}", member=f"B{i}"),)) for i in range(3)]
    a = run(members)["A"]
    assert (a.exact.share, a.rounded.share, a.paid.share) == (D("0.015"), D("0.02"), D("0.02"))


def test_pd9_second_run_of_the_same_day_releases_nothing_and_still_counts_its_statics() -> None:
    members = [ReleaseMember("A", None, 0, 0, (plan("a1", "A", "3000"),)), ReleaseMember("B", "A", 1, 0, (plan("b1", "B", "3000"),))]
    first = run(members)
    # a run cut off after B was written: B's plans carry today's date, A's do not
    again = run([members[0], replace(members[1], plans=first["B"].plans)])
    assert again["B"].postings == () and again["B"].already_released
    assert again["A"] == first["A"]
    rerun = run([replace(m, plans=first[m.member].plans) for m in members])
    assert all(r.postings == () for r in rerun.values())


def test_pd9_model_off_releases_nothing() -> None:
    assert list(daily_release(DAY, [ReleaseMember("A", None, 0, 0, (plan("a1", "A", "3000"),))], PointsDividendSettings())) == []


def test_pd9_stream_must_be_fed_deepest_first_with_every_referrer() -> None:
    with pytest.raises(DomainError) as e:
        list(aggregate_accelerations([ReleaseSource("A", None, 0, 0, D(1)), ReleaseSource("B", "A", 1, 0, D(1))], TEAM_ONLY))
    assert e.value.code is ErrorCode.INVALID_INPUT
    with pytest.raises(DomainError) as e:
        list(aggregate_accelerations([ReleaseSource("B", "A", 1, 0, D(1)), ReleaseSource("C", None, 0, 0, D(1))], TEAM_ONLY))
    assert e.value.code is ErrorCode.UNKNOWN_MEMBER


# PD-7 admin adjustments, PD-10 refunds


def test_pd7_admin_adds_and_removes_points_never_below_zero() -> None:
    assert points(adjust_points("a1", "A", D("50.00"), D(0), "goodwill"), "A") == D(50)
    removed = adjust_points("a2", "A", D("-50.00"), D("50.00"), "correction")
    assert removed[0].source == "member:A:POINTS" and zero_sum(removed)
    for amount, available, reason, code in [
        (D("-50.01"), D("50.00"), "x", ErrorCode.INSUFFICIENT_POINTS),
        (D(0), D(0), "x", ErrorCode.INVALID_AMOUNT),
        (D("0.001"), D(0), "x", ErrorCode.INVALID_AMOUNT),
        (D(1), D(0), " ", ErrorCode.INVALID_INPUT),
    ]:
        with pytest.raises(DomainError) as e:
            adjust_points("a3", "A", amount, available, reason)
        assert e.value.code is code


def test_pd10_refund_cancels_plan_forfeits_the_rest_and_releases_no_more() -> None:
    released = replace(plan("o1", "A", "3000"), released=D(360))
    cancelled, postings = cancel_plan(released)
    assert cancelled.status is PlanStatus.CANCELLED and cancelled.released == D(360)
    assert [(p.source, p.target, p.amount) for p in postings] == [(plans_account("A"), "platform:income", D(7140))]
    assert cancel_plan(cancelled) == (cancelled, [])
    assert run([ReleaseMember("A", None, 0, 0, (cancelled,))])["A"].postings == ()


# settings (PD-7, I-7, DR-7)


def test_pd7_settings_defaults_are_seed_003_tables_and_round_trip() -> None:
    s = PointsDividendSettings.parse({"enabled": True})
    assert [(t.threshold, t.multiplier) for t in s.tiers] == [(D(3000), D("2.5")), (D(9000), D(3)), (D(27000), D("3.5")), (D(51000), D(4))]
    assert [t.ratio for t in s.team_tiers] == [D(r) for r in (10, 20, 26, 32, 38, 44, 50)]
    assert (s.release_ratio, s.share_ratios, s.same_level_ratio, s.release_hour_minute) == (D("1.2"), (D(50), D(30)), D(3), (0, 30))
    assert PointsDividendSettings.parse(s.as_values()) == s


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"tiers": [{"name": "a", "threshold": "9000", "multiplier": "3"}, {"name": "b", "threshold": "3000", "multiplier": "2.5"}]}, ErrorCode.INVALID_SETTINGS),
        ({"tiers": [{"name": "a", "threshold": "3000", "multiplier": "0"}]}, ErrorCode.INVALID_SETTINGS),
        ({"tiers": [{"name": "a", "threshold": "3000"}]}, ErrorCode.INVALID_SETTINGS),
        ({"tiers": []}, ErrorCode.INVALID_SETTINGS),
        ({"team_tiers": [{"name": "a", "performance": "100", "ratio": "20"}, {"name": "b", "performance": "200", "ratio": "10"}]}, ErrorCode.INVALID_SETTINGS),
        ({"team_tiers": [{"name": "a", "performance": "100", "ratio": "101"}]}, ErrorCode.INVALID_RATIO),
        ({"share_ratios": ["50", "130"]}, ErrorCode.INVALID_RATIO),
        ({"release_ratio": "0"}, ErrorCode.INVALID_RATIO),
        ({"release_ratio": 1.2}, ErrorCode.MALFORMED_DECIMAL),
        ({"same_level_ratio": "-3"}, ErrorCode.INVALID_RATIO),
        ({"release_time": "24:00"}, ErrorCode.INVALID_SETTINGS),
        ({"releas_ratio": "1.2"}, ErrorCode.INVALID_SETTINGS),
    ],
)
def test_pd7_bad_settings_are_refused_with_a_typed_error(values: dict[str, object], code: ErrorCode) -> None:
    with pytest.raises(DomainError) as e:
        PointsDividendSettings.parse(values)
    assert e.value.code is code


def test_dr7_share_generations_beyond_the_guard_pass_when_overridden_or_not_enforced() -> None:
    four = {"share_ratios": ["50", "30", "20", "10"]}
    assert len(PointsDividendSettings.parse(four).share_ratios) == 4  # the platform's guard decides (services/compliance.py)
    with pytest.raises(DomainError) as capped:
        PointsDividendSettings.parse(four, max_generations=3)
    assert capped.value.code is ErrorCode.COMPLIANCE_LIMIT
    assert len(PointsDividendSettings.parse({**four, "compliance_override": True}).share_ratios) == 4
    with pytest.raises(DomainError) as e:
        PointsDividendSettings.parse({"share_ratios": ["50", "30"]}, max_generations=1)
    assert e.value.code is ErrorCode.COMPLIANCE_LIMIT
