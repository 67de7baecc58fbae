"""消费增值 queries and mutations: the pool, the price history (paginated and by day), a member's
holding, `sellPoints` (a member, or an admin for it) and `subsidizePool` (admin). Payouts of sales
and exits arrive on the `payouts` subscription (the queue `ca` and the member's channel)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import strawberry

from api.appreciation.types import (
    AppreciationHolding,
    AppreciationPayload,
    AppreciationPool,
    AppreciationTicket,
    DailyPrice,
    PricePoint,
    SellPointsInput,
    SubsidizePoolInput,
)
from api.auth import Role
from api.context import Info
from api.errors import coded, user_error
from api.orders.resolvers import _enqueue
from api.pagination import Connection, int_cursor, page, page_size, row_number
from api.permissions import CanReadMember, IsAdmin, IsAuthenticated, IsStaff, IsStaffOrMember, _Scoped
from domain.errors import DomainError, ErrorCode
from services import appreciation, intake

MAX_DAYS = 366


class CanSell(_Scoped):
    """A member (for itself), or an admin (for any member)."""

    def allows(self, caller: Any, args: dict[str, Any]) -> bool:
        return caller.role in (Role.MEMBER, Role.ADMIN)


async def _record(info: Info, payload: Mapping[str, Any]) -> AppreciationPayload:
    """Record the event; a member's key is its own (its key scope), staff keys share the platform's."""
    caller = info.context.principal
    scope = intake.member_scope(caller.subject) if caller is not None and caller.role is Role.MEMBER else intake.PLATFORM_SCOPE
    try:
        ticket = await appreciation.record(payload, now=info.context.now(), scope=scope)
    except DomainError as exc:
        return AppreciationPayload(ticket=None, errors=[user_error(exc)])
    await _enqueue(info, ticket.queues)
    return AppreciationPayload(ticket=AppreciationTicket.of(ticket, ticket.duplicate), errors=[])


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAuthenticated], description="CA-2: the appreciation pool, circulation and price.")
    async def appreciation_pool(self) -> AppreciationPool:
        return AppreciationPool.of(await appreciation.pool_view())

    @strawberry.field(permission_classes=[IsAuthenticated], description="CA-7: the price history for a chart, oldest first, paginated.")
    async def appreciation_price_history(self, first: int | None = None, after: str | None = None) -> Connection[PricePoint]:
        size = page_size(first)
        rows = await appreciation.price_history(int_cursor(after), size + 1)
        return page([PricePoint.of(r) for r in rows], size, lambda p: str(p.id))

    @strawberry.field(permission_classes=[IsAuthenticated], description="CA-7: the price by UTC day from `start`, `days` buckets (at most 366).")
    async def appreciation_daily_prices(self, start: date, days: int = 30) -> list[DailyPrice]:
        if not 1 <= days <= MAX_DAYS:
            raise coded(ErrorCode.INVALID_INPUT, f"days must be within 1..{MAX_DAYS}")
        if start > date.max - timedelta(days=days):
            raise coded(ErrorCode.INVALID_INPUT, "start is too late")
        rows = await appreciation.daily_prices(datetime(start.year, start.month, start.day, tzinfo=UTC), days)
        return [DailyPrice.of(r) for r in rows]

    @strawberry.field(permission_classes=[CanReadMember], description="CA-4: a member's holding (staff, or the member itself).")
    async def appreciation_holding(self, member: strawberry.ID) -> AppreciationHolding:
        return AppreciationHolding.of(await appreciation.holding(str(member)))

    @strawberry.field(permission_classes=[IsStaff], description="CA-4: the holders nearest to a forced exit, the lowest exit price first.")
    async def appreciation_near_exit(self, first: int = 20) -> list[AppreciationHolding]:
        return [AppreciationHolding.of(h) for h in await appreciation.near_exit(page_size(first))]

    @strawberry.field(permission_classes=[IsStaffOrMember], description="A sale's or subsidy's ticket with its result (a member: its own sales only).")
    async def appreciation_ticket(self, info: Info, id: strawberry.ID) -> AppreciationTicket | None:
        number = row_number(str(id))
        found = await appreciation.event_of(number) if number is not None else None
        if found is None:
            return None
        caller = info.context.principal
        if caller is not None and caller.role is Role.MEMBER and found["member"] != caller.subject:
            return None
        return AppreciationTicket(id=strawberry.ID(str(found["id"])), key=found["key"], type=found["type"], duplicate=False)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[CanSell], description="CA-3 卖出增值积分: sell points at the pool's price as the pool's queue settles it "
                         "(in order with every order and sale); the result is on the ticket. A member sells its own; an admin names the member.")
    async def sell_points(self, info: Info, input: SellPointsInput) -> AppreciationPayload:
        caller = info.context.principal
        assert caller is not None
        member = caller.subject if caller.role is Role.MEMBER else input.member
        if caller.role is Role.MEMBER and input.member is not None and input.member != caller.subject:
            return AppreciationPayload(ticket=None, errors=[user_error(DomainError(ErrorCode.FORBIDDEN, "a member sells only its own points", "member"))])
        if member is None:
            return AppreciationPayload(ticket=None, errors=[user_error(DomainError(ErrorCode.INVALID_INPUT, "name the member to sell for", "member"))])
        return await _record(info, {"type": appreciation.SELL, "key": input.key, "member": str(member), "points": input.points})

    @strawberry.mutation(permission_classes=[IsAdmin], description="CA-5: inject funds into the appreciation pool (raises the price; exits may follow).")
    async def subsidize_pool(self, info: Info, input: SubsidizePoolInput) -> AppreciationPayload:
        return await _record(info, {"type": appreciation.SUBSIDY, "key": input.key, "amount": input.amount})
