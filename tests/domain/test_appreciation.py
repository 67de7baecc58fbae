"""Consumption appreciation 消费增值, pure (CA-1..CA-7, DR-7, seed 004)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest

from domain.appreciation import (
    FUNDING,
    ISSUED,
    POOL,
    SUBSIDY,
    AppreciationPool,
    AppreciationSettings,
    Cause,
    ContributionBase,
    Outcome,
    PoolState,
    Quote,
    check_compliance,
    clawback,
    contribution,
    order_amount,
)
from domain.appreciation_holders import Holder, MemoryHolderIndex, NeedHolders
from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Posting

T0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
SEED = AppreciationSettings(enabled=True)  # 30 % in, 70 % minted, 20 % retained, 3× exit, price 1.00
LOCAL_LIFE = AppreciationSettings(enabled=True, contribution_ratio=D(16), exit_multiple=D("1.2"))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Book:
    """A pool with an in-memory index, and every posting it produced."""

    pool: AppreciationPool
    postings: list[Posting] = field(default_factory=list)

    @property
    def state(self) -> PoolState:
        return self.pool.state

    def take(self, out: Outcome) -> Outcome:
        assert out.need is None
        self.postings += out.postings
        return out

    def order(self, key: str, member: str, amount: str = "1000.00", minute: int = 0, profit: str | None = None) -> Outcome:
        return self.take(self.pool.complete_order(key, member, D(amount), None if profit is None else D(profit), at(minute)))

    def sell(self, key: str, member: str, points: str, minute: int = 100) -> Outcome:
        return self.take(self.pool.sell(key, member, points, at(minute)))

    def subsidize(self, key: str, amount: str, minute: int = 100) -> Outcome:
        return self.take(self.pool.subsidize(key, amount, at(minute)))

    def balances(self) -> dict[tuple[Asset, str], D]:
        out: dict[tuple[Asset, str], D] = defaultdict(D)
        for p in self.postings:
            out[(p.asset, p.target)] += p.amount
            out[(p.asset, p.source)] -= p.amount
        return out

    def holding(self, member: str) -> D:
        return self.pool.holder(member).points


def book(settings: AppreciationSettings = SEED, state: PoolState | None = None, holders: Iterable[Holder] = ()) -> Book:
    return Book(AppreciationPool(settings, state or PoolState(), MemoryHolderIndex(holders)))


def seed_three_orders(settings: AppreciationSettings = SEED) -> tuple[Book, list[Outcome]]:
    """Seed 004: A, B and C each order 1000 in turn."""
    b = book(settings)
    return b, [b.order(f"o{i}", m, minute=i) for i, m in enumerate("ABC")]


def assert_zero_sum(b: Book, pool_before: D = D(0), circulating_before: D = D(0)) -> None:
    """C-5: every asset sums to zero; keys are unique; the pool and the issuer mirror the state."""
    bal = b.balances()
    for asset in {a for a, _ in bal}:
        assert sum((v for (a, _), v in bal.items() if a is asset), D(0)) == 0
    assert not [k for k, n in Counter(p.key for p in b.postings).items() if n > 1]
    assert pool_before + bal[(Asset.CNY, POOL)] == b.state.pool
    assert circulating_before - bal[(Asset.APPRECIATION_POINTS, ISSUED)] == b.state.circulating


# CA-1 ---------------------------------------------------------------------------------------


def test_ca1_contribution_30_percent_of_1000_is_300_local_life_16_percent_is_160():
    assert contribution(SEED, D("1000.00"), None) == D("300.00")
    assert contribution(LOCAL_LIFE, D("1000.00"), None) == D("160.00")
    assert contribution(SEED, D("333.33"), None) == D("100.00")  # 99.999 rounded once, half-up


def test_ca1_profit_base_takes_the_reported_profit_and_none_takes_no_part():
    by_profit = AppreciationSettings(enabled=True, contribution_base=ContributionBase.PROFIT, contribution_ratio=D(50))
    assert contribution(by_profit, D("1000.00"), D("600.00")) == D("300.00")
    b = book(by_profit)
    assert b.order("o1", "A", profit=None).postings == []
    out = b.order("o2", "A", profit="600.00")
    assert out.minted == D("210.00") and b.pool.holder("A").spend == D("1000.00")


def test_ca1_excluded_products_leave_the_order_amount():
    settings = AppreciationSettings(enabled=True, excluded_products=frozenset({"P2"}))
    assert order_amount(settings, [("P1", D("600.00")), ("P2", D("400.00"))]) == D("600.00")


def test_ca1_model_off_or_nothing_paid_takes_no_part():
    b = book(AppreciationSettings())
    assert b.order("o1", "A").postings == [] and b.state.pool == 0
    b = book()
    assert b.order("o1", "A", amount="0.00").postings == []
    assert b.pool.holder("A").started_at is None
    with pytest.raises(DomainError) as e:
        b.order("o2", "A", amount="-1.00")
    assert e.value.code is ErrorCode.NEGATIVE_AMOUNT


# CA-2 ---------------------------------------------------------------------------------------


def test_ca2_three_1000_orders_mint_210_147_124_95():
    b, outs = seed_three_orders()
    assert [o.minted for o in outs] == [D("210.00"), D("147.00"), D("124.95")]
    assert [o.history[-1].price for o in outs] == [D("1.43"), D("1.68"), D("1.87")]
    assert [o.history[-1].pool for o in outs] == [D("300.00"), D("600.00"), D("900.00")]
    assert b.state.circulating == D("481.95")  # the seed's 482 mints 210 / 1.68 at the displayed price
    assert [b.holding(m) for m in "ABC"] == [D("210.00"), D("147.00"), D("124.95")]
    assert all(o.sales == [] for o in outs)
    assert_zero_sum(b)


def test_ca2_local_life_160_in_112_value_minted():
    b, outs = seed_three_orders(LOCAL_LIFE)
    assert [o.postings[0].amount for o in outs] == [D("160.00")] * 3
    assert [o.minted for o in outs] == [D("112.00"), D("78.40"), D("66.64")]  # 112 × C / P, exactly
    assert [o.history[-1].price for o in outs] == [D("1.43"), D("1.68"), D("1.87")]
    assert (b.state.pool, b.state.circulating) == (D("480.00"), D("257.04"))
    assert_zero_sum(b)


def test_ca2_price_history_records_time_cause_pool_circulating_price():
    _, outs = seed_three_orders()
    r = outs[1].history[0]
    assert (r.at, r.cause, r.key, r.member, r.pool, r.circulating, r.price) == (at(1), Cause.MINT, "o1", "B", D("600.00"), D("357.00"), D("1.68"))


def test_ca2_minting_never_lowers_the_price_even_at_a_100_percent_mint_ratio():
    b = book(AppreciationSettings(enabled=True, mint_ratio=D(100)), PoolState(D("300.00"), D("210.00")), [Holder("A", D("210.00"), D("1000.00"), at(0))])
    out = b.order("o1", "B", amount="0.05", minute=1)  # 0.02 in, worth 0.02 = 0.014 points, half-up 0.01
    assert out.minted == D("0.01")
    out = b.order("o2", "B", amount="0.03", minute=2)  # 0.01 in, worth 0.01: 0.007 points would lower the price
    assert out.minted == D("0.00") and b.state.pool == D("300.03")
    assert Fraction(b.state.pool) / Fraction(b.state.circulating) >= Fraction(300, 210)


# CA-3 ---------------------------------------------------------------------------------------


def test_ca3_sale_at_2000_over_210_pays_1600_and_keeps_400():
    b = book(state=PoolState(D("2000.00"), D("210.00")), holders=[Holder("A", D("210.00"), D("1000.00"), at(0))])
    out = b.sell("s1", "A", "210.00")
    (sale,) = out.sales
    assert (sale.value, sale.paid, sale.retained, sale.forced) == (D("2000.00"), D("1600.00"), D("400.00"), False)
    assert b.balances()[(Asset.CNY, "member:A:CASH")] == D("1600.00")
    assert (b.state.pool, b.state.circulating) == (D("400.00"), D("0.00"))
    assert out.history[-1].price == D("9.52")  # CA-6: frozen at 2000 / 210
    assert b.pool.holder("A") == Holder("A")  # sold out: a later order starts again
    assert_zero_sum(b, D("2000.00"), D("210.00"))


def test_ca3_partial_sale_keeps_the_spend_and_raises_the_price():
    b, _ = seed_three_orders()
    before = Fraction(b.state.pool) / Fraction(b.state.circulating)
    out = b.sell("s1", "B", "47.00")
    assert out.sales[0].value == D("87.77")  # 47 × 900 / 481.95 = 87.767…
    assert out.sales[0].paid == D("70.22") and out.history[-1].cause is Cause.SALE
    assert b.pool.holder("B") == Holder("B", D("100.00"), D("1000.00"), at(1), participation=1)
    assert Fraction(b.state.pool) / Fraction(b.state.circulating) > before
    assert_zero_sum(b)


@pytest.mark.parametrize(
    ("points", "code"),
    [
        ("210.01", ErrorCode.INSUFFICIENT_POINTS),
        ("0", ErrorCode.INVALID_AMOUNT),
        ("0.00", ErrorCode.INVALID_AMOUNT),
        ("-1.00", ErrorCode.INVALID_AMOUNT),
        ("abc", ErrorCode.INVALID_AMOUNT),
        ("NaN", ErrorCode.INVALID_AMOUNT),
        ("1.001", ErrorCode.INVALID_AMOUNT),
        (1.5, ErrorCode.INVALID_AMOUNT),
    ],
)
def test_ca3_refuses_more_than_held_zero_negative_malformed_and_3_decimals(points, code):
    b, _ = seed_three_orders()
    state = (b.state.pool, b.state.circulating)
    with pytest.raises(DomainError) as e:
        b.pool.sell("s1", "A", points, at(100))
    assert e.value.code is code and e.value.field == "points"
    assert (b.state.pool, b.state.circulating) == state and b.holding("A") == D("210.00")


def test_ca3_a_member_without_points_cannot_sell():
    b, _ = seed_three_orders()
    with pytest.raises(DomainError) as e:
        b.pool.sell("s1", "Z", "1.00", at(100))
    assert e.value.code is ErrorCode.INSUFFICIENT_POINTS


# CA-4 ---------------------------------------------------------------------------------------


def test_ca4_first_holder_exits_3x_at_14_29_exactly():
    b, _ = seed_three_orders()
    out = b.subsidize("f1", "5984.99")  # pool 6884.99: 210 × price = 2999.99…, shown 14.29 but short of 3000 / 210
    assert out.sales == [] and out.history[-1].price == D("14.29")
    out = b.subsidize("f2", "0.01")  # pool 6885.00: price 3000 / 210 exactly, 210 points worth 3000.00
    (exit_a,) = out.sales
    assert (exit_a.member, exit_a.points, exit_a.value, exit_a.paid, exit_a.retained, exit_a.forced) == ("A", D("210.00"), D("3000.00"), D("2400.00"), D("600.00"), True)
    assert [r.cause for r in out.history] == [Cause.SUBSIDY, Cause.EXIT]
    assert [r.price for r in out.history] == [D("14.29"), D("16.49")]
    assert b.pool.holder("A") == Holder("A", participation=1) and (b.state.pool, b.state.circulating) == (D("4485.00"), D("271.95"))
    assert_zero_sum(b)


def test_ca4_second_holder_exits_at_20_41_and_the_cascade_takes_the_third():
    b, _ = seed_three_orders()
    b.subsidize("f1", "5985.00")  # A out at 14.29
    out = b.subsidize("f2", "1064.99", minute=101)  # pool 5549.99: short of 3000 / 147
    assert out.sales == [] and out.history[-1].price == D("20.41")
    out = b.subsidize("f3", "0.01", minute=102)  # pool 5550.00 = 271.95 × 3000 / 147
    assert [(s.member, s.value, s.paid) for s in out.exits] == [("B", D("3000.00"), D("2400.00")), ("C", D("3150.00"), D("2520.00"))]
    assert [(r.cause, r.member, r.price) for r in out.history] == [
        (Cause.SUBSIDY, None, D("20.41")),
        (Cause.EXIT, "B", D("25.21")),  # 3150 / 124.95 ≥ C's exit price 3000 / 124.95 = 24.01
        (Cause.EXIT, "C", D("25.21")),  # nothing circulates: the price stays (CA-6)
    ]
    assert (b.state.pool, b.state.circulating) == (D("630.00"), D("0.00"))
    assert_zero_sum(b)


def test_ca4_local_life_exits_1_2x_at_10_71_paying_960_keeping_240():
    b, _ = seed_three_orders(LOCAL_LIFE)
    out = b.subsidize("f1", "2274.00")  # pool 2754.00 = 257.04 × 1200 / 112
    assert out.history[0].price == D("10.71")
    (exit_a,) = out.exits
    assert (exit_a.member, exit_a.value, exit_a.paid, exit_a.retained) == ("A", D("1200.00"), D("960.00"), D("240.00"))
    assert_zero_sum(b)


def test_ca4_oldest_participation_exits_first_then_member_id():
    b = book()
    for i, (m, minute) in enumerate([("Z", 0), ("Y", 1), ("X", 1), ("W", 2)]):
        b.order(f"o{i}", m, minute=minute)
    out = b.subsidize("f1", "100000.00")
    assert [s.member for s in out.exits] == ["Z", "X", "Y", "W"]
    assert b.state.circulating == 0 and all(b.pool.holder(m) == Holder(m, participation=1) for m in "WXYZ")
    assert_zero_sum(b)


def test_ca4_an_older_holder_reached_during_the_cascade_exits_before_younger_ones_already_qualifying():
    # At 15 B (exit price 15) and C (12) qualify, A (oldest, 18) does not; B's exit lifts the price to 19.
    holders = [Holder("A", D("100.00"), D("600.00"), at(0)), Holder("B", D("200.00"), D("1000.00"), at(1)), Holder("C", D("50.00"), D("200.00"), at(2))]
    b = book(state=PoolState(D("5250.00"), D("350.00")), holders=holders)
    out = b.subsidize("f1", "0.01")
    assert [s.member for s in out.exits] == ["B", "A", "C"]
    assert b.state.circulating == 0
    assert_zero_sum(b, D("5250.00"), D("350.00"))


def test_ca4_a_sale_and_a_mint_change_the_price_and_run_exits_too():
    holders = [Holder("A", D("210.00"), D("1000.00"), at(0)), Holder("B", D("100.00"), D("10000.00"), at(1))]
    b = book(state=PoolState(D("4425.00"), D("310.00")), holders=holders)  # 14.27, A's exit price 14.29
    out = b.sell("s1", "B", "10.00")  # 114.19 paid, 28.55 kept: 4310.81 / 300 = 14.37
    assert [(s.member, s.forced) for s in out.sales] == [("B", False), ("A", True)]
    assert [r.cause for r in out.history] == [Cause.SALE, Cause.EXIT]
    b = book(state=PoolState(D("4425.00"), D("310.00")), holders=holders)
    out = b.order("o1", "C", amount="10000.00", minute=5)  # 3000 in, 147.12 minted: 7425 / 457.12 = 16.24
    assert out.minted == D("147.12") and [s.member for s in out.exits] == ["A"]


def test_ca4_exited_member_rejoins_with_spend_from_zero():
    b, _ = seed_three_orders()
    b.subsidize("f1", "5985.00")
    out = b.order("o9", "A", minute=200)
    h = b.pool.holder("A")
    assert (h.spend, h.started_at, h.points) == (D("1000.00"), at(200), out.minted)
    assert out.minted == D("12.73")  # 210 × 271.95 / 4485 = 12.733…
    assert_zero_sum(b)


def test_ca4_a_further_order_adds_spend_and_points_and_re_keys_the_exit_price():
    b, _ = seed_three_orders()
    b.order("o3", "A", minute=3)  # A: 2000 spent, 210 + 210 × 481.95 / 900 = 112.455 → 112.46 points
    h = b.pool.holder("A")
    assert (h.spend, h.points, h.started_at) == (D("2000.00"), D("322.46"), at(0))
    assert h.exit_price(SEED.exit_multiple) == Fraction(6000) / Fraction(D("322.46"))
    assert h.exit_price(SEED.exit_multiple) > 18
    out = b.subsidize("f1", str(D("15") * b.state.circulating - b.state.pool))  # price 15: past A's first exit price
    assert out.exits == []


def test_ca4_no_exit_scans_the_holders_the_index_is_asked_only_for_new_ranges():
    index = CountingIndex([Holder(f"M{i:05}", D("100.00"), D("1000.00"), at(i)) for i in range(20000)])
    pool = AppreciationPool(SEED, PoolState(D("20000.00"), D("2000000.00")), index)
    for i in range(50):
        out = pool.complete_order(f"o{i}", f"N{i}", D("1000.00"), None, at(30000 + i))
        assert out.sales == []
    assert index.returned == 0 and index.calls <= 50 and len(pool.known) == 50


def test_ca4_an_index_that_must_load_stops_between_exits_and_resumes():
    holders = [Holder(m, D("100.00"), D(spend), at(i)) for i, (m, spend) in enumerate([("A", "300.00"), ("B", "310.00"), ("C", "320.00")])]
    direct = book(state=PoolState(D("900.00"), D("300.00")), holders=holders)
    expected = direct.subsidize("f1", "1800.00")  # price 9: A out at 9, then B at 9.30, then C at 9.60
    assert [s.member for s in expected.exits] == ["A", "B", "C"]
    lazy = LoadingIndex(holders)
    pool = AppreciationPool(SEED, PoolState(D("900.00"), D("300.00")), lazy)
    out = pool.subsidize("f1", "1800.00", at(100))
    parts = [out]
    while out.need is not None:
        lazy.load(out.need)
        out = pool.continue_exits()
        parts.append(out)
    assert len(parts) == 4  # one load before each exit
    assert [p for o in parts for p in o.postings] == expected.postings
    assert [s for o in parts for s in o.sales] == expected.sales


class CountingIndex(MemoryHolderIndex):
    def __init__(self, holders: Iterable[Holder]) -> None:
        super().__init__(holders)
        self.calls = 0
        self.returned = 0

    def reaching(self, lower: Fraction | None, upper: Fraction) -> list[Holder]:
        found = super().reaching(lower, upper)
        self.calls += 1
        self.returned += len(found)
        return found


class LoadingIndex(MemoryHolderIndex):
    """Answers only ranges it has loaded, like a store-backed index between two queries."""

    def __init__(self, holders: Iterable[Holder]) -> None:
        super().__init__(holders)
        self.upto: Fraction | None = None

    def load(self, need: NeedHolders) -> None:
        self.upto = need.upper

    def reaching(self, lower: Fraction | None, upper: Fraction) -> Sequence[Holder] | NeedHolders:
        if self.upto is None or upper > self.upto:
            return NeedHolders(lower, upper)
        return super().reaching(lower, upper)


def test_ca4_memory_index_reaching_is_exclusive_below_inclusive_above():
    hs = [Holder("A", D("100.00"), D("1000.00"), at(0)), Holder("B", D("100.00"), D("2000.00"), at(1)), Holder("C", D("3.00"), D("100.00"), at(2))]
    index = MemoryHolderIndex(hs)
    assert [h.member for h in index.reaching(None, Fraction(10))] == ["A"]
    assert [h.member for h in index.reaching(Fraction(10), Fraction(100, 3))] == ["B", "C"]
    index.save(Holder("B"))
    assert [h.member for h in index.reaching(Fraction(10), Fraction(100))] == ["C"] and len(index) == 2


# CA-5, CA-6 ---------------------------------------------------------------------------------


def test_ca5_subsidy_raises_the_price_and_refuses_nothing_or_less():
    b, _ = seed_three_orders()
    out = b.subsidize("f1", "100.00")
    assert out.postings[0].source == SUBSIDY and out.history[0].price == D("2.07")
    for bad in ("0.00", "-5.00", "x", "1.005"):
        with pytest.raises(DomainError) as e:
            b.pool.subsidize("f2", bad, at(101))
        assert e.value.code is ErrorCode.INVALID_AMOUNT
    assert_zero_sum(b)


def test_ca6_price_stays_while_nothing_circulates_and_the_next_mint_uses_it():
    b, _ = seed_three_orders()
    b.subsidize("f1", "5985.00")
    b.subsidize("f2", "1065.00", minute=101)  # B and C out: price frozen at 3150 / 124.95
    assert b.state.last_price == Quote(D("3150.00"), D("124.95"))
    out = b.subsidize("f3", "70.00", minute=102)
    assert out.history[0].price == D("25.21") and b.state.pool == D("700.00")
    out = b.order("o9", "D", minute=103)  # 210 × 124.95 / 3150 = 8.33
    assert out.minted == D("8.33") and out.history[0].price == D("120.05")  # 1000 / 8.33
    assert_zero_sum(b)


def test_ca6_initial_price_before_anything_circulates():
    b = book(AppreciationSettings(enabled=True, initial_price=D("2.00")))
    assert b.order("o1", "A").minted == D("105.00")


# CA-7, settings, DR-7 -----------------------------------------------------------------------


def test_ca7_appreciation_points_are_their_own_asset_and_every_step_is_a_transfer():
    b, _ = seed_three_orders()
    b.subsidize("f1", "5985.00")
    bal = b.balances()
    assert bal[(Asset.APPRECIATION_POINTS, "member:B:APPRECIATION_POINTS")] == D("147.00")
    assert bal[(Asset.APPRECIATION_POINTS, "member:A:APPRECIATION_POINTS")] == 0
    assert bal[(Asset.CNY, FUNDING)] == D("-900.00") and bal[(Asset.CNY, SUBSIDY)] == D("-5985.00")
    assert bal[(Asset.CNY, "member:A:CASH")] == D("2400.00")
    assert not any(p.asset is Asset.POINTS for p in b.postings)
    assert_zero_sum(b)


def test_ca_settings_parse_and_refuse_out_of_range():
    s = AppreciationSettings.parse(
        {"enabled": True, "contribution_base": "AMOUNT", "contribution_ratio": "30", "mint_ratio": "70", "retention_ratio": "20", "exit_multiple": "3", "initial_price": "1.00"}
    )
    assert s == SEED
    assert AppreciationSettings.parse({"exit_multiple": "1.2"}, s).exit_multiple == D("1.2")
    for values, name in [
        ({"mint_ratio": "0"}, "mint_ratio"),
        ({"mint_ratio": "100.01"}, "mint_ratio"),
        ({"retention_ratio": "100"}, "retention_ratio"),
        ({"exit_multiple": "1"}, "exit_multiple"),
        ({"exit_multiple": "1.00001"}, "exit_multiple"),
        ({"contribution_ratio": "0"}, "contribution_ratio"),
        ({"initial_price": "0"}, "initial_price"),
        ({"contribution_base": "REVENUE"}, "contribution_base"),
        ({"exit_multipel": "3"}, "exit_multipel"),
    ]:
        with pytest.raises(DomainError) as e:
            AppreciationSettings.parse(values)
        assert e.value.field == name
    assert AppreciationSettings.parse({"retention_ratio": "0"}).retention_ratio == 0


def test_dr7_exit_multiple_times_100_above_max_static_return_is_flagged():
    assert SEED.static_return == D(300)
    finding = check_compliance(SEED, D(100), enforce=False)
    assert finding is not None and (finding.model, finding.setting, finding.value, finding.limit, finding.status) == ("appreciation", "exit_multiple", D(300), D(100), "WARN")
    assert check_compliance(SEED, D(300), enforce=True) is None
    with pytest.raises(DomainError) as e:
        check_compliance(LOCAL_LIFE, D(100), enforce=True)
    assert e.value.code is ErrorCode.COMPLIANCE_LIMIT
    overridden = AppreciationSettings(enabled=True, compliance_override=True)
    finding = check_compliance(overridden, D(100), enforce=True)
    assert finding is not None and finding.status == "OVERRIDDEN"


# Refunds (SPEC is silent) ----------------------------------------------------------------------


def test_ca_refund_claws_back_the_minted_points_keeps_the_contribution_and_raises_the_price():
    b, _ = seed_three_orders()
    out = b.take(b.pool.refund_order("r1", "C", D("1000.00"), D("124.95"), 1, at(5)))
    assert [p.key for p in out.postings] == ["ca:r1:clawback"] and out.history[-1].cause is Cause.REFUND
    assert b.pool.holder("C") == Holder("C", participation=1) and (b.state.pool, b.state.circulating) == (D("900.00"), D("357.00"))
    assert out.history[-1].price == D("2.52")
    assert_zero_sum(b)


def test_ca_refund_of_a_line_takes_its_share_and_a_later_participation_is_left_alone():
    assert clawback(D("210.00"), D("1000.00"), D("400.00")) == D("84.00") and clawback(D("210.00"), D("1000.00"), D("1000.00")) == D("210.00")
    b, _ = seed_three_orders()
    b.take(b.pool.refund_order("r1", "A", D("400.00"), D("84.00"), 1, at(5)))
    assert b.pool.holder("A") == Holder("A", D("126.00"), D("600.00"), at(0), 1)
    b.sell("s1", "A", "126.00", minute=6)
    b.order("o9", "A", minute=7)  # a new participation: the old order's refund reaches nothing
    before = b.pool.holder("A")
    out = b.take(b.pool.refund_order("r2", "A", D("600.00"), D("126.00"), 1, at(8)))
    assert out.postings == [] and b.pool.holder("A") == before and before.participation == 2
