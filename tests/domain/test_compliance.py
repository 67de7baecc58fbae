"""DR-7 compliance guard across every model, pure."""

from decimal import Decimal as D

import pytest

from domain.appreciation import AppreciationSettings
from domain.compliance import OVERRIDDEN, WARN, ComplianceSettings, findings, refuse_beyond
from domain.distribution import DistributionSettings
from domain.errors import DomainError, ErrorCode
from domain.order_dividend import OrderDividendSettings
from domain.points_dividend_settings import PointsDividendSettings
from domain.queue_rebate_settings import EntitySettings, PluginSettings
from domain.union_queue import UnionQueueSettings

LIMITS = ComplianceSettings.parse({})


def rows(found):
    return {(f.model, f.setting, f.value, f.limit, f.status) for f in found}


def test_defaults_are_3_generations_100_percent_not_enforced():
    assert (LIMITS.max_referral_generations, LIMITS.max_static_return, LIMITS.enforce) == (3, D(100), False)


def test_every_model_setting_beyond_the_limits_is_listed():
    models = {
        "queue_rebate": PluginSettings.parse({"reward_ratio": "130", "member_level_ratios": {"gold": "150", "silver": "90"},
                                              "lottery": {"mode": "FIXED", "ratios": ["80", "120"]}}),
        "union_queue": UnionQueueSettings.parse({"quota_ratio": "110"}),
        "order_dividend": OrderDividendSettings.parse({"free_ratio": "100"}),
        "appreciation": AppreciationSettings.parse({"exit_multiple": "3", "compliance_override": True}),
        "distribution": DistributionSettings.parse({"referral_ratios": ["1", "1", "1", "1"]}),
        "points_dividend": PointsDividendSettings.parse({"share_ratios": ["50", "30", "20", "10"]}, max_generations=None),
        "compliance": LIMITS,
    }
    entities = [("product:P1", EntitySettings.parse({"cumulative_tiers": [{"window_days": 30, "threshold": "100", "ratio": "140"}]}))]
    assert rows(findings(models, LIMITS, entities)) == {
        ("queue_rebate", "reward_ratio", D(130), D(100), WARN),
        ("queue_rebate", "member_level_ratios.gold", D(150), D(100), WARN),
        ("queue_rebate", "lottery.ratios[1]", D(120), D(100), WARN),
        ("queue_rebate", "product:P1.cumulative_tiers[0].ratio", D(140), D(100), WARN),
        ("union_queue", "quota_ratio", D(110), D(100), WARN),
        ("appreciation", "exit_multiple", D(300), D(100), OVERRIDDEN),
        ("distribution", "referral_ratios", D(4), D(3), WARN),
        ("points_dividend", "share_ratios", D(4), D(3), WARN),
    }


def test_within_the_limits_lists_nothing():
    assert findings({"queue_rebate": PluginSettings.parse({}), "distribution": DistributionSettings()}, LIMITS) == []


def test_enforce_refuses_unless_overridden():
    enforced = ComplianceSettings.parse({"enforce": True})
    found = findings({"union_queue": UnionQueueSettings.parse({"quota_ratio": "110"})}, enforced)
    with pytest.raises(DomainError) as caught:
        refuse_beyond(found, enforced)
    assert caught.value.code is ErrorCode.COMPLIANCE_LIMIT and caught.value.field == "quota_ratio"
    refuse_beyond(found, LIMITS)  # not enforced: listed only
    overridden = findings({"union_queue": UnionQueueSettings.parse({"quota_ratio": "110", "compliance_override": True})}, enforced)
    refuse_beyond(overridden, enforced)
    assert [f.status for f in overridden] == [OVERRIDDEN]
