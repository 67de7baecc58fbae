"""I-5: the liability report per queue and pool (staff), read from the ledger."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import coded
from api.permissions import IsStaff
from api.scalars import Money
from domain.errors import ErrorCode
from services import liabilities
from services.liabilities import DayFlow, Flow, Liability

MAX_DAYS = 366


@strawberry.type(name="LiabilityFlow", description="What a trailing window's days brought in and paid out.")
class FlowType:
    promised: Money = strawberry.field(description="New entitlements (what the queue promised).")
    paid: Money = strawberry.field(description="What left the liability: payouts, exchanges, forfeits.")
    pool_inflow: Money
    pool_payout: Money

    @classmethod
    def of(cls, f: Flow) -> FlowType:
        return cls(promised=Money(str(f.promised)), paid=Money(str(f.paid)), pool_inflow=Money(str(f.pool_inflow)), pool_payout=Money(str(f.pool_payout)))


@strawberry.type(name="Liability", description="I-5: one queue's or pool's outstanding entitlements, balances and pace.")
class LiabilityType:
    queue: str
    outstanding: int = strawberry.field(description="Entitlements still WAITING (the order dividend's ACTIVE ones too).")
    unpaid: Money = strawberry.field(description="What they are still owed (the liability account's balance).")
    pool: Money
    last_7_days: FlowType
    last_30_days: FlowType
    expected_wait_days: int | None = strawberry.field(description="Days until the last WAITING entitlement is paid at the trailing payout pace; null: no payouts to go by.")

    @classmethod
    def of(cls, row: Liability) -> LiabilityType:
        return cls(queue=row.queue, outstanding=row.outstanding, unpaid=Money(str(row.unpaid)), pool=Money(str(row.pool)),
                   last_7_days=FlowType.of(row.last_7_days), last_30_days=FlowType.of(row.last_30_days), expected_wait_days=row.expected_wait_days)


@strawberry.type(name="LiabilityDay", description="One UTC day's flows of the liabilities and pools.")
class DayFlowType:
    day: str = strawberry.field(description="YYYY-MM-DD (UTC).")
    flow: FlowType

    @classmethod
    def of(cls, row: DayFlow) -> DayFlowType:
        return cls(day=row.day, flow=FlowType.of(row.flow))


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsStaff], description="I-5: per queue and pool, outstanding entitlements, balances, trailing flows and the expected wait.")
    async def liabilities(self, info: Info) -> list[LiabilityType]:
        return [LiabilityType.of(row) for row in await liabilities.report(info.context.now())]

    @strawberry.field(permission_classes=[IsStaff], description="I-5: per UTC day, the last `days` days up to today, oldest first: what the liabilities "
                      "promised and paid and the pools took in and paid out (every queue summed, or one `queue`'s).")
    async def liability_days(self, info: Info, days: int = 30, queue: str | None = None) -> list[DayFlowType]:
        if not 1 <= days <= MAX_DAYS:
            raise coded(ErrorCode.INVALID_INPUT, f"days must be within 1..{MAX_DAYS}")
        return [DayFlowType.of(row) for row in await liabilities.by_day(info.context.now(), days, queue)]
