"""Queue rebate features, pure: lottery (QR-12), periods and limits (QR-13), exchange (QR-14),
random return (QR-15), reset (QR-16). Every posting list balances per asset (C-5)."""

import random
from collections import Counter
from datetime import datetime
from decimal import Decimal as D

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ledger import PLATFORM_INCOME, Asset, Posting
from domain.queue_rebate import PROMISED, Entitlement, Line, QueueState, Rules, Status, settle_paid_line
from domain.queue_rebate_features import (
    GroupDraw,
    MemberCounts,
    RandomReturnSettings,
    ResetSettings,
    check_can_draw,
    choose,
    convert,
    decide_random_return,
    draw,
    draw_for_entitlement,
    due_runs,
    exchange,
    in_periods,
    limit_reason,
    parse_lottery,
    parse_periods,
    parse_reset,
    recompute_after_draw,
    reset,
    unbalanced,
)
from domain.queue_rebate_settings import Channel, EntitySettings, LineContext, PluginSettings, ProductInfo, Source, resolve_line


def balanced(postings: list[Posting]) -> list[Posting]:
    """C-5: per asset, what leaves accounts equals what arrives (checked independently of `unbalanced`)."""
    for asset in Asset:
        out = sum((p.amount for p in postings if p.asset is asset), D(0))
        net = Counter()
        for p in postings:
            if p.asset is asset:
                net[p.source] -= p.amount
                net[p.target] += p.amount
        assert sum(net.values(), D(0)) == 0 and out >= 0
    assert unbalanced(postings) == {}
    return postings


def refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    return info.value


def by_key(postings):
    return {p.key: (p.source, p.target, p.asset, p.amount) for p in postings}


def ent(key="oA:0", total="218.40", received="0.00", paid="168", status=Status.WAITING, position=1, queue="qr:MALL", **kw) -> Entitlement:
    return Entitlement(key, f"m{key[1]}", key.split(":")[0], 0, queue, position, D(total), D(received), status, paid=D(paid), **kw)


def seq(*values):
    """A scripted random source: returns the values in order, checking each is below n."""
    it = iter(values)

    def rand(n: int) -> int:
        v = next(it)
        assert 0 <= v < n
        return v

    return rand


def line(key, member, paid="100", ratio="100", extraction_ratio="10") -> Line:
    p = D(paid)
    return Line(key, member, key.split(":")[0], 0, p, (p * D(extraction_ratio) / 100).quantize(D("0.01")), True, D(ratio), "test")


EX = PluginSettings.parse({"exchange_enabled": True, "exchange_to": ["POINTS", "LOVE_VALUE"], "exchange_ratio": "150"})


# --- QR-12 lottery --------------------------------------------------------------------------

def test_qr12_fixed_lottery_draws_one_of_the_list():
    lot = parse_lottery({"mode": "FIXED", "ratios": ["10", "20", "50"]}, "lottery")
    assert lot.outcomes == 3
    assert [draw(lot, k) for k in range(3)] == [D("10"), D("20"), D("50")]
    assert draw(lot, seq(2)) == D("50")
    rng = random.Random(20240601)
    counts = Counter(draw(lot, rng.randrange) for _ in range(3000))
    assert set(counts) == {D("10"), D("20"), D("50")} and all(900 < c < 1100 for c in counts.values())
    assert draw(lot, random.Random(7).randrange) == [D("10"), D("20"), D("50")][random.Random(7).randrange(3)]


def test_qr12_range_lottery_in_001_steps_inclusive():
    lot = parse_lottery({"mode": "RANGE", "min": "10", "max": "20"}, "lottery")
    assert lot.outcomes == 1001
    assert (draw(lot, 0), draw(lot, 537), draw(lot, 1000)) == (D("10.00"), D("15.37"), D("20.00"))
    small = parse_lottery({"mode": "RANGE", "min": "10", "max": "10.05"}, "lottery")
    rng = random.Random(3)
    seen = Counter(draw(small, rng.randrange) for _ in range(1200))
    assert sorted(seen) == [D("10.00"), D("10.01"), D("10.02"), D("10.03"), D("10.04"), D("10.05")]
    assert draw(parse_lottery({"mode": "RANGE", "min": "33.33", "max": "33.33"}, "l"), 0) == D("33.33")


def test_qr12_bad_random_value_refused():
    lot = parse_lottery({"mode": "FIXED", "ratios": ["10", "20"]}, "lottery")
    for bad in (2, -1, True):
        assert refused(draw, lot, bad).code is ErrorCode.INVALID_INPUT
    assert refused(draw, lot, lambda n: n).code is ErrorCode.INVALID_INPUT


