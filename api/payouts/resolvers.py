"""`payouts` over graphql-transport-ws, fed by Redis pub/sub (at-most-once: watch `version`
for gaps and re-query when one shows)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from api.context import Info
from api.errors import coded
from api.permissions import CanWatchPayouts
from api.scalars import Money
from domain.errors import ErrorCode
from services.payouts import channel


@strawberry.type(description="A payout to a member from a queue's settlement.")
class Payout:
    member: strawberry.ID
    amount: Money
    key: str = strawberry.field(description="The transfer's key.")
    queue: str
    version: int = strawberry.field(description="The queue's version after the batch; a jump means missed messages.")
    event: strawberry.ID = strawberry.field(description="The ticket (event) that paid it.")
    kind: str | None = strawberry.field(default=None, description="What paid it, when known: the posting's memo (e.g. sale, exit).")

    @classmethod
    def of(cls, data: bytes | str) -> Payout:
        m: dict[str, Any] = json.loads(data)
        return cls(
            member=strawberry.ID(m["member"]),
            amount=Money(m["amount"]),
            key=m["key"],
            queue=m["queue"],
            version=int(m["version"]),
            event=strawberry.ID(str(m["event"])),
            kind=m.get("kind"),
        )


def _channel(member: str | None, queue: str | None, store: str | None) -> str:
    given = [(kind, v) for kind, v in (("member", member), ("queue", queue), ("store", store)) if v is not None]
    if len(given) != 1:
        raise coded(ErrorCode.INVALID_INPUT, "give exactly one of member, queue or store")
    return channel(*given[0])


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanWatchPayouts],
        description="Payouts of one member, queue or store (staff; a member its own; a merchant its store and its store's queues).",
    )
    async def payouts(
        self,
        info: Info,
        member: strawberry.ID | None = None,
        queue: str | None = None,
        store: strawberry.ID | None = None,
    ) -> AsyncGenerator[Payout, None]:
        name = _channel(member, queue, store)
        async with info.context.redis.pubsub() as pubsub:
            await pubsub.subscribe(name)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield Payout.of(message["data"])
