"""Queries and mutations of the distribution model (DR-1..DR-8) and the compliance report (DR-7)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.distribution.types import ComplianceFinding, DistributionAgent, DistributionPayload, DistributionSettings, KindAmount, Shareholder
from api.errors import user_error
from api.orders.resolvers import report
from api.orders.types import OrderEventPayload
from api.permissions import CanReadMember, IsAdmin, IsStaff
from domain.errors import DomainError, ErrorCode
from services import catalog, compliance, distribution_roles


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsStaff], description="分销 platform settings, parsed.")
    async def distribution_settings(self) -> DistributionSettings:
        return DistributionSettings.of(await catalog.load_settings("distribution"))

    @strawberry.field(permission_classes=[IsStaff], description="DR-5: the regional agents.")
    async def distribution_agents(self) -> list[DistributionAgent]:
        return [DistributionAgent.of(r) for r in await distribution_roles.agents()]

    @strawberry.field(permission_classes=[IsStaff], description="DR-6: the shareholders and their weights.")
    async def shareholders(self) -> list[Shareholder]:
        return [Shareholder(member=strawberry.ID(m), weight=str(w)) for m, w in (await distribution_roles.shareholders()).items()]

    @strawberry.field(permission_classes=[CanReadMember], description="A member's distribution earnings by kind, paid in [since, until) (UTC; open ends when null).")
    async def distribution_earnings(self, member: strawberry.ID, since: datetime | None = None, until: datetime | None = None) -> list[KindAmount]:
        return KindAmount.list_of(await distribution_roles.earnings(str(member), since, until))

    @strawberry.field(permission_classes=[IsStaff], description="Ops: every member's distribution rewards by kind, paid in [since, until).")
    async def distribution_totals(self, since: datetime | None = None, until: datetime | None = None) -> list[KindAmount]:
        return KindAmount.list_of(await distribution_roles.earnings(None, since, until))

    @strawberry.field(permission_classes=[IsStaff], description="DR-7: every setting of an enabled model beyond the compliance limits.")
    async def compliance_report(self) -> list[ComplianceFinding]:
        return [ComplianceFinding.of(f) for f in await compliance.report()]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description='DR-5: make a member the agent of a level for a region ("广东/东莞" for a CITY); member null removes it.')
    async def assign_agent(self, level: str, region: str, member: strawberry.ID | None = None) -> DistributionPayload:
        try:
            await distribution_roles.assign_agent(str(member) if member is not None else None, level, region)
        except DomainError as exc:
            return DistributionPayload(ok=False, errors=[user_error(exc)])
        return DistributionPayload(ok=True, errors=[])

    @strawberry.mutation(permission_classes=[IsAdmin], description="DR-6: set a shareholder's weight (a decimal string; 0 removes it).")
    async def set_shareholder(self, member: strawberry.ID, weight: str) -> DistributionPayload:
        try:
            await distribution_roles.set_shareholder(str(member), weight)
        except DomainError as exc:
            return DistributionPayload(ok=False, errors=[user_error(exc)])
        return DistributionPayload(ok=True, errors=[])

    @strawberry.mutation(permission_classes=[IsAdmin], description="DR-6: run the shareholder dividend of a period (2026-01-05, 2026-W02 or 2026-01; "
                         "default: the current one in the platform time zone). Idempotent per period.")
    async def run_shareholder_dividend(self, info: Info, period: str | None = None) -> OrderEventPayload:
        event = await distribution_roles.shareholder_dividend_event(info.context.now(), period)
        if period is not None and not distribution_roles.is_period_key(period):
            return OrderEventPayload(ticket=None, errors=[user_error(DomainError(ErrorCode.INVALID_INPUT, f"period must be a day, an ISO week or a month: {period!r}", "period"))])
        return await report(info.context, event)
