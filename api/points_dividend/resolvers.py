"""积分分红 queries (a member's plans, day release and team, PD-1, PD-8, PD-9; the ops views) and
the admin mutations (the daily release PD-9, point adjustments PD-7)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import user_error
from api.orders.resolvers import _enqueue, report
from api.orders.types import OrderEventPayload, Ticket
from api.permissions import CanReadMember, IsAdmin, IsStaff
from api.points_dividend.types import (
    AdjustPointsInput,
    PointsDividendOverview,
    PointsPlan,
    PointsRelease,
    ReleaseTotals,
    Team,
    TeamMember,
    TierCount,
)
from api.scalars import Money
from domain.errors import DomainError
from services import points_dividend as pd
from services import points_dividend_views as views

MAX_PAGE = 100


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanReadMember], description="PD-1/PD-2: a member's release plans, oldest first.")
    async def points_plans(self, member: strawberry.ID) -> list[PointsPlan]:
        return [PointsPlan.of(p) for p in await views.plans(str(member))]

    @strawberry.field(permission_classes=[CanReadMember], description="PD-9: a member's release of one day (YYYY-MM-DD), per kind.")
    async def points_release(self, member: strawberry.ID, day: str) -> PointsRelease:
        return PointsRelease.of(await views.day_release(str(member), day))

    @strawberry.field(permission_classes=[CanReadMember], description="PD-8: a member's team totals and its direct referrals, paginated.")
    async def team(self, member: strawberry.ID, first: int = 20, after: str | None = None) -> Team | None:
        view = await views.team(str(member))
        if view is None:
            return None
        size = max(1, min(first, MAX_PAGE))
        page = await views.direct_referrals(str(member), after, size + 1)
        more = len(page) > size
        page = page[:size]
        return Team(member=TeamMember.of(view), direct_referrals=[TeamMember.of(t) for t in page], end_cursor=page[-1].member if more else None)

    @strawberry.field(permission_classes=[IsStaff], description="Ops: the largest teams, members per team tier, and a day's release totals.")
    async def points_dividend_overview(self, first: int = 10, day: str | None = None) -> PointsDividendOverview:
        totals = await views.day_totals(day) if day else None
        return PointsDividendOverview(
            largest_teams=[TeamMember.of(t) for t in await views.largest_teams(max(1, min(first, MAX_PAGE)))],
            tier_counts=[TierCount(tier=name, members=n) for name, n in (await views.tier_counts()).items()],
            day=ReleaseTotals(day=day, done=totals["done"], members=totals["members"], **{k: Money(str(totals[k])) for k in ("static", "share", "team", "same_level")})
            if totals is not None and day else None,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="PD-9: run (or resume) the points release of a day, by default today in the "
                         "platform time zone. Once per day: a second run releases nothing.")
    async def run_points_dividend_release(self, info: Info, day: str | None = None) -> OrderEventPayload:
        try:
            event = pd.daily_release_event(info.context.now(), day)
        except DomainError as exc:
            return OrderEventPayload(ticket=None, errors=[user_error(exc)])
        return await report(info.context, event)

    @strawberry.mutation(permission_classes=[IsAdmin], description="PD-7: add or remove a member's points with a reason (audited on the ledger); "
                         "never below zero (INSUFFICIENT_POINTS).")
    async def adjust_points(self, info: Info, input: AdjustPointsInput) -> OrderEventPayload:
        payload = {"type": pd.ADJUST, "key": input.key, "member": str(input.member), "amount": str(input.amount), "reason": input.reason}
        try:
            ticket = await pd.record_adjustment(payload, info.context.now())
        except DomainError as exc:
            return OrderEventPayload(ticket=None, errors=[user_error(exc)])
        await _enqueue(info, ticket.queues)
        return OrderEventPayload(ticket=Ticket.of(ticket, ticket.duplicate), errors=[])
