"""Queue rebate settings, pure: the ratio priority chains (QR-10), cumulative tiers (QR-11),
periods and limits in line resolution (QR-13), pause / display / master switch (QR-17..QR-19),
validation (C-8) and the JSON round trip."""

import json
from datetime import datetime
from decimal import Decimal as D

import pytest

from domain.errors import DomainError, ErrorCode
from domain.queue_rebate import QueueState, settle_paid_line
from domain.queue_rebate_features import ExchangeTarget, LotteryMode, MemberCounts, ResetSchedule
from domain.queue_rebate_settings import (
    Channel,
    EntitySettings,
    LineContext,
    PluginSettings,
    ProductInfo,
    Source,
    cumulative_scope,
    cumulative_windows,
    limit_scopes,
    lottery_for,
    queue_for,
    random_return_for,
    resolve_line,
    saved_switch,
)

NONE = EntitySettings()
CT = "queue_rebate.cumulative_tiers"
QR11_TIERS = [
    {"window_days": 30, "threshold": "2000", "ratio": "50"},
    {"window_days": 30, "threshold": "5000", "ratio": "60"},
    {"window_days": 60, "threshold": "10000", "ratio": "100"},
]


def plugin(**values) -> PluginSettings:
    return PluginSettings.parse({"enabled": True, "extraction_ratio": "10", **values})


def entity(**values) -> EntitySettings:
    return EntitySettings.parse(values)


def mall_ctx(settings: EntitySettings = NONE, paid: str = "200", **extra) -> LineContext:
    product = ProductInfo("P1", Source.SELF_OPERATED, None, True, settings)
    return LineContext("o1:0", "M1", "o1", 0, Channel.MALL, D(paid), D("0"), product, None, NONE, NONE, **extra)


def store_ctx(product_settings: EntitySettings = NONE, store_settings: EntitySettings = NONE, **extra) -> LineContext:
    product = ProductInfo("SP1", Source.STORE, "S1", True, product_settings)
    return LineContext("o2:0", "M1", "o2", 0, Channel.STORE_ONLINE, D("200"), D("0"), product, "S1", store_settings, NONE, **extra)


def cashier_ctx(cashier_settings: EntitySettings = NONE, **extra) -> LineContext:
    return LineContext("o3:0", "M1", "o3", 0, Channel.CASHIER, D("200"), D("0"), None, "S1", NONE, cashier_settings, **extra)


def refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    return info.value


# --- QR-10 priority chains -------------------------------------------------------------------

def test_qr10_product_member_level_beats_plugin_member_level():
    p = plugin(member_level_ratios={"gold": "110"})
    line = resolve_line(mall_ctx(entity(member_level_ratios={"gold": "120"}), member_level="gold"), p)
    assert (line.reward_ratio, line.ratio_source) == (D("120"), "product.member_level")


def test_qr10_plugin_member_level_when_product_has_none_for_the_level():
    p = plugin(member_level_ratios={"gold": "110", "silver": "105"})
    line = resolve_line(mall_ctx(entity(member_level_ratios={"gold": "120"}), member_level="silver"), p)
    assert (line.reward_ratio, line.ratio_source) == (D("105"), "plugin.member_level")


def test_qr10_no_level_match_falls_to_own_ratio_then_plugin_default():
    p = plugin(member_level_ratios={"gold": "110"}, reward_ratio="100")
    own = resolve_line(mall_ctx(entity(reward_ratio="80"), member_level="bronze"), p)
    default = resolve_line(mall_ctx(NONE, member_level=None), p)
    assert (own.reward_ratio, own.ratio_source) == (D("80"), "product.reward_ratio")
    assert (default.reward_ratio, default.ratio_source) == (D("100"), "plugin.reward_ratio")


def test_qr10_plugin_member_level_beats_product_cumulative():
    p = plugin(member_level_ratios={"gold": "110"})
    ctx = mall_ctx(entity(cumulative_tiers=QR11_TIERS), member_level="gold", cumulative_totals={30: D("9000"), 60: D("20000")})
    assert resolve_line(ctx, p).ratio_source == "plugin.member_level"


