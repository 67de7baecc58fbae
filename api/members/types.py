"""Member and wallet types."""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from decimal import Decimal
from typing import Any

import strawberry

from api.context import Context
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


class _LoadedWallets:
    """The wallets of a Member not read with its balances (a mutation's payload): read through
    the request's wallets loader when, and only if, the field is resolved."""

    __slots__ = ("context", "member")

    def __init__(self, context: Context, member: str) -> None:
        self.context, self.member = context, member

    def __await__(self) -> Generator[Any, None, Wallets]:
        return self._load().__await__()

    async def _load(self) -> Wallets:
        return Wallets.of(await self.context.loaders.wallets.load(self.member))


@strawberry.type(description="A member (M-1); referrer links form the team tree.")
class Member:
    id: strawberry.ID
    referrer: strawberry.ID | None
    level: str | None
    phone: str | None
    nickname: str | None
    avatar: str | None
    # An attribute, not a resolver: the field costs no resolver call, strawberry Info or argument
    # conversion; a payload's Member holds an awaitable of them instead (`_LoadedWallets`).
    wallets: Wallets | Awaitable[Wallets] = strawberry.field(description="The member's wallet balances.", graphql_type=Wallets)

    @classmethod
    def of(cls, row: Any, balances: dict[str, Decimal] | None = None, context: Context | None = None) -> Member:
        """With the balances read with the member, or else the request's context to read them from."""
        wallets: Wallets | Awaitable[Wallets]
        if balances is not None:
            wallets = Wallets.of(balances)
        elif context is not None:
            wallets = _LoadedWallets(context, row.id)
        else:
            raise ValueError("a Member needs its balances or the context to read them from")
        return cls(
            id=strawberry.ID(row.id),
            referrer=row.referrer_id,
            level=row.level,
            phone=row.phone,
            nickname=row.nickname,
            avatar=row.avatar,
            wallets=wallets,
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
