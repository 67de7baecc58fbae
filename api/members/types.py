"""Member and wallet types."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any

import strawberry

from api.context import Info
from api.errors import UserError
from api.scalars import Money


@strawberry.type(description="M-6 balances; love value is split into available and frozen; receivable is what a refund clawback could not take back.")
class Wallets:
    cash: Money
    points: Money
    love_value_available: Money
    love_value_frozen: Money
    coupon: Money
    receivable: Money
    appreciation_points: Money = strawberry.field(description="增值积分 of the consumption appreciation (CA-7), their own asset.")

    @classmethod
    def of(cls, balances: dict[str, Decimal]) -> Wallets:
        b = {name: Money(str(value)) for name, value in balances.items()}
        return cls(
            cash=b["cash"],
            points=b["points"],
            love_value_available=b["love_value_available"],
            love_value_frozen=b["love_value_frozen"],
            coupon=b["coupon"],
            receivable=b["receivable"],
            appreciation_points=b["appreciation_points"],
        )


async def _wallets(pending: Awaitable[dict[str, Decimal]]) -> Wallets:
    return Wallets.of(await pending)


@strawberry.type(description="A member (M-1); referrer links form the team tree.")
class Member:
    id: strawberry.ID
    referrer: strawberry.ID | None
    level: str | None
    phone: str | None
    nickname: str | None
    avatar: str | None

    balances: strawberry.Private[dict[str, Decimal] | None] = None  # read with the member, if they were

    @strawberry.field(description="The member's wallet balances.", graphql_type=Wallets)
    def wallets(self, info: Info) -> Wallets | Awaitable[Wallets]:
        """At once when the balances were read with the member (or the loader has them), else
        awaited from the request's wallets loader: a field that is already known costs no await."""
        if self.balances is not None:
            return Wallets.of(self.balances)
        pending = info.context.loaders.wallets.load(self.id)
        if isinstance(pending, Future) and pending.done() and not pending.cancelled() and pending.exception() is None:
            return Wallets.of(pending.result())
        return _wallets(pending)

    @classmethod
    def of(cls, row: Any, balances: dict[str, Decimal] | None = None) -> Member:
        return cls(
            id=strawberry.ID(row.id),
            referrer=row.referrer_id,
            level=row.level,
            phone=row.phone,
            nickname=row.nickname,
            avatar=row.avatar,
            balances=balances,
        )


@strawberry.input(description="M-1: an upsert; referrer and level are replaced (null clears them), profile fields only when given.")
class MemberInput:
    id: strawberry.ID
    referrer: strawberry.ID | None = None
    level: str | None = None
    phone: str | None = None
    nickname: str | None = None
    avatar: str | None = None


@strawberry.type
class MemberPayload:
    member: Member | None
    errors: list[UserError]