def test_qr10_lottery_counts_only_once_drawn_product_before_plugin():
    p = plugin(lottery={"mode": "FIXED", "ratios": ["150"]}, reward_ratio="100")
    s = entity(lottery={"mode": "FIXED", "ratios": ["10", "20", "50"]}, reward_ratio="80")
    undrawn = resolve_line(mall_ctx(s), p)
    assert (undrawn.reward_ratio, undrawn.ratio_source, undrawn.lottery_source) == (D("80"), "product.reward_ratio", "product.lottery")
    drawn = resolve_line(mall_ctx(s, drawn_ratio=D("50"), drawn_from="product.lottery"), p)
    assert (drawn.reward_ratio, drawn.ratio_source) == (D("50"), "product.lottery")
    plugin_only = resolve_line(mall_ctx(entity(reward_ratio="80")), p)
    assert plugin_only.lottery_source == "plugin.lottery"
    plugin_drawn = resolve_line(mall_ctx(entity(reward_ratio="80"), drawn_ratio=D("150"), drawn_from="plugin.lottery"), p)
    assert (plugin_drawn.reward_ratio, plugin_drawn.ratio_source) == (D("150"), "plugin.lottery")
    assert lottery_for(mall_ctx(s), p)[0] == "product.lottery"
    assert lottery_for(mall_ctx(s), p)[1].ratios == (D("10"), D("20"), D("50"))


def test_qr10_qr11_qr12_member_level_cumulative_and_lottery_on_one_product():
    """One product with all three: member level wins, then the cumulative tiers, then a drawn lottery."""
    p = plugin(member_level_ratios={"silver": "110"}, reward_ratio="100")
    s = entity(
        member_level_ratios={"gold": "120"}, cumulative_tiers=QR11_TIERS,
        lottery={"mode": "FIXED", "ratios": ["10", "20", "50"]}, reward_ratio="80",
    )
    low = {30: D("1999.99"), 60: D("1999.99")}
    cases = [
        # (level, totals, drawn, expected ratio, source, entitlement total of 200.00)
        ("gold", {30: D("6000"), 60: D("12000")}, D("50"), D("120"), "product.member_level", D("240.00")),
        ("silver", {30: D("6000"), 60: D("12000")}, None, D("110"), "plugin.member_level", D("220.00")),
        ("bronze", {30: D("2000"), 60: D("2000")}, D("50"), D("50"), "product.cumulative", D("100.00")),
        ("bronze", {30: D("5000"), 60: D("9999.99")}, None, D("60"), "product.cumulative", D("120.00")),
        ("bronze", {30: D("3000"), 60: D("10000")}, None, D("100"), "product.cumulative", D("200.00")),
        ("bronze", low, D("20"), D("20"), "product.lottery", D("40.00")),
        ("bronze", low, None, D("80"), "product.reward_ratio", D("160.00")),
    ]
    for level, totals, drawn, ratio, source, total in cases:
        ctx = mall_ctx(s, member_level=level, cumulative_totals=totals, drawn_ratio=drawn, drawn_from="product.lottery" if drawn else None)
        line = resolve_line(ctx, p)
        assert (line.reward_ratio, line.ratio_source) == (ratio, source), (level, totals, drawn)
        q = QueueState("qr:MALL", D("0.00"), 1, 0)
        e, _ = settle_paid_line(q, line, p.rules)
        assert e.total == total
    # the lottery is offered only where no member-level / cumulative ratio outranks it
    assert resolve_line(mall_ctx(s, member_level="gold"), p).lottery_source == ""
    assert resolve_line(mall_ctx(s, member_level="bronze", cumulative_totals={30: D("2000")}), p).lottery_source == ""
    assert resolve_line(mall_ctx(s, member_level="bronze", cumulative_totals=low), p).lottery_source == "product.lottery"


