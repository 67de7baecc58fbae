"""Union queue 工会排队, pure (UQ-1..UQ-5)."""

from collections import Counter
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset
from domain.union_queue import (
    FUNDING,
    LIABILITY,
    POOL,
    PROMISED,
    SettlementRun,
    Status,
    UEntitlement,
    UnionQueueSettings,
    accelerate,
    average_daily_inflow,
    cancel,
    contribute,
    forecast_days,
    join,
    pay_boosts,
    settle_batch,
    settle_dues,
    settle_stream,
)

ON = UnionQueueSettings(enabled=True)


def ent(key: str, total: str, position: int, received: str = "0.00", boost: str = "0.00") -> UEntitlement:
    return UEntitlement(key=key, member=f"m{key}", order=key, position=position, total=D(total), received=D(received), boost=D(boost))


def cash(postings, member: str) -> D:
    return sum((p.amount for p in postings if p.asset is Asset.CNY and p.target == f"member:{member}:CASH"), D(0))


def assert_balanced(postings) -> dict[tuple[Asset, str], D]:
    """C-5: for every asset the balances over all accounts sum to zero; every key is unique."""
    bal: dict[tuple[Asset, str], D] = {}
    for p in postings:
        bal[(p.asset, p.target)] = bal.get((p.asset, p.target), D(0)) + p.amount
        bal[(p.asset, p.source)] = bal.get((p.asset, p.source), D(0)) - p.amount
    for asset in {a for a, _ in bal}:
        assert sum((v for (a, _), v in bal.items() if a is asset), D(0)) == 0
    assert not [k for k, n in Counter(p.key for p in postings).items() if n > 1]
    return bal


def run_day(pool: str, entitlements: list[UEntitlement], day: str = "2024-05-01", batch: int = 2, boosted=()):
    run = SettlementRun(day=day, pool=D(pool))
    batches = [entitlements[i : i + batch] for i in range(0, len(entitlements), batch)]
    postings = [p for chunk in settle_stream(run, [list(boosted)], batches) for p in chunk]
    return run, postings


def test_uq1_profit_500_at_60_percent_puts_300_in_the_pool():
    contribution, postings = contribute("o1", D(500), ON)
    assert contribution == D("300.00")
    assert [(p.key, p.source, p.target, p.amount) for p in postings] == [("uq:o1:contribute", FUNDING, POOL, D("300.00"))]
    assert contribute("o2", None, ON) == (D("0.00"), [])
    assert contribute("o3", D(-5), ON) == (D("0.00"), [])


def test_uq2_1000_paid_earns_an_entitlement_of_1100_at_the_tail():
    e, postings = join("o1", "M", D(1000), tail=41, settings=ON)
    assert (e.total, e.position, e.status, e.received) == (D("1100.00"), 42, Status.WAITING, D("0.00"))
    assert [(p.key, p.source, p.target, p.asset, p.amount) for p in postings] == [
        ("uq:o1:join", PROMISED, LIABILITY, Asset.ENTITLEMENT, D("1100.00"))
    ]


def test_c11_disabled_model_contributes_and_joins_nothing():
    off = UnionQueueSettings()
    assert contribute("o1", D(500), off) == (D("0.00"), [])
    assert join("o1", "M", D(1000), 0, off) == (None, [])


def test_uq3_300000_pays_oldest_in_full_and_stops_at_the_first_that_does_not_fit():
    ents = [ent("e1", "110000.00", 1), ent("e2", "110000.00", 2), ent("e3", "110000.00", 3), ent("e4", "1100.00", 4)]
    run, postings = run_day("300000.00", ents)
    assert [e.status for e in ents] == [Status.COMPLETED, Status.COMPLETED, Status.WAITING, Status.WAITING]
    assert cash(postings, "me4") == D("0.00")  # e4 would fit but stands behind e3
    assert (run.pool, run.paid, run.paid_count, run.stopped) == (D("80000.00"), D("220000.00"), 2, True)
    bal = assert_balanced(postings)
    assert bal[(Asset.CNY, POOL)] == D("-220000.00") and bal[(Asset.ENTITLEMENT, LIABILITY)] == D("-220000.00")
    assert set(run.touched) == {"e1", "e2"}


