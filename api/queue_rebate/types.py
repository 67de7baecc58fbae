"""Queue rebate types."""

from __future__ import annotations

from typing import Any

import strawberry

from api.pagination import Connection
from api.scalars import Money, Ratio
from services.queries import EntitlementView


@strawberry.type(description="待返权益: an entitlement of `total` paid back in queue order; `position` is fixed when the order is paid.")
class Entitlement:
    key: str = strawberry.field(description="`order:line` for per-line models, `order` for per-order ones.")
    member: strawberry.ID
    model: str
    queue: str
    position: int
    order: strawberry.ID
    total: Money
    received: Money
    remaining: Money
    status: str = strawberry.field(description="WAITING, COMPLETED, EXCHANGED, CLEARED, CANCELLED, CONVERTED (QR-4), or a model's own states.")
    ratio: Ratio
    ratio_source: str = strawberry.field(description="Which setting gave the reward ratio (QR-10).")

    @classmethod
    def of(cls, e: EntitlementView) -> Entitlement:
        return cls(
            key=e.key,
            member=strawberry.ID(e.member),
            model=e.model,
            queue=e.queue,
            position=e.position,
            order=strawberry.ID(e.order),
            total=e.total,
            received=e.received,
            remaining=e.remaining,
            status=e.status,
            ratio=e.ratio,
            ratio_source=e.ratio_source,
        )


@strawberry.type(description="A queue / pool: its head position, tail position, carried pool and version (the last settled batch).")
class Queue:
    id: str
    model: str
    head: int
    tail: int
    pool: Money
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Queue:
        return cls(id=row["id"], model=row["model"], head=int(row["head"]), tail=int(row["tail"]), pool=row["pool"], version=int(row["version"]))


@strawberry.type
class Pool:
    name: str
    balance: Money


@strawberry.type(description="A queue's WAITING entitlements from the head, in position order.")
class QueueProgress:
    queue: Queue
    waiting: Connection[Entitlement]
