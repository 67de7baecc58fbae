"""Order dividend 订单分红, pure (OD-1..OD-5, seed 002)."""

from collections import Counter, deque
from decimal import Decimal as D

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset
from domain.order_dividend import (
    FUNDING,
    POOL,
    DividendEntry,
    DividendState,
    NeedMore,
    OrderDividendSettings,
    Status,
    cancel_order,
    promote,
    settle_completed_order,
)

ON = OrderDividendSettings(enabled=True)


def entry(key: str, cap: str, status: Status = Status.ACTIVE, position: int = 0, received: str = "0.00") -> DividendEntry:
    return DividendEntry(key=key, member=key, position=position, amount=D(cap), cap=D(cap), received=D(received), status=status)


def abc_active(cap: str = "10000.00", pool: str = "0.00") -> DividendState:
    """Seed 002: A, B and C are the first three, ACTIVE; caps large enough not to matter."""
    active = [entry(k, cap, position=i + 1) for i, k in enumerate("ABC")]
    return DividendState(pool=D(pool), active=active, next_position=4, waiting_loaded_upto=3, db_tail=3)


def cash(postings, member: str) -> D:
    return sum((p.amount for p in postings if p.asset is Asset.CNY and p.target == f"member:{member}:CASH"), D(0))


def balances(postings) -> dict[tuple[Asset, str], D]:
    out: dict[tuple[Asset, str], D] = {}
    for p in postings:
        out[(p.asset, p.target)] = out.get((p.asset, p.target), D(0)) + p.amount
        out[(p.asset, p.source)] = out.get((p.asset, p.source), D(0)) - p.amount
    return out


def assert_balanced(postings, state: DividendState, pool_before: str = "0.00") -> None:
    """C-5: per asset the balances sum to zero; every key is unique; the pool account is the state's pool."""
    bal = balances(postings)
    for asset in {a for a, _ in bal}:
        assert sum((v for (a, _), v in bal.items() if a is asset), D(0)) == 0
    assert not [k for k, n in Counter(p.key for p in postings).items() if n > 1]
    assert D(pool_before) + bal.get((Asset.CNY, POOL), D(0)) == state.pool


def settle(state, key, amount, referrer=None, settings=ON, member=None):
    result = settle_completed_order(state, settings, key, member or key, referrer, D(amount))
    assert not isinstance(result, NeedMore)
    return result


def test_od5_d_600_pays_240_as_80_each_seed_prints_60():
    s = abc_active()
    postings = settle(s, "D", "600", referrer="R")
    assert [cash(postings, m) for m in "ABC"] == [D("80.00")] * 3
    assert cash(postings, "R") == D("120.00") and s.pool == D("0.00")
    assert_balanced(postings, s)


def test_od5_e_1000_pays_133_33_each_and_0_01_to_the_pool():
    s = abc_active()
    postings = settle(s, "E", "1000", referrer="R")
    assert [cash(postings, m) for m in "ABC"] == [D("133.33")] * 3
    assert s.pool == D("0.01")
    assert_balanced(postings, s)


def test_od4_f_with_referrer_pays_40_to_referrer_and_splits_the_80_dividend():
    s = abc_active()
    postings = settle(s, "F", "200", referrer="R")
    assert cash(postings, "R") == D("40.00")
    assert [cash(postings, m) for m in "ABC"] == [D("26.66")] * 3
    assert s.pool == D("0.02")
    assert_balanced(postings, s)
    funding = {p.key: (p.source, p.target, p.amount) for p in postings if p.source == FUNDING}
    assert funding == {"od:F:fund": (FUNDING, POOL, D("80.00")), "od:F:referral": (FUNDING, "member:R:CASH", D("40.00"))}


def test_od4_g_without_referrer_shares_its_60_referral_in_the_same_split_with_the_carried_pool():
    s = abc_active(pool="0.02")
    postings = settle(s, "G", "300")
    assert [cash(postings, m) for m in "ABC"] == [D("60.00")] * 3  # 120 + 60 + 0.02 = 180.02
    assert s.pool == D("0.02")  # one split, one remainder
    assert_balanced(postings, s, pool_before="0.02")


def test_od2_seed_sequence_d_e_f_g_carries_the_pool_into_the_next_reward():
    s, out = abc_active(), []
    out += settle(s, "D", "600", referrer="R")
    out += settle(s, "E", "1000", referrer="R")
    assert s.pool == D("0.01")
    f = settle(s, "F", "200", referrer="R")
    assert [cash(f, m) for m in "ABC"] == [D("26.67")] * 3 and s.pool == D("0.00")  # 80 + 0.01
    out += f
    out += settle(s, "G", "300")
    assert [cash(out, m) for m in "ABC"] == [D("300.00")] * 3  # 80 + 133.33 + 26.67 + 60
    assert cash(out, "R") == D("360.00") and s.pool == D("0.00")
    assert [e.key for e in s.active] == ["A", "B", "C"] and [e.key for e in s.waiting] == ["D", "E", "F", "G"]
    assert [e.position for e in s.waiting] == [4, 5, 6, 7] and s.next_position == 8
    assert_balanced(out, s)


