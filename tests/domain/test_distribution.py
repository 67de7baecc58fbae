"""分销 distribution rewards, pure (DR-1..DR-6, DR-8), with hand-checked numbers."""

from datetime import date
from decimal import Decimal as D

import pytest

from domain.distribution import (
    EXPENSE,
    SHAREHOLDER_POOL,
    AgentLevel,
    DistributionSettings,
    OrderFacts,
    Reward,
    RewardKind,
    ShareholderPeriod,
    dividend_postings,
    order_rewards,
    period_ended,
    period_key,
    region_prefix,
    reversal_postings,
    reward_postings,
    shareholder_dividend,
)
from domain.errors import DomainError, ErrorCode
from domain.level_difference import scan_lookup

SEED_TEAM = [
    {"name": n, "performance": p, "ratio": r}
    for n, p, r in (("bronze", "50000", "10"), ("silver", "200000", "20"), ("gold", "600000", "26"), ("platinum", "2000000", "32"),
                    ("diamond", "6000000", "38"), ("star", "15000000", "44"), ("king", "30000000", "50"))
]
PLAIN = DistributionSettings.parse({"enabled": True, "recruit_ratio": "0", "agent_ratios": {"DISTRICT": "0", "CITY": "0", "PROVINCE": "0"}})


def by_member(rewards: list[Reward]) -> dict[tuple[str, RewardKind], D]:
    return {(r.member, r.kind): r.amount for r in rewards}


def test_dr1_direct_0_3_and_indirect_0_2_percent():
    rewards = order_rewards(PLAIN, OrderFacts("o1", D("1000.00"), referrers=("B", "A", "R")))
    assert by_member(rewards) == {("B", RewardKind.REFERRAL): D("3.00"), ("A", RewardKind.REFERRAL): D("2.00")}


def test_dr1_rounded_once_half_up():
    rewards = order_rewards(PLAIN, OrderFacts("o1", D("0.50"), referrers=("B", "A")))
    assert by_member(rewards) == {}  # 0.0015 and 0.001 round to 0.00
    assert by_member(order_rewards(PLAIN, OrderFacts("o1", D("5.00"), referrers=("B",)))) == {("B", RewardKind.REFERRAL): D("0.02")}  # 0.015 → 0.02


def test_dr2_pd4_example_on_the_order_amount_c_bronze_b_star_a_king():
    settings = DistributionSettings.parse({"enabled": True, "referral_ratios": [], "team_tiers": SEED_TEAM, "same_level_ratio": "3", "recruit_ratio": "0",
                                           "agent_ratios": {"DISTRICT": "0", "CITY": "0", "PROVINCE": "0"}})
    chain = [("C", settings.team_level(D(50_000))), ("B", settings.team_level(D(15_000_000))), ("A", settings.team_level(D(30_000_000)))]
    rewards = order_rewards(settings, OrderFacts("o1", D("10000.00"), team=scan_lookup(chain)))
    assert by_member(rewards) == {("C", RewardKind.TEAM): D("1000.00"), ("B", RewardKind.TEAM): D("3400.00"), ("A", RewardKind.TEAM): D("600.00")}


def test_dr3_same_level_on_the_walk():
    settings = DistributionSettings.parse({"team_tiers": SEED_TEAM, "same_level_ratio": "3", "referral_ratios": [], "recruit_ratio": "0"})
    rewards = order_rewards(settings, OrderFacts("o1", D("1000.00"), team=scan_lookup([("B", 1), ("A", 1)])))
    assert by_member(rewards) == {("B", RewardKind.TEAM): D("100.00"), ("A", RewardKind.SAME_LEVEL): D("30.00")}


def test_dr4_recruiter_0_5_percent():
    settings = DistributionSettings.parse({"referral_ratios": [], "agent_ratios": {"DISTRICT": "0", "CITY": "0", "PROVINCE": "0"}})
    assert by_member(order_rewards(settings, OrderFacts("o1", D("1000.00"), recruiter="S"))) == {("S", RewardKind.RECRUIT): D("5.00")}


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({AgentLevel.DISTRICT: "D", AgentLevel.CITY: "C", AgentLevel.PROVINCE: "P"}, {"D": "1.00", "C": "1.00", "P": "1.00"}),
        ({AgentLevel.CITY: "C", AgentLevel.PROVINCE: "P"}, {"C": "2.00", "P": "1.00"}),
        ({AgentLevel.DISTRICT: "D", AgentLevel.PROVINCE: "P"}, {"D": "1.00", "P": "2.00"}),
        ({AgentLevel.PROVINCE: "P"}, {"P": "3.00"}),
    ],
)
def test_dr5_agents_by_level_difference(levels, expected):
    settings = DistributionSettings.parse({"referral_ratios": [], "recruit_ratio": "0"})
    rewards = order_rewards(settings, OrderFacts("o1", D("1000.00"), agents=levels))
    assert by_member(rewards) == {(m, RewardKind.AGENT): D(v) for m, v in expected.items()}


