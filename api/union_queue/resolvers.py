"""Queries and mutations of the per-order models: the union queue's forecast (UQ-5), its daily
settlement run by ops (UQ-3), and the order dividend's queue (OD-1)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.context import Info
from api.errors import user_error
from api.orders.resolvers import report
from api.orders.types import OrderEventPayload
from api.permissions import CanReadMember, IsAdmin, IsStaff
from api.queue_rebate.types import Entitlement
from api.scalars import Money
from domain.errors import DomainError, ErrorCode
from services import queries
from services.replay import daily_settlement_event


@strawberry.type(description="UQ-5: a WAITING union-queue entitlement with what is owed up to it and the forecast days to its payout.")
class UnionQueueForecast:
    entitlement: Entitlement
    owed_up_to_here: Money = strawberry.field(description="Unpaid amounts of every WAITING entitlement up to and including this one.")
    days: int | None = strawberry.field(description="Forecast days from the trailing 7-day average inflow; null when there is no inflow.")


@strawberry.type(description="订单分红: the ACTIVE orders (enjoying a free order, with their caps) and the next WAITING ones.")
class DividendQueue:
    active: list[Entitlement]
    waiting: list[Entitlement]
    pool: Money


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanReadMember], description="UQ-5: a member's WAITING union-queue entitlements with forecasts.")
    async def union_queue_forecast(self, info: Info, member: strawberry.ID) -> list[UnionQueueForecast]:
        rows = await queries.union_queue_forecast(str(member), info.context.now())
        return [UnionQueueForecast(entitlement=Entitlement.of(e), owed_up_to_here=ahead, days=days) for e, ahead, days in rows]

    @strawberry.field(permission_classes=[IsStaff], description="UQ-5: the union pool's trailing average daily inflow.")
    async def union_queue_inflow(self, info: Info) -> Money:
        return await queries.union_queue_inflow(info.context.now())

    @strawberry.field(permission_classes=[IsStaff], description="OD-1: the dividend queue's ACTIVE orders and the first WAITING ones.")
    async def dividend_queue(self, first: int = 20) -> DividendQueue:
        active = await queries.entitlements(queue="od", status="ACTIVE", limit=1000)
        waiting = await queries.entitlements(queue="od", status="WAITING", limit=max(1, min(first, 100)))
        return DividendQueue(active=[Entitlement.of(e) for e in active], waiting=[Entitlement.of(e) for e in waiting],
                             pool=(await queries.pools()).get("od", 0))  # type: ignore[arg-type]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="UQ-3: run (or resume) the union queue's settlement of a day, by default today "
                         "in the platform time zone. Idempotent per day.")
    async def run_union_queue_settlement(self, info: Info, day: str | None = None) -> OrderEventPayload:
        now = info.context.now()
        event = daily_settlement_event(now)
        if day is not None:
            try:
                date.fromisoformat(day)
            except ValueError:
                return OrderEventPayload(ticket=None, errors=[user_error(DomainError(ErrorCode.INVALID_INPUT, f"day must be YYYY-MM-DD: {day!r}", "day"))])
            event = {**event, "key": f"union_queue.daily_settlement:{day}", "day": day}
        return await report(info.context, event)