def test_od1_first_order_with_no_active_puts_the_whole_reward_in_the_pool_and_becomes_active():
    s = DividendState()
    postings = settle(s, "o1", "100")
    assert s.pool == D("60.00")  # 40 dividend + 20 referral with no referrer
    assert [(e.key, e.status, e.cap) for e in s.active] == [("o1", Status.ACTIVE, D("100.00"))]
    assert_balanced(postings, s)


def test_od1_orders_are_active_until_the_slots_are_full_then_wait():
    s, settings = DividendState(), OrderDividendSettings(enabled=True, free_ratio=D(1000))
    for key in ["o1", "o2", "o3", "o4", "o5"]:
        settle(s, key, "100", referrer="R", settings=settings)
    assert [e.key for e in s.active] == ["o1", "o2", "o3"]
    assert [(e.key, e.status) for e in s.waiting] == [("o4", Status.WAITING), ("o5", Status.WAITING)]
    # o1: 40 to the pool; o2: 40 + 40 to o1; o3: 20 each; o4: 13.33 each + 0.01; o5: 40.01 → 13.33 each + 0.02
    assert [s.touched[k].received for k in ["o1", "o2", "o3"]] == [D("126.66"), D("46.66"), D("26.66")]
    assert s.pool == D("0.02")


def test_od1_cap_is_amount_times_free_ratio():
    s = DividendState()
    settle(s, "o1", "168", settings=OrderDividendSettings(enabled=True, free_ratio=D(130)))
    assert s.active[0].cap == D("218.40")


def test_od3_cap_reached_is_done_over_cap_to_pool_and_next_waiting_becomes_active_after_the_payouts():
    s = abc_active()
    s.active[0] = entry("A", "100.00", position=1, received="90.00")
    s.waiting.append(entry("W", "500.00", Status.WAITING, position=4))
    s.next_position, s.waiting_loaded_upto, s.db_tail = 5, 4, 4
    postings = settle(s, "X", "1000", referrer="R")  # 400 → 133.33 each, A can take only 10
    assert cash(postings, "A") == D("10.00") and cash(postings, "B") == D("133.33")
    assert cash(postings, "W") == D("0.00")  # promoted after this order's payouts
    assert s.pool == D("123.34")  # 123.33 over A's cap + 0.01 remainder
    assert s.touched["A"].status is Status.DONE and s.touched["W"].status is Status.ACTIVE
    assert [e.key for e in s.active] == ["B", "C", "W"] and [e.key for e in s.waiting] == ["X"]
    assert_balanced(postings, s)
    nxt = settle(s, "Y", "300", referrer="R")  # 120 + 123.34 pool = 243.34 → 81.11 each
    assert [cash(nxt, m) for m in ["B", "C", "W"]] == [D("81.11")] * 3 and s.pool == D("0.01")


def test_od3_with_no_waiting_a_freed_place_goes_to_the_new_order():
    s = abc_active()
    s.active[2] = entry("C", "10.00", position=3)
    settle(s, "X", "300", referrer="R")  # 120 → 40 each, C capped at 10
    assert s.touched["C"].status is Status.DONE
    assert [(e.key, e.status) for e in s.active] == [("A", Status.ACTIVE), ("B", Status.ACTIVE), ("X", Status.ACTIVE)]
    assert s.pool == D("30.00")


def test_od3_need_more_when_promotion_runs_past_the_loaded_window_changes_nothing():
    s = abc_active()
    s.active[0] = entry("A", "10.00", position=1)
    s.next_position, s.db_tail = 10, 9  # positions 4..9 are stored, none loaded
    result = settle_completed_order(s, ON, "X", "X", None, D(600))
    assert isinstance(result, NeedMore)
    assert s.pool == D("0.00") and not s.touched and s.next_position == 10 and s.active[0].received == D("0.00")
    s.add_loaded([entry("W4", "50.00", Status.WAITING, position=4)], upto=4)
    postings = settle(s, "X", "600")
    assert s.touched["W4"].status is Status.ACTIVE and [e.key for e in s.fresh] == ["X"]
    assert s.touched["X"].position == 10 and cash(postings, "A") == D("10.00")


def test_od1_fresh_entries_join_the_window_once_everything_before_them_is_loaded():
    s = abc_active()
    s.next_position, s.db_tail = 6, 5
    settle(s, "X", "100", referrer="R")
    assert list(s.fresh) == [s.touched["X"]] and not s.waiting
    s.add_loaded([entry("W4", "1.00", Status.WAITING, position=4), entry("W5", "1.00", Status.WAITING, position=5)], upto=5)
    assert [e.key for e in s.waiting] == ["W4", "W5", "X"] and not s.fresh


def test_od_cancel_active_promotes_next_waiting_and_keeps_what_was_received():
    s = abc_active()
    s.active[1].received = D("50.00")
    s.waiting = deque([entry("W", "100.00", Status.WAITING, position=4)])
    s.next_position, s.waiting_loaded_upto, s.db_tail = 5, 4, 4
    cancelled = cancel_order(s, ON, "B")
    assert cancelled is not None and not isinstance(cancelled, NeedMore)
    assert (cancelled.status, cancelled.received) == (Status.CANCELLED, D("50.00"))
    assert [e.key for e in s.active] == ["A", "C", "W"] and not s.waiting
    assert set(s.touched) == {"B", "W"}
    postings = settle(s, "X", "300", referrer="R")
    assert cash(postings, "B") == D("0.00") and cash(postings, "W") == D("40.00")