def test_qr12_draw_recomputes_total_and_liability():
    e = ent()  # 168 × 130 % = 218.40
    postings = balanced(recompute_after_draw(e, D("50"), "product.lottery"))
    assert (e.total, e.ratio, e.ratio_source, e.drawn_ratio) == (D("84.00"), D("50"), "product.lottery", D("50"))
    assert by_key(postings) == {"qr:oA:0:lottery": ("liability:qr:MALL", PROMISED, Asset.ENTITLEMENT, D("134.40"))}
    up = ent()
    postings = balanced(recompute_after_draw(up, D("200"), "plugin.lottery"))
    assert up.total == D("336.00")
    assert by_key(postings) == {"qr:oA:0:lottery": (PROMISED, "liability:qr:MALL", Asset.ENTITLEMENT, D("117.60"))}
    same = ent()
    assert recompute_after_draw(same, D("130"), "product.lottery") == [] and same.drawn_ratio == D("130")


def test_qr12_draw_only_once_while_waiting_with_nothing_received():
    for e in (ent(received="10.00"), ent(status=Status.COMPLETED), ent(status=Status.EXCHANGED), ent(drawn_ratio=D("20"))):
        error = refused(recompute_after_draw, e, D("50"), "product.lottery")
        assert error.code is ErrorCode.INVALID_ENTITLEMENT_STATE
    e = ent()
    recompute_after_draw(e, D("50"), "product.lottery")
    assert refused(check_can_draw, e).code is ErrorCode.INVALID_ENTITLEMENT_STATE


def test_qr12_end_to_end_resolve_join_draw():
    """The line joins at its own ratio with the lottery on offer; the member draws 50 % from 10/20/50."""
    plugin = PluginSettings.parse({"enabled": True, "extraction_ratio": "10", "reward_ratio": "100"})
    s = EntitySettings.parse({"lottery": {"mode": "FIXED", "ratios": ["10", "20", "50"]}})
    product = ProductInfo("P1", Source.SELF_OPERATED, None, True, s)
    ctx = LineContext("o1:0", "A", "o1", 0, Channel.MALL, D("200"), D("0"), product, None, EntitySettings(), EntitySettings())
    q = QueueState("qr:MALL", D("0.00"), 1, 0)
    e, joined = settle_paid_line(q, resolve_line(ctx, plugin), plugin.rules)
    assert (e.total, e.paid, e.lottery_source, e.ratio_source) == (D("200.00"), D("200"), "product.lottery", "plugin.reward_ratio")
    ratio, postings = draw_for_entitlement(e, s.lottery, seq(2), state=q)
    assert ratio == D("50") and e.total == D("100.00") and q.touched["o1:0"] is e
    assert balanced(joined + postings) and sum(p.amount for p in postings) == D("100.00")
    # nothing of the randomness is consumed when the draw is refused
    assert refused(draw_for_entitlement, e, s.lottery, seq()).code is ErrorCode.INVALID_ENTITLEMENT_STATE
    no_lottery = ent(key="oB:0")
    assert refused(draw_for_entitlement, no_lottery, s.lottery, seq()).code is ErrorCode.INVALID_ENTITLEMENT_STATE


# --- QR-13 periods and limits ---------------------------------------------------------------

def test_qr13_period_and_limit_predicates():
    periods = parse_periods([{"start": "09:00", "end": "12:00", "weekdays": [6, 7]}], "p")
    assert in_periods(periods, datetime(2024, 5, 4, 9, 0))  # Saturday
    assert not in_periods(periods, datetime(2024, 5, 4, 8, 59, 59))
    assert not in_periods(periods, datetime(2024, 5, 6, 10, 0))  # Monday
    assert in_periods((), datetime(2024, 5, 6, 3, 0))
    assert limit_reason(2, None, MemberCounts(today=1, total=50)) == ""
    assert limit_reason(2, None, MemberCounts(today=2, total=2)) == "DAILY_LIMIT"
    assert limit_reason(None, 3, MemberCounts(today=0, total=3)) == "TOTAL_LIMIT"
    assert limit_reason(None, None, MemberCounts(99, 99)) == ""


# --- QR-14 exchange -------------------------------------------------------------------------