def test_dr5_one_member_agent_of_two_levels_rounded_once():
    settings = DistributionSettings.parse({"referral_ratios": [], "recruit_ratio": "0"})
    rewards = order_rewards(settings, OrderFacts("o1", D("5.00"), agents={AgentLevel.DISTRICT: "X", AgentLevel.CITY: "X"}))
    assert by_member(rewards) == {("X", RewardKind.AGENT): D("0.01")}  # 5 × 0.2 % = 0.01 once, not 0.01 + 0.01


def test_region_prefix_by_level():
    assert region_prefix("广东/东莞/南城", AgentLevel.CITY) == "广东/东莞"
    assert region_prefix("广东/东莞", AgentLevel.DISTRICT) is None
    assert region_prefix("广东/东莞", AgentLevel.PROVINCE) == "广东"


def test_rewards_are_postings_from_the_distribution_expense():
    postings = reward_postings("o1", [Reward("B", RewardKind.REFERRAL, D("3.00"))])
    assert [(p.source, p.target, p.amount) for p in postings] == [(EXPENSE, "member:B:CASH", D("3.00"))]


def test_dr6_shareholder_split_with_a_remainder():
    settings = DistributionSettings.parse({"shareholder_ratio": "1"})
    dividend = shareholder_dividend(settings, D("40000.00"), D("0.00"), {"X": D(1), "Y": D(1), "Z": D(1)})
    assert dividend.funded == D("400.00")
    assert [(s.member, s.amount) for s in dividend.shares] == [("X", D("133.33")), ("Y", D("133.33")), ("Z", D("133.33"))]
    assert dividend.carried == D("0.01")
    later = shareholder_dividend(settings, D("10000.00"), dividend.carried, {"X": D(2), "Y": D(1)})
    assert later.pool == D("100.01")
    assert [(s.member, s.amount) for s in later.shares] == [("X", D("66.67")), ("Y", D("33.33"))]
    assert later.carried == D("0.01")
    postings = dividend_postings("2026-01", dividend)
    assert sum(p.amount for p in postings if p.source == SHAREHOLDER_POOL) == D("399.99")


def test_dr6_no_shareholders_carries_everything():
    dividend = shareholder_dividend(DistributionSettings(), D("100.00"), D("0.50"), {})
    assert dividend.shares == () and dividend.carried == D("1.50")


def test_dr8_reversal_takes_the_cash_there_and_books_the_rest_as_receivable():
    postings = reversal_postings("o1", Reward("B", RewardKind.REFERRAL, D("3.00")), D("1.20"))
    assert [(p.source, p.target, p.amount) for p in postings] == [
        ("member:B:CASH", EXPENSE, D("1.20")),
        ("member:B:RECEIVABLE", EXPENSE, D("1.80")),
    ]
    assert [p.amount for p in reversal_postings("o1", Reward("B", RewardKind.REFERRAL, D("3.00")), D("10.00"))] == [D("3.00")]


def test_periods():
    assert period_key(date(2026, 1, 5), ShareholderPeriod.WEEKLY) == "2026-W02"
    assert period_key(date(2026, 1, 5), ShareholderPeriod.MONTHLY) == "2026-01"
    assert period_ended(date(2026, 2, 1), ShareholderPeriod.MONTHLY) == "2026-01"
    assert period_ended(date(2026, 2, 2), ShareholderPeriod.MONTHLY) is None
    assert period_ended(date(2026, 1, 5), ShareholderPeriod.WEEKLY) == "2026-W01"
    assert period_ended(date(2026, 1, 5), ShareholderPeriod.DAILY) == "2026-01-04"


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"referral_ratios": ["-1"]}, ErrorCode.INVALID_RATIO, "referral_ratios[0]"),
        ({"recruit_ratio": "101"}, ErrorCode.INVALID_RATIO, "recruit_ratio"),
        ({"agent_ratios": {"DISTRICT": "0.5", "CITY": "0.2"}}, ErrorCode.INVALID_SETTINGS, "agent_ratios.CITY"),
        ({"shareholder_period": "YEARLY"}, ErrorCode.INVALID_SETTINGS, "shareholder_period"),
        ({"team_tiers": [{"name": "a", "performance": "100", "ratio": "10"}, {"name": "b", "performance": "50", "ratio": "20"}]},
         ErrorCode.INVALID_SETTINGS, "team_tiers[1].performance"),
        ({"bogus": 1}, ErrorCode.INVALID_SETTINGS, "bogus"),
    ],
)
def test_bad_settings_refused_with_typed_errors(values, code, field):
    with pytest.raises(DomainError) as caught:
        DistributionSettings.parse(values)
    assert caught.value.code is code and caught.value.field == field


def test_agent_ratios_partial_update_keeps_the_others():
    base = DistributionSettings.parse({})
    updated = DistributionSettings.parse({"agent_ratios": {"PROVINCE": "0.5"}}, base)
    assert (updated.agent_ratios.DISTRICT, updated.agent_ratios.CITY, updated.agent_ratios.PROVINCE) == (D("0.1"), D("0.2"), D("0.5"))