def test_od_cancel_waiting_leaves_the_queue_and_unknown_or_done_is_a_no_op():
    s = abc_active()
    s.waiting = deque([entry("W", "100.00", Status.WAITING, position=4)])
    s.next_position, s.waiting_loaded_upto, s.db_tail = 5, 4, 4
    assert cancel_order(s, ON, "W").status is Status.CANCELLED
    assert not s.waiting and [e.key for e in s.active] == ["A", "B", "C"]
    assert cancel_order(s, ON, "nope") is None
    assert cancel_order(s, ON, "W") is None


def test_od_cancel_active_needs_more_when_no_waiting_is_loaded():
    s = abc_active()
    s.db_tail = 7
    assert isinstance(cancel_order(s, ON, "A"), NeedMore)
    assert s.active[0].status is Status.ACTIVE and not s.touched


def test_od_promote_fills_places_after_slots_are_raised():
    s = abc_active()
    s.waiting = deque(entry(f"W{i}", "10.00", Status.WAITING, position=i) for i in (4, 5, 6))
    s.next_position, s.waiting_loaded_upto, s.db_tail = 7, 6, 6
    promoted = promote(s, OrderDividendSettings(enabled=True, slots=5))
    assert [e.key for e in promoted] == ["W4", "W5"] and [e.key for e in s.waiting] == ["W6"]


def test_c11_disabled_model_does_nothing():
    s = abc_active()
    assert settle(s, "X", "600", settings=OrderDividendSettings()) == [] and s.next_position == 4


def test_od_refuses_negative_amount_and_a_second_settlement_of_one_order():
    s = abc_active()
    with pytest.raises(DomainError) as err:
        settle_completed_order(s, ON, "X", "X", None, D(-1))
    assert err.value.code is ErrorCode.NEGATIVE_AMOUNT
    settle(s, "X", "100")
    with pytest.raises(DomainError) as err:
        settle_completed_order(s, ON, "X", "X", None, D(100))
    assert err.value.code is ErrorCode.IDEMPOTENCY_CONFLICT


def test_od_settings_defaults_partial_update_and_typed_errors():
    s = OrderDividendSettings.parse({})
    assert (s.enabled, s.slots, s.dividend_ratio, s.referral_ratio, s.free_ratio) == (False, 3, D(40), D(20), D(100))
    t = OrderDividendSettings.parse({"enabled": True, "slots": 5}, base=OrderDividendSettings.parse({"dividend_ratio": "35.5"}))
    assert (t.enabled, t.slots, t.dividend_ratio) == (True, 5, D("35.5"))
    for bad, code in [
        ({"slots": 0}, ErrorCode.INVALID_SETTINGS),
        ({"dividend_ratio": "101"}, ErrorCode.INVALID_RATIO),
        ({"referral_ratio": "-1"}, ErrorCode.INVALID_RATIO),
        ({"free_ratio": "0"}, ErrorCode.INVALID_RATIO),
        ({"dividend_ratio": 0.4}, ErrorCode.MALFORMED_DECIMAL),
        ({"slotz": 3}, ErrorCode.INVALID_SETTINGS),
    ]:
        with pytest.raises(DomainError) as err:
            OrderDividendSettings.parse(bad)
        assert err.value.code is code, bad


def test_od1_raised_slots_make_the_next_waiting_one_active_before_the_next_split():
    """slots 2 → 3: A and B ACTIVE, C WAITING; D completes 600 at 40 % with referrer R.

    C takes the third place at once and shares D's 240: 80.00 each to A, B and C (not 120 to A
    and B with C promoted after the split). R receives 600 × 20 % = 120.00; the pool stays 0.00.
    """
    s = DividendState(active=[entry("A", "10000.00", position=1), entry("B", "10000.00", position=2)],
                      waiting=deque([entry("C", "10000.00", Status.WAITING, position=3)]), next_position=4, waiting_loaded_upto=3, db_tail=3)
    postings = settle(s, "D", "600", referrer="R", settings=OrderDividendSettings(enabled=True, slots=3))
    assert [cash(postings, m) for m in "ABC"] == [D("80.00")] * 3
    assert cash(postings, "R") == D("120.00") and s.pool == D("0.00")
    assert [e.key for e in s.active] == ["A", "B", "C"] and [e.key for e in s.waiting] == ["D"]
    assert s.touched["C"].status is Status.ACTIVE
    assert_balanced(postings, s)


def test_od1_raised_slots_need_more_when_the_waiting_ones_are_not_loaded():
    s = DividendState(active=[entry("A", "10000.00", position=1)], next_position=3, waiting_loaded_upto=1, db_tail=2)
    assert isinstance(settle_completed_order(s, ON, "D", "D", None, D(600)), NeedMore)
    assert [e.key for e in s.active] == ["A"] and not s.touched