def test_qr14_exchange_100_remaining_at_150_gives_150_points():
    q = QueueState("qr:MALL", D("0.00"), 1, 2)
    a = ent("oA:0", total="130.00", received="30.00", position=1)
    b = ent("oB:0", total="50.00", position=2)
    q.window.extend([a, b])
    q.loaded_upto = q.db_tail = 2
    postings = balanced(exchange(q, a, "POINTS", EX))
    assert by_key(postings) == {
        "qr:oA:0:exchange": ("liability:qr:MALL", PROMISED, Asset.ENTITLEMENT, D("100.00")),
        "qr:oA:0:exchange:points": ("platform:expense:points", "member:mA:POINTS", Asset.POINTS, D("150.00")),
    }
    assert (a.status, a.exchanged_to, a.exchanged_amount, q.head) == (Status.EXCHANGED, "POINTS", D("150.00"), 2)
    # the next extraction pays B, not the exchanged A
    _, paid = settle_paid_line(q, line("oC:0", "C"), Rules())
    assert [(p.target, p.amount) for p in paid if p.memo == "payout" and p.asset is Asset.CNY] == [("member:mB:CASH", D("10.00"))]


def test_qr14_exchange_to_love_value_available_or_frozen_rounds_half_up():
    e = ent(total="33.33")
    postings = balanced(exchange(None, e, "LOVE_VALUE", EX))  # 33.33 × 150 % = 49.995 → 50.00
    assert by_key(postings)["qr:oA:0:exchange:love_value"] == ("platform:expense:love_value", "member:mA:LOVE_VALUE_AVAILABLE", Asset.LOVE_VALUE, D("50.00"))
    frozen = PluginSettings.parse({**EX.as_values(), "love_value_frozen": True})
    postings = balanced(exchange(None, ent(total="10.00"), "LOVE_VALUE", frozen))
    assert by_key(postings)["qr:oA:0:exchange:love_value"][1:] == ("member:mA:LOVE_VALUE_FROZEN", Asset.LOVE_VALUE, D("15.00"))


def test_qr14_exchange_refusals():
    for status in (Status.COMPLETED, Status.CANCELLED, Status.EXCHANGED, Status.CLEARED, Status.CONVERTED):
        error = refused(exchange, None, ent(status=status), "POINTS", EX)
        assert error.code is ErrorCode.INVALID_ENTITLEMENT_STATE
    points_only = PluginSettings.parse({"exchange_enabled": True})
    assert refused(exchange, None, ent(), "LOVE_VALUE", points_only).field == "to"
    assert refused(exchange, None, ent(), "POINTS", PluginSettings()).code is ErrorCode.INVALID_INPUT
    assert refused(exchange, None, ent(), "COUPON", EX).code is ErrorCode.INVALID_INPUT


# --- QR-15 random return --------------------------------------------------------------------

def test_qr15_group_of_three_two_points_one_cash():
    rr = RandomReturnSettings(enabled=True, cash_count=1, points_count=2)
    # Fisher-Yates over [0, 1, 2]: swap 0↔2, then 1↔1 → chosen {2, 1}
    d0 = decide_random_return(rr, 0, None, seq(2, 0))
    assert (d0.convert, d0.new_group, d0.group) == (False, True, GroupDraw(0, frozenset({1, 2}), start=0, size=3))
    d1 = decide_random_return(rr, 1, d0.group, seq())
    d2 = decide_random_return(rr, 2, d1.group, seq())
    assert (d1.convert, d1.new_group, d2.convert, d2.offset) == (True, False, True, 2)
    d3 = decide_random_return(rr, 3, d2.group, seq(0, 0))
    assert (d3.new_group, d3.group.group_index, d3.group.start, d3.group.chosen, d3.convert) == (True, 1, 3, frozenset({0, 1}), True)
    assert GroupDraw.from_values(d3.group.as_values()) == d3.group


def test_qr15_every_group_converts_exactly_points_count_uniformly():
    rr = RandomReturnSettings(enabled=True, cash_count=3, points_count=2)
    rng = random.Random(15)
    group, per_offset, per_group = None, Counter(), Counter()
    for n in range(5 * 2000):
        d = decide_random_return(rr, n, group, rng.randrange)
        group = d.group
        if d.convert:
            per_offset[d.offset] += 1
            per_group[d.group.group_index] += 1
    assert set(per_group.values()) == {2} and len(per_group) == 2000
    assert all(700 < per_offset[i] < 900 for i in range(5))  # 2000 × 2/5 = 800 each
    assert choose(4, 4, seq(0, 0, 0, 0)) == frozenset(range(4))


def test_qr15_group_keeps_its_size_when_settings_change():
    first = decide_random_return(RandomReturnSettings(True, 1, 1), 0, None, seq(1)).group  # chosen {1}
    later = decide_random_return(RandomReturnSettings(True, 4, 1), 1, first, seq())
    assert (later.convert, later.new_group) == (True, False)
    nxt = decide_random_return(RandomReturnSettings(True, 4, 1), 2, later.group, seq(4))
    assert (nxt.group.size, nxt.group.start, nxt.group.chosen, nxt.convert) == (5, 2, frozenset({4}), False)
    assert refused(decide_random_return, RandomReturnSettings(True, 4, 1), 1, nxt.group, seq()).field == "n"
    assert refused(decide_random_return, RandomReturnSettings(), 0, None, seq()).code is ErrorCode.INVALID_INPUT