def test_qr10_cashier_chain():
    p = plugin(member_level_ratios={"silver": "105"}, lottery={"mode": "RANGE", "min": "10", "max": "20"}, reward_ratio="100")
    c = entity(member_level_ratios={"gold": "130"}, cumulative_tiers=[{"window_days": 30, "threshold": "500", "ratio": "90"}], reward_ratio="70")
    ctx = lambda **kw: cashier_ctx(c, **kw)  # noqa: E731
    assert resolve_line(ctx(member_level="gold"), p).ratio_source == "cashier.member_level"
    assert resolve_line(ctx(member_level="silver"), p).ratio_source == "plugin.member_level"
    assert resolve_line(ctx(cumulative_totals={30: D("500.00")}), p).ratio_source == "cashier.cumulative"
    undrawn = resolve_line(ctx(), p)
    assert (undrawn.ratio_source, undrawn.lottery_source, undrawn.reward_ratio) == ("cashier.reward_ratio", "plugin.lottery", D("70"))
    assert resolve_line(ctx(drawn_ratio=D("15.37"), drawn_from="plugin.lottery"), p).reward_ratio == D("15.37")
    with_own_lottery = entity(lottery={"mode": "FIXED", "ratios": ["30"]})
    assert resolve_line(cashier_ctx(with_own_lottery), p).lottery_source == "cashier.lottery"
    assert resolve_line(cashier_ctx(NONE), p).ratio_source == "plugin.reward_ratio"
    assert cumulative_scope(ctx()) == "store:S1" and cumulative_windows(ctx()) == frozenset({30})


def test_qr10_store_online_chain():
    p = plugin(member_level_ratios={"silver": "105"}, lottery={"mode": "FIXED", "ratios": ["40"]}, reward_ratio="100")
    sp = entity(member_level_ratios={"gold": "130"}, cumulative_tiers=[{"window_days": 30, "threshold": "1000", "ratio": "95"}])
    st = entity(
        member_level_ratios={"gold": "125", "bronze": "115"}, cumulative_tiers=[{"window_days": 60, "threshold": "500", "ratio": "85"}],
        lottery={"mode": "FIXED", "ratios": ["20"]}, reward_ratio="75",
    )
    src = lambda level=None, totals=None, sp_=sp, st_=st, **kw: resolve_line(  # noqa: E731
        store_ctx(sp_, st_, member_level=level, cumulative_totals=totals or {}, **kw), p
    ).ratio_source
    assert src("gold") == "store_product.member_level"
    assert src("bronze") == "store.member_level"
    assert src("silver") == "plugin.member_level"
    assert src(totals={30: D("1000"), 60: D("1000")}) == "store_product.cumulative"
    assert src(totals={30: D("999.99"), 60: D("500")}) == "store.cumulative"
    assert src() == "store.reward_ratio"
    assert src(drawn_ratio=D("20"), drawn_from="store.lottery") == "store.lottery"
    assert src(sp_=entity(reward_ratio="77")) == "store_product.reward_ratio"
    assert src(sp_=NONE, st_=NONE) == "plugin.reward_ratio"
    assert resolve_line(store_ctx(sp, st), p).lottery_source == "store.lottery"
    assert resolve_line(store_ctx(sp, NONE), p).lottery_source == "plugin.lottery"
    assert cumulative_windows(store_ctx(sp, st)) == frozenset({30, 60})


# --- QR-11 cumulative tiers -----------------------------------------------------------------

def test_qr11_largest_reached_tier_wins_spec_example():
    s = entity(cumulative_tiers=QR11_TIERS)
    p = plugin()
    for totals, expected in [
        ({30: D("1999.99"), 60: D("1999.99")}, ("100.0000", "plugin.reward_ratio")),
        ({30: D("2000.00"), 60: D("2000.00")}, ("50", "product.cumulative")),
        ({30: D("5000.00"), 60: D("5000.00")}, ("60", "product.cumulative")),
        ({30: D("3000.00"), 60: D("10000.00")}, ("100", "product.cumulative")),
        ({60: D("10000.00")}, ("100", "product.cumulative")),  # missing 30-day window counts 0
    ]:
        line = resolve_line(mall_ctx(s, cumulative_totals=totals), p)
        assert (line.reward_ratio, line.ratio_source) == (D(expected[0]), expected[1])
    assert cumulative_windows(mall_ctx(s)) == frozenset({30, 60}) and cumulative_scope(mall_ctx(s)) == "mall"