def test_uq3_pool_carries_over_to_the_next_day():
    ents = [ent("e1", "1100.00", 1), ent("e2", "1100.00", 2)]
    day1, _ = run_day("1500.00", ents, day="d1")
    day2, postings = run_day(str(day1.pool + D("800.00")), ents, day="d2")
    assert (day1.pool, day2.pool) == (D("400.00"), D("100.00"))
    assert [p.key for p in postings] == ["uq:d2:pay:e2", "uq:d2:settle:through:2"]


def test_uq3_pays_the_remaining_of_a_partly_boosted_entitlement():
    ents = [ent("e1", "1100.00", 1, received="1000.00")]
    run, postings = run_day("100.00", ents)
    assert cash(postings, "me1") == D("100.00") and ents[0].status is Status.COMPLETED and run.pool == D("0.00")


def test_uq3_streaming_stops_and_pulls_no_further_batch():
    pulled: list[int] = []

    def batches():
        for b in range(5):
            pulled.append(b)
            yield [ent(f"b{b}e{i}", "100.00", b * 3 + i + 1) for i in range(3)]

    run = SettlementRun(day="d", pool=D("450.00"))
    postings = [p for chunk in settle_stream(run, [], batches()) for p in chunk]
    assert pulled == [0, 1] and run.stopped and run.paid_count == 4 and run.pool == D("50.00")
    assert settle_batch(run, [ent("late", "1.00", 99)]) == ([], True)  # a stopped run pays nothing more
    assert_balanced(postings)


def test_uq3_settle_batch_reports_not_stopped_while_the_pool_lasts():
    run = SettlementRun(day="d", pool=D("1000.00"))
    postings, stopped = settle_batch(run, [ent("a", "300.00", 1), ent("b", "300.00", 2)])
    assert not stopped and run.pool == D("400.00")
    assert [(p.key, p.source, p.amount) for p in postings] == [
        ("uq:d:pay:a", POOL, D("300.00")), ("uq:d:pay:b", POOL, D("300.00")),
        ("uq:d:settle:through:2", LIABILITY, D("600.00")),  # the batch's promises settled in one transfer
    ]
    postings, stopped = settle_batch(run, [ent("c", "300.00", 3), ent("d", "300.00", 4)])
    assert stopped and [p.key for p in postings] == ["uq:d:pay:c", "uq:d:settle:through:3"]
    assert settle_batch(SettlementRun(day="d", pool=D("1.00")), [ent("e", "300.00", 5)]) == ([], True)  # nothing paid: nothing settled


def test_uq3_rerunning_the_same_day_from_the_same_state_gives_the_same_keys():
    def fresh():
        return [ent("e1", "100.00", 1, boost="30.00"), ent("e2", "200.00", 2), ent("e3", "500.00", 3)]

    first = fresh()
    _, p1 = run_day("350.00", first, boosted=[first[0]])
    again = fresh()
    _, p2 = run_day("350.00", again, boosted=[again[0]])
    assert [(p.key, p.amount) for p in p1] == [(p.key, p.amount) for p in p2]
    assert {p.key for p in p1} == {
        "uq:2024-05-01:boost:e1", "uq:2024-05-01:boost_settle:e1",
        "uq:2024-05-01:pay:e1", "uq:2024-05-01:pay:e2", "uq:2024-05-01:settle:through:2",
    }
    _, p3 = run_day("350.00", fresh(), day="2024-05-02")
    assert not {p.key for p in p1} & {p.key for p in p3}