def test_qr15_converted_entitlement_never_queues():
    q = QueueState("qr:MALL", D("0.00"), 1, 0)
    rules = Rules()
    a, p1 = settle_paid_line(q, line("oA:0", "A"), rules)
    postings = balanced(p1 + convert(q, a, EX))
    assert (a.status, a.exchanged_to, a.exchanged_amount) == (Status.CONVERTED, "POINTS", D("150.00"))
    assert by_key(postings)["qr:oA:0:convert:points"] == ("platform:expense:points", "member:A:POINTS", Asset.POINTS, D("150.00"))
    assert by_key(postings)["qr:oA:0:convert"] == ("liability:qr:MALL", PROMISED, Asset.ENTITLEMENT, D("100.00"))
    b, p2 = settle_paid_line(q, line("oB:0", "B"), rules)
    assert all(p.memo != "payout" for p in p2) and q.head == 2  # A was skipped; B pays nobody
    _, p3 = settle_paid_line(q, line("oC:0", "C"), rules)
    assert [(p.target, p.amount) for p in p3 if p.asset is Asset.CNY and p.memo == "payout"] == [("member:B:CASH", D("10.00"))]
    assert refused(convert, q, b, EX).code is ErrorCode.INVALID_ENTITLEMENT_STATE  # B has received 10


# --- QR-16 reset ----------------------------------------------------------------------------

def test_qr16_reset_clears_waiting_and_forfeits_remainders():
    q = QueueState("qr:MALL", D("0.00"), 1, 3)
    a = ent("oA:0", total="100.00", received="30.00", position=1)
    b = ent("oB:0", total="80.00", received="80.00", status=Status.COMPLETED, position=2)
    c = ent("oC:0", total="50.00", position=3)
    q.window.extend([a, c])
    q.loaded_upto = q.db_tail = 3
    postings = balanced(reset([a, b, c], state=q))
    assert by_key(postings) == {
        "qr:oA:0:reset": ("liability:qr:MALL", PLATFORM_INCOME, Asset.ENTITLEMENT, D("70.00")),
        "qr:oC:0:reset": ("liability:qr:MALL", PLATFORM_INCOME, Asset.ENTITLEMENT, D("50.00")),
    }
    assert (a.status, b.status, c.status, q.head) == (Status.CLEARED, Status.COMPLETED, Status.CLEARED, 4)
    assert reset([a, b, c]) == []


def test_qr16_due_runs_daily_weekly_monthly_at():
    daily = parse_reset({"enabled": True}, "reset")
    assert due_runs(daily, datetime(2024, 5, 1, 0, 0), datetime(2024, 5, 3, 12, 0)) == [datetime(2024, 5, 2), datetime(2024, 5, 3)]
    assert due_runs(daily, datetime(2024, 5, 3, 0, 0), datetime(2024, 5, 3, 23, 59)) == []
    weekly = parse_reset({"enabled": True, "schedule": "WEEKLY", "weekday": 1, "time": "03:00"}, "reset")
    assert due_runs(weekly, datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 20, 3, 0)) == [
        datetime(2024, 5, 6, 3, 0), datetime(2024, 5, 13, 3, 0), datetime(2024, 5, 20, 3, 0),
    ]
    monthly = parse_reset({"enabled": True, "schedule": "MONTHLY", "day": 31}, "reset")
    assert due_runs(monthly, datetime(2024, 1, 31, 0, 0), datetime(2024, 4, 30, 23, 59)) == [
        datetime(2024, 2, 29), datetime(2024, 3, 31), datetime(2024, 4, 30),
    ]
    at = parse_reset({"enabled": True, "schedule": "AT", "at": "2024-06-01T08:30"}, "reset")
    assert due_runs(at, datetime(2024, 6, 1, 8, 0), datetime(2024, 6, 1, 9, 0)) == [datetime(2024, 6, 1, 8, 30)]
    assert due_runs(at, datetime(2024, 6, 1, 8, 30), datetime(2024, 6, 2)) == []
    assert due_runs(ResetSettings(), datetime(2024, 1, 1), datetime(2024, 2, 1)) == []


def test_qr16_qr17_defaults():
    p = PluginSettings()
    assert (p.reset.enabled, p.reset.schedule.value, p.reset.time, p.paused, p.rules.paused) == (False, "DAILY", "00:00", False, False)