# --- QR-9, QR-13 entitlement blocks ---------------------------------------------------------

def test_qr9_exclude_deduction_earns_nothing_but_extracts():
    p = plugin(deduction="EXCLUDE")
    product = ProductInfo("P1", Source.SELF_OPERATED, None, True, NONE)
    ctx = LineContext("o1:0", "M1", "o1", 0, Channel.MALL, D("90"), D("10"), product, None, NONE, NONE)
    line = resolve_line(ctx, p)
    assert (line.earns_entitlement, line.no_entitlement_reason, line.extraction) == (False, "DEDUCTION_EXCLUDED", D("9.00"))


def test_qr13_outside_reward_period_earns_nothing_but_extracts():
    s = entity(reward_periods=[{"start": "09:00", "end": "12:00", "weekdays": [1, 2, 3, 4, 5]}, {"start": "18:00", "end": "24:00"}])
    p = plugin()
    monday = datetime(2024, 5, 6, 11, 59, 59)
    assert resolve_line(mall_ctx(s, local_time=monday), p).earns_entitlement
    noon = resolve_line(mall_ctx(s, local_time=datetime(2024, 5, 6, 12, 0)), p)
    assert (noon.earns_entitlement, noon.no_entitlement_reason, noon.extraction) == (False, "OUTSIDE_PERIOD", D("20.00"))
    saturday = resolve_line(mall_ctx(s, local_time=datetime(2024, 5, 4, 10, 0)), p)
    assert saturday.no_entitlement_reason == "OUTSIDE_PERIOD"
    assert resolve_line(mall_ctx(s, local_time=datetime(2024, 5, 4, 23, 59)), p).earns_entitlement
    q = QueueState("qr:MALL", D("0.00"), 1, 0)
    e, postings = settle_paid_line(q, noon, p.rules)
    assert e is None and q.tail == 0 and sum(x.amount for x in postings if x.memo == "extraction") == D("20.00")
    assert refused(resolve_line, mall_ctx(s), p).field == "local_time"


def test_qr13_store_period_applies_to_store_product_lines():
    st = entity(reward_periods=[{"start": "10:00", "end": "11:00"}])
    line = resolve_line(store_ctx(NONE, st, local_time=datetime(2024, 5, 6, 9, 0)), plugin())
    assert line.no_entitlement_reason == "OUTSIDE_PERIOD"


def test_qr13_per_day_and_total_limits():
    s = entity(max_per_member_per_day=2, max_per_member_total=5)
    p = plugin()
    ctx = lambda today, total: mall_ctx(s, member_counts={"product:P1": MemberCounts(today, total)})  # noqa: E731
    assert limit_scopes(mall_ctx(s)) == {"product": "product:P1"}
    assert resolve_line(ctx(1, 4), p).earns_entitlement
    assert resolve_line(ctx(2, 4), p).no_entitlement_reason == "DAILY_LIMIT"
    over = resolve_line(ctx(0, 5), p)
    assert (over.earns_entitlement, over.no_entitlement_reason, over.extraction) == (False, "TOTAL_LIMIT", D("20.00"))
    st = entity(max_per_member_per_day=1)
    assert limit_scopes(store_ctx(NONE, st)) == {"store": "store:S1"}
    assert limit_scopes(cashier_ctx(st)) == {"cashier": "cashier:S1"}
    blocked = resolve_line(store_ctx(NONE, st, member_counts={"store:S1": MemberCounts(1, 1)}), p)
    assert blocked.no_entitlement_reason == "DAILY_LIMIT"


# --- QR-15 random return level, QR-17..QR-19 --------------------------------------------------