def test_uq4_referral_order_boosts_the_referrers_oldest_entitlement_paid_first():
    settings = UnionQueueSettings(enabled=True, acceleration_ratio=D(50))
    contribution, _ = contribute("o9", D(500), settings)
    head, referrers = ent("h", "1100.00", 1), ent("r", "1100.00", 7)
    assert accelerate(referrers, contribution, settings) == D("150.00") and referrers.boost == D("150.00")
    run, postings = run_day("200.00", [head, referrers], boosted=[referrers])
    assert cash(postings, "mr") == D("150.00") and cash(postings, "mh") == D("0.00")
    assert (referrers.received, referrers.boost, referrers.status) == (D("150.00"), D("0.00"), Status.WAITING)
    assert run.pool == D("50.00") and run.stopped
    assert_balanced(postings)


def test_uq4_boost_is_capped_so_received_plus_boost_never_exceeds_total():
    settings = UnionQueueSettings(enabled=True, acceleration_ratio=D(100))
    e = ent("r", "1100.00", 1, received="1000.00", boost="40.00")
    assert accelerate(e, D("300.00"), settings) == D("60.00") and e.received + e.boost == e.total
    assert accelerate(e, D("300.00"), settings) == D("0.00")
    assert accelerate(None, D("300.00"), settings) == D("0.00")
    assert accelerate(ent("x", "10.00", 2), D("300.00"), ON) == D("0.00")  # default ratio 0: off


def test_uq4_boost_larger_than_the_pool_is_paid_in_part_and_the_rest_stays_pending():
    run = SettlementRun(day="d", pool=D("100.00"))
    e = ent("r", "1100.00", 5, boost="150.00")
    postings = pay_boosts(run, [e])
    assert (e.received, e.boost, run.pool) == (D("100.00"), D("50.00"), D("0.00"))
    assert cash(postings, "mr") == D("100.00")


def test_uq4_a_boost_that_completes_an_entitlement_is_not_paid_again_from_a_stale_batch_row():
    run = SettlementRun(day="d", pool=D("500.00"))
    pay_boosts(run, [ent("r", "100.00", 3, received="60.00", boost="40.00")])
    assert run.touched["r"].status is Status.COMPLETED
    stale = [ent("a", "100.00", 1), ent("r", "100.00", 3, received="60.00", boost="40.00"), ent("b", "100.00", 4)]
    postings, stopped = settle_batch(run, stale)
    assert [p.key for p in postings if p.asset is Asset.CNY] == ["uq:d:pay:a", "uq:d:pay:b"] and not stopped
    assert run.pool == D("260.00")


def test_uq_cancel_releases_the_unpaid_promise():
    e = ent("e", "1100.00", 1, received="100.00", boost="20.00")
    postings = cancel(e)
    assert [(p.source, p.target, p.asset, p.amount) for p in postings] == [(LIABILITY, PROMISED, Asset.ENTITLEMENT, D("1000.00"))]
    assert (e.status, e.boost) == (Status.CANCELLED, D("0.00")) and cancel(e) == []


def test_uq_full_scenario_balances_per_asset_with_unique_keys():
    postings, tail, ents = [], 0, []
    for i, (paid, profit) in enumerate([("1000", "500"), ("2000", "900"), ("500", None)]):
        _, p = contribute(f"o{i}", D(profit) if profit else None, ON)
        e, j = join(f"o{i}", f"m{i}", D(paid), tail, ON)
        postings += p + j
        tail, ents = e.position, [*ents, e]
    run, paid = run_day("840.00", ents)
    postings += paid
    bal = assert_balanced(postings)
    assert bal[(Asset.CNY, POOL)] == run.pool == D("840.00")  # 300 + 540 in; the head's 1100 does not fit
    assert bal[(Asset.ENTITLEMENT, LIABILITY)] == D("3850.00")


