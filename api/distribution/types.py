"""GraphQL types of the distribution model and the compliance report."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

from api.errors import UserError
from api.scalars import Money, Ratio
from domain.compliance import Finding
from domain.distribution import DistributionSettings as Settings


@strawberry.type(description="DR-2: a team tier by team performance.")
class DistributionTeamTier:
    name: str
    performance: Money
    ratio: Ratio


@strawberry.type(description="DR-5: % of an order in the region per agent level.")
class AgentRatios:
    district: Ratio
    city: Ratio
    province: Ratio


@strawberry.type(description='分销 platform settings (parsed, defaults where never set). Change them with setSettings(model: "distribution", values: …).')
class DistributionSettings:
    enabled: bool
    referral_ratios: list[Ratio] = strawberry.field(description="DR-1: % of the order amount per generation (referrer first).")
    team_tiers: list[DistributionTeamTier]
    same_level_ratio: Ratio
    recruit_ratio: Ratio
    agent_ratios: AgentRatios
    shareholder_ratio: Ratio
    shareholder_period: str = strawberry.field(description="DAILY, WEEKLY or MONTHLY.")
    excluded_products: list[strawberry.ID]
    compliance_override: bool

    @classmethod
    def of(cls, s: Settings) -> DistributionSettings:
        a = s.agent_ratios
        return cls(
            enabled=s.enabled, referral_ratios=[Ratio(str(r)) for r in s.referral_ratios],
            team_tiers=[DistributionTeamTier(name=t.name, performance=Money(str(t.performance)), ratio=Ratio(str(t.ratio))) for t in s.team_tiers],
            same_level_ratio=Ratio(str(s.same_level_ratio)), recruit_ratio=Ratio(str(s.recruit_ratio)),
            agent_ratios=AgentRatios(district=Ratio(str(a.DISTRICT)), city=Ratio(str(a.CITY)), province=Ratio(str(a.PROVINCE))),
            shareholder_ratio=Ratio(str(s.shareholder_ratio)), shareholder_period=s.shareholder_period.value,
            excluded_products=[strawberry.ID(p) for p in sorted(s.excluded_products)], compliance_override=s.compliance_override,
        )


@strawberry.type(description="DR-5: the agent of one level for one region.")
class DistributionAgent:
    member: strawberry.ID
    level: str
    region: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> DistributionAgent:
        return cls(member=strawberry.ID(row["member_id"]), level=row["level"], region=row["region"])


@strawberry.type(description="DR-6: a shareholder and its weight.")
class Shareholder:
    member: strawberry.ID
    weight: str


@strawberry.type(description="Rewards of one kind: REFERRAL, TEAM, SAME_LEVEL, RECRUIT, AGENT, SHAREHOLDER (reversed ones left out).")
class KindAmount:
    kind: str
    amount: Money

    @classmethod
    def list_of(cls, totals: dict[str, Decimal]) -> list[KindAmount]:
        return [cls(kind=k, amount=Money(str(v))) for k, v in sorted(totals.items())]


@strawberry.type(description="DR-7: a setting beyond the platform's compliance limits.")
class ComplianceFinding:
    model: str
    setting: str
    value: str
    limit: str
    status: str = strawberry.field(description="WARN, or OVERRIDDEN when the model's settings carry compliance_override.")

    @classmethod
    def of(cls, f: Finding) -> ComplianceFinding:
        return cls(**f.as_values())


@strawberry.type
class DistributionPayload:
    ok: bool
    errors: list[UserError]
