"""积分分红 GraphQL types (PD-1, PD-8, PD-9)."""

from __future__ import annotations

import strawberry

from api.scalars import Money
from domain.points_dividend import Plan
from services.points_dividend_views import DayRelease, TeamView


@strawberry.type(description="PD-1/PD-2: a release plan of one completed order (its key is the order id).")
class PointsPlan:
    key: str
    member: strawberry.ID
    order_amount: Money
    tier: str
    granted: Money = strawberry.field(description="amount × multiplier points.")
    released: Money
    remaining: Money
    daily_amount: Money = strawberry.field(description="The static release per day (PD-2).")
    status: str = strawberry.field(description="ACTIVE, EXHAUSTED or CANCELLED.")

    @classmethod
    def of(cls, p: Plan) -> PointsPlan:
        return cls(key=p.key, member=strawberry.ID(p.member), order_amount=Money(str(p.amount)), tier=p.tier, granted=Money(str(p.total)),
                   released=Money(str(p.released)), remaining=Money(str(p.remaining)), daily_amount=Money(str(p.daily)), status=p.status.value)


@strawberry.type(description="PD-9: what one day released to a member, per kind (accelerations as paid after the PD-6 cap).")
class PointsRelease:
    member: strawberry.ID
    day: str
    static: Money
    share: Money
    team: Money
    same_level: Money
    total: Money

    @classmethod
    def of(cls, r: DayRelease) -> PointsRelease:
        return cls(member=strawberry.ID(r.member), day=r.day, static=Money(str(r.static)), share=Money(str(r.share)), team=Money(str(r.team)),
                   same_level=Money(str(r.same_level)), total=Money(str(r.total)))


@strawberry.type(description="PD-8: a member's team (all its descendants) as last folded: size, performance split into points and cash, tier.")
class TeamMember:
    member: strawberry.ID
    referrer: strawberry.ID | None
    depth: int
    team_size: int
    team_performance: Money
    points: Money = strawberry.field(description="The part of the team performance paid with points (line deductions).")
    cash: Money
    own_spend: Money = strawberry.field(description="The member's own completed, unrefunded orders.")
    tier: str | None = strawberry.field(description="The points-dividend team tier (PD-4), null below the lowest.")

    @classmethod
    def of(cls, t: TeamView) -> TeamMember:
        return cls(member=strawberry.ID(t.member), referrer=strawberry.ID(t.referrer) if t.referrer else None, depth=t.depth, team_size=t.size,
                   team_performance=Money(str(t.performance)), points=Money(str(t.points)), cash=Money(str(t.cash)), own_spend=Money(str(t.own)), tier=t.tier)


@strawberry.type(description="PD-8: a member's team and one page of its direct referrals (by id).")
class Team:
    member: TeamMember
    direct_referrals: list[TeamMember]
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page; null on the last one.")


@strawberry.type
class TierCount:
    tier: str
    members: int


@strawberry.type(description="PD-9: the totals of one day's release (so far, while it runs).")
class ReleaseTotals:
    day: str
    done: bool
    members: int
    static: Money
    share: Money
    team: Money
    same_level: Money


@strawberry.type(description="Ops view of the network: the largest teams, members per tier and a day's release.")
class PointsDividendOverview:
    largest_teams: list[TeamMember]
    tier_counts: list[TierCount]
    day: ReleaseTotals | None


@strawberry.input(description="PD-7: add (> 0) or remove (< 0) a member's points, with a reason.")
class AdjustPointsInput:
    key: str
    member: strawberry.ID
    amount: Money
    reason: str