def test_uq5_forecast_is_ceiling_of_remaining_over_average_inflow():
    assert forecast_days(D("300000.00"), D("100000.00")) == 3
    assert forecast_days(D("300000.01"), D("100000.00")) == 4
    assert forecast_days(D("1.00"), D("100000.00")) == 1
    assert forecast_days(D("0.00"), D("0.00")) == 0
    assert forecast_days(D("1100.00"), D("0.00")) is None
    assert average_daily_inflow([D("100.00"), D("200.00"), D("100.01")]) == D("133.33")
    assert average_daily_inflow([]) == D("0.00")


def test_uq_settings_defaults_partial_update_and_typed_errors():
    s = UnionQueueSettings.parse({})
    assert (s.enabled, s.pool_ratio, s.quota_ratio, s.acceleration_ratio, s.settlement_time) == (False, D(60), D(110), D(0), "00:00")
    t = UnionQueueSettings.parse({"settlement_time": "23:30"}, base=UnionQueueSettings.parse({"enabled": True}))
    assert t.enabled and t.settlement_hour_minute == (23, 30)
    for bad, code in [
        ({"settlement_time": "24:00"}, ErrorCode.INVALID_SETTINGS),
        ({"settlement_time": "7:00"}, ErrorCode.INVALID_SETTINGS),
        ({"settlement_time": 700}, ErrorCode.INVALID_SETTINGS),
        ({"pool_ratio": "100.5"}, ErrorCode.INVALID_RATIO),
        ({"acceleration_ratio": "-1"}, ErrorCode.INVALID_RATIO),
        ({"quota_ratio": "1.23456"}, ErrorCode.INVALID_RATIO),
        ({"pool": "60"}, ErrorCode.INVALID_SETTINGS),
    ]:
        with pytest.raises(DomainError) as err:
            UnionQueueSettings.parse(bad)
        assert err.value.code is code, bad


def test_uq2_refuses_a_negative_amount():
    with pytest.raises(DomainError) as err:
        join("o1", "M", D(-1), 0, ON)
    assert err.value.code is ErrorCode.NEGATIVE_AMOUNT


def test_uq3_settle_dues_pays_a_range_and_stops_at_the_first_that_does_not_fit():
    run = SettlementRun(day="d", pool=D("250.00"))
    assert settle_dues(run, [(3, 10000), (4, 0), (7, 10000), (8, 10000), (9, 100)]) == 7  # 8 does not fit; 9 would
    assert (run.pool, run.paid, run.paid_count, run.stopped, run.touched) == (D("50.00"), D("200.00"), 2, True, {})
    assert settle_dues(run, [(10, 100)]) is None  # a stopped run pays no more


def test_uq3_settle_dues_pays_nothing_when_the_first_does_not_fit():
    run = SettlementRun(day="d", pool=D("99.99"))
    assert settle_dues(run, [(1, 10000), (2, 100)]) is None and run.stopped and run.pool == D("99.99")


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50_000)), max_size=30), st.integers(0, 500_000))
def test_uq3_settle_dues_decides_as_settle_batch(rows: list[tuple[int, int]], pool_fen: int):
    """The range `settle_dues` returns holds exactly the entitlements `settle_batch` pays, and the run moves alike."""
    waiting = [ent(f"e{i}", str(D(total + received) / 100), i + 1, received=str(D(received) / 100))
               for i, (received, total) in enumerate((r * 1000, t) for r, t in rows)]
    by_batch, by_dues = SettlementRun(day="d", pool=D(pool_fen) / 100), SettlementRun(day="d", pool=D(pool_fen) / 100)
    _, stopped = settle_batch(by_batch, [replace(e) for e in waiting])
    through = settle_dues(by_dues, [(e.position, int((e.total - e.received) * 100)) for e in waiting])
    paid = [e.position for e in waiting if e.total > e.received and through is not None and e.position <= through]
    assert sorted(by_batch.touched[e.key].position for e in waiting if e.key in by_batch.touched) == paid
    assert (by_dues.pool, by_dues.paid, by_dues.paid_count, by_dues.stopped) == (by_batch.pool, by_batch.paid, by_batch.paid_count, stopped)
