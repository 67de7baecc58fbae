"""Types and inputs of the consumption appreciation (消费增值, CA-1..CA-7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry

from api.context import Info
from api.errors import UserError
from api.orders.types import Ticket
from api.scalars import Money
from services import appreciation


def _money(value: Any) -> Money:
    return Money(str(value))


@strawberry.type(description="CA-2: the appreciation pool, the points in circulation and the price pool / circulating (shown to 0.01).")
class AppreciationPool:
    balance: Money
    circulating: Money
    price: Money

    @classmethod
    def of(cls, view: appreciation.PoolView) -> AppreciationPool:
        return cls(balance=_money(view.pool), circulating=_money(view.circulating), price=_money(view.price))


@strawberry.type(description="CA-7: one price change for the chart: when, why (MINT, SALE, SUBSIDY, EXIT, REFUND) and the price after it.")
class PricePoint:
    id: strawberry.ID
    at: datetime
    cause: str
    price: Money
    pool: Money
    circulating: Money

    @classmethod
    def of(cls, r: dict[str, Any]) -> PricePoint:
        return cls(id=strawberry.ID(str(r["id"])), at=r["at"], cause=r["cause"], price=_money(r["price"]), pool=_money(r["pool"]),
                   circulating=_money(r["circulating"]))


@strawberry.type(description="The price over one UTC day: the price it opened and closed at, its high and low, how many changes it saw.")
class DailyPrice:
    day: date
    open: Money | None
    close: Money | None
    high: Money | None
    low: Money | None
    changes: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> DailyPrice:
        def m(v: Any) -> Money | None:
            return None if v is None else _money(v)

        return cls(day=r["day"], open=m(r["open"]), close=m(r["close"]), high=m(r["high"]), low=m(r["low"]), changes=int(r["changes"]))


@strawberry.type(description="CA-4: a member's appreciation points, their worth now, its spend since the last exit and the price that forces it out.")
class AppreciationHolding:
    member: strawberry.ID
    points: Money
    value: Money
    spend: Money = strawberry.field(description="Spend since the member's last exit (复投 starts again from 0).")
    exit_price: Money | None = strawberry.field(description="exit_multiple × spend / points; null without points.")

    @classmethod
    def of(cls, h: appreciation.HoldingView) -> AppreciationHolding:
        return cls(member=strawberry.ID(h.member), points=_money(h.points), value=_money(h.value), spend=_money(h.spend),
                   exit_price=None if h.exit_price is None else _money(h.exit_price))


@strawberry.type(description="CA-3 / CA-4: points sold by the event, or forced out in the exits it set off.")
class PointsSale:
    member: strawberry.ID
    points: Money
    price: Money = strawberry.field(description="The price they were sold at (shown to 0.01).")
    value: Money
    cash: Money = strawberry.field(description="What the member received; the rest (the retention) stayed in the pool.")
    forced: bool

    @classmethod
    def of(cls, r: dict[str, Any]) -> PointsSale:
        return cls(member=strawberry.ID(r["member"]), points=_money(r["points"]), price=_money(r["price"]), value=_money(r["value"]),
                   cash=_money(r["paid"]), forced=bool(r["forced"]))


@strawberry.type(description="The ticket of a sale or subsidy; `sales` is empty until the pool's queue settled it.")
class AppreciationTicket(Ticket):
    @strawberry.field(description="The sale and the forced exits the event set off, once settled.")
    async def sales(self, info: Info) -> list[PointsSale]:
        return [PointsSale.of(r) for r in await appreciation.sale_result(int(self.id))]


@strawberry.type
class AppreciationPayload:
    ticket: AppreciationTicket | None
    errors: list[UserError]


@strawberry.input(description="CA-3: sell appreciation points at the current price. A member token sells its own; an admin names the member.")
class SellPointsInput:
    key: str = strawberry.field(description="The idempotency key (C-6).")
    points: Money
    member: strawberry.ID | None = None


@strawberry.input(description="CA-5: inject funds into the appreciation pool (a financing round).")
class SubsidizePoolInput:
    key: str
    amount: Money