def test_qr15_random_return_store_and_cashier_switch_independently():
    p = plugin(random_return={"enabled": True, "cash_count": 1, "points_count": 2})
    off = entity(random_return={"enabled": False})
    on = entity(random_return={"enabled": True, "cash_count": 3, "points_count": 1})
    assert random_return_for(mall_ctx(), p).group_size == 3
    assert random_return_for(store_ctx(NONE, off), p) is None
    assert random_return_for(cashier_ctx(on), p).points_count == 1
    assert random_return_for(cashier_ctx(on), plugin()).cash_count == 3  # on for the cashier, off on the plugin
    assert random_return_for(mall_ctx(), plugin()) is None


def test_qr17_pause_maps_into_rules_and_lines_still_join():
    p = plugin(paused=True)
    assert p.rules.paused
    q = QueueState("qr:MALL", D("0.00"), 1, 0)
    a, _ = settle_paid_line(q, resolve_line(mall_ctx(), p), p.rules)
    b_line = resolve_line(LineContext("o9:0", "M2", "o9", 0, Channel.MALL, D("200"), D("0"), mall_ctx().product, None, NONE, NONE), p)
    b, postings = settle_paid_line(q, b_line, p.rules)
    assert a.received == D("0.00") and b.position == 2 and [x.memo for x in postings] == ["entitlement"]


def test_qr18_display_settings_default_on_and_custom_names():
    p = PluginSettings()
    assert (p.show_queue_progress, p.show_cumulative, p.show_pending_count, p.show_member_info, p.show_pending_amount) == (True,) * 5
    q = PluginSettings.parse({"show_member_info": False, "show_pending_amount": False, "model_display_name": "共享链", "exchange_button_name": "换积分"})
    assert (q.show_member_info, q.show_pending_amount, q.show_cumulative) == (False, False, True)
    assert (q.model_display_name, q.exchange_button_name) == ("共享链", "换积分")


def test_qr19_master_switch_and_new_products_default():
    assert queue_for(mall_ctx(), PluginSettings()) is None
    assert queue_for(mall_ctx(), plugin()) == "qr:MALL"
    assert queue_for(mall_ctx(), plugin(new_products_default_on=False)) is None
    assert queue_for(mall_ctx(entity(enabled=True)), plugin(new_products_default_on=False)) == "qr:MALL"


def test_qr20_existing_resolution_unchanged():
    p = plugin(reward_ratio="100")
    line = resolve_line(mall_ctx(entity(extraction_ratio="65", reward_ratio="130"), paid="168"), p)
    assert (line.extraction, line.reward_ratio, line.ratio_source, line.earns_entitlement) == (D("109.20"), D("130"), "product.reward_ratio", True)
    assert line.lottery_source == "" and line.no_entitlement_reason == ""


# --- validation (C-8) and round trip -----------------------------------------------------------

@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"extraction_ratio": "100.01"}, ErrorCode.INVALID_RATIO, "queue_rebate.extraction_ratio"),
        ({"reward_ratio": "-1"}, ErrorCode.INVALID_RATIO, "queue_rebate.reward_ratio"),
        ({"member_level_ratios": {"gold": "-5"}}, ErrorCode.INVALID_RATIO, "queue_rebate.member_level_ratios.gold"),
        ({"member_level_ratios": ["gold"]}, ErrorCode.INVALID_SETTINGS, "queue_rebate.member_level_ratios"),
        ({"cumulative_tiers": [QR11_TIERS[1], QR11_TIERS[0]]}, ErrorCode.INVALID_SETTINGS, f"{CT}[1]"),
        ({"cumulative_tiers": [QR11_TIERS[0], {**QR11_TIERS[0], "ratio": "70"}]}, ErrorCode.INVALID_SETTINGS, f"{CT}[1]"),
        ({"cumulative_tiers": [{"window_days": 0, "threshold": "1", "ratio": "1"}]}, ErrorCode.INVALID_SETTINGS, f"{CT}[0].window_days"),
        ({"cumulative_tiers": [{"window_days": 30, "ratio": "1"}]}, ErrorCode.INVALID_SETTINGS, f"{CT}[0].threshold"),
        ({"cumulative_tiers": [{"window_days": 30, "threshold": "1.001", "ratio": "1"}]}, ErrorCode.INVALID_AMOUNT, f"{CT}[0].threshold"),
        ({"lottery": {"mode": "RANGE", "min": "30", "max": "20"}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.min"),
        ({"lottery": {"mode": "RANGE", "min": "10.005", "max": "20"}}, ErrorCode.INVALID_RATIO, "queue_rebate.lottery.min"),
        ({"lottery": {"mode": "RANGE", "min": "10"}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.max"),
        ({"lottery": {"mode": "FIXED", "ratios": []}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.ratios"),
        ({"lottery": {"mode": "FIXED", "ratios": ["10", "0"]}}, ErrorCode.INVALID_RATIO, "queue_rebate.lottery.ratios[1]"),
        ({"lottery": {"mode": "FIXED", "ratios": ["10"], "min": "5"}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.min"),
        ({"lottery": {"mode": "SPIN"}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.mode"),
        ({"lottery": {"ratios": ["10"]}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.mode"),
        ({"reward_periods": [{"start": "25:00", "end": "26:00"}]}, ErrorCode.INVALID_SETTINGS, "queue_rebate.reward_periods[0].start"),
        ({"reward_periods": [{"start": "12:00", "end": "09:00"}]}, ErrorCode.INVALID_SETTINGS, "queue_rebate.reward_periods[0].end"),
        ({"reward_periods": [{"start": "09:00", "end": "12:00", "weekdays": [8]}]}, ErrorCode.INVALID_SETTINGS, "queue_rebate.reward_periods[0].weekdays[0]"),
        ({"max_per_member_per_day": 0}, ErrorCode.INVALID_SETTINGS, "queue_rebate.max_per_member_per_day"),
        ({"max_per_member_total": "3"}, ErrorCode.INVALID_SETTINGS, "queue_rebate.max_per_member_total"),
        ({"random_return": {"enabled": True, "cash_count": 0, "points_count": 1}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.random_return.cash_count"),
        ({"random_return": {"enabled": True, "points_count": 1.5}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.random_return.points_count"),
        ({"lotery": {"mode": "FIXED"}}, ErrorCode.INVALID_SETTINGS, "queue_rebate.lotery"),
    ],
)
def test_c8_bad_entity_settings_refused(values, code, field):
    error = refused(EntitySettings.parse, values)
    assert (error.code, error.field) == (code, field), error.message
    assert field in error.message


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"exchange_ratio": "0"}, ErrorCode.INVALID_RATIO, "exchange_ratio"),
        ({"exchange_enabled": True, "exchange_to": []}, ErrorCode.INVALID_SETTINGS, "exchange_to"),
        ({"exchange_to": ["CASH"]}, ErrorCode.INVALID_SETTINGS, "exchange_to[0]"),
        ({"exchange_to": ["POINTS", "POINTS"]}, ErrorCode.INVALID_SETTINGS, "exchange_to[1]"),
        ({"reset": {"enabled": True, "time": "7:00"}}, ErrorCode.INVALID_SETTINGS, "reset.time"),
        ({"reset": {"enabled": True, "schedule": "AT"}}, ErrorCode.INVALID_SETTINGS, "reset.at"),
        ({"reset": {"schedule": "AT", "at": "2024-06-01T00:00+08:00"}}, ErrorCode.INVALID_SETTINGS, "reset.at"),
        ({"reset": {"schedule": "AT", "at": "June 1st"}}, ErrorCode.INVALID_SETTINGS, "reset.at"),
        ({"reset": {"schedule": "WEEKLY", "weekday": 8}}, ErrorCode.INVALID_SETTINGS, "reset.weekday"),
        ({"reset": {"schedule": "MONTHLY", "day": 32}}, ErrorCode.INVALID_SETTINGS, "reset.day"),
        ({"reset": {"schedule": "HOURLY"}}, ErrorCode.INVALID_SETTINGS, "reset.schedule"),
        ({"random_return": {"points_count": 0}}, ErrorCode.INVALID_SETTINGS, "random_return.points_count"),
        ({"lottery": {"mode": "RANGE", "min": "50", "max": "10"}}, ErrorCode.INVALID_SETTINGS, "lottery.min"),
        ({"model_display_name": ""}, ErrorCode.INVALID_SETTINGS, "model_display_name"),
        ({"paused": "yes"}, ErrorCode.INVALID_SETTINGS, "paused"),
        ({"show_queue_progress": 1}, ErrorCode.INVALID_SETTINGS, "show_queue_progress"),
    ],
)
def test_c8_bad_plugin_settings_refused(values, code, field):
    error = refused(PluginSettings.parse, values)
    assert (error.code, error.field) == (code, field), error.message
    assert refused(PluginSettings.parse, values, prefix="queue_rebate.").field == f"queue_rebate.{field}"


def test_plugin_settings_round_trip_through_json():
    p = PluginSettings.parse({
        "enabled": True, "extraction_ratio": "65", "reward_ratio": "130", "paused": True,
        "member_level_ratios": {"gold": "120", "silver": "110.5"},
        "lottery": {"mode": "RANGE", "min": "10", "max": "20.5"},
        "exchange_enabled": True, "exchange_to": ["LOVE_VALUE", "POINTS"], "exchange_ratio": "150", "love_value_frozen": True,
        "model_display_name": "共享链", "exchange_button_name": "换",
        "random_return": {"enabled": True, "cash_count": 1, "points_count": 2},
        "reset": {"enabled": True, "schedule": "AT", "at": "2024-06-01T08:30"},
        "show_pending_amount": False, "deduction": "EXCLUDE",
    })
    again = PluginSettings.parse(json.loads(json.dumps(p.as_values())))
    assert again == p
    assert p.exchange_to == (ExchangeTarget.POINTS, ExchangeTarget.LOVE_VALUE)
    assert p.lottery.mode is LotteryMode.RANGE and p.reset.schedule is ResetSchedule.AT
    assert PluginSettings.parse(PluginSettings().as_values()) == PluginSettings()
    hash(p)  # frozen all the way down


def test_plugin_partial_update_keeps_other_fields():
    rr = {"enabled": True, "cash_count": 2, "points_count": 1}
    base = PluginSettings.parse({"enabled": True, "random_return": rr, "lottery": {"mode": "FIXED", "ratios": ["10"]}})
    updated = PluginSettings.parse({"random_return": {"points_count": 3}, "paused": True}, base=base)
    assert updated.random_return.as_values() == {"enabled": True, "cash_count": 2, "points_count": 3}
    assert updated.lottery == base.lottery and updated.enabled and updated.paused


def test_entity_settings_round_trip_through_json():
    s = entity(
        enabled=True, extraction_ratio="10", reward_ratio="80", member_level_ratios={"gold": "120"}, cumulative_tiers=QR11_TIERS,
        lottery={"mode": "FIXED", "ratios": ["10", "20", "50"]},
        reward_periods=[{"start": "09:00", "end": "12:00", "weekdays": [5, 1]}, {"start": "18:00", "end": "24:00"}],
        max_per_member_per_day=2, max_per_member_total=5, random_return={"enabled": False},
    )
    assert EntitySettings.parse(json.loads(json.dumps(s.as_values()))) == s
    assert s.reward_periods[0].weekdays == (1, 5)
    assert EntitySettings.parse({}).as_values() == {} and EntitySettings.parse(None) == NONE
    hash(s)


def test_qr19_a_new_mall_product_saved_without_its_switch_gets_the_platform_default():
    on, off = plugin(), plugin(new_products_default_on=False)
    assert saved_switch(Source.SELF_OPERATED, None, None, on) is True
    assert saved_switch(Source.SUPPLIER, None, None, off) is False
    assert saved_switch(Source.SUPPLY_CHAIN, None, None, on) is None and saved_switch(Source.STORE, None, None, on) is None
    assert saved_switch(Source.SELF_OPERATED, False, None, on) is False  # its own switch wins
    assert saved_switch(Source.SELF_OPERATED, None, (True,), off) is True  # an existing product keeps its own
    assert saved_switch(Source.SELF_OPERATED, None, (None,), on) is None
