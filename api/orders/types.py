"""Order inputs, tickets and payloads."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from api.context import Info
from api.errors import UserError, mirror
from api.inputs import planned
from api.ledger.types import Transfer
from api.scalars import Money
from domain.queue_rebate_settings import Channel

OrderChannel = mirror(Channel, "OrderChannel", "M-5: where an order was placed: the mall, a store online, or a store's cashier.")


@strawberry.enum(description="I-2: PENDING until every queue concerned settled the event; FAILED when one refused it.")
class TicketStatus(Enum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


@strawberry.type(description="I-2: a recorded event; its id is the ticket id, its settlement is asynchronous.")
class Ticket:
    id: strawberry.ID
    key: str = strawberry.field(description="The event's idempotency key (C-6).")
    type: str
    duplicate: bool = strawberry.field(description="True when this key was already recorded: the first ticket is returned, nothing new happens.")

    async def _state(self, info: Info) -> dict[str, Any]:
        return await info.context.loaders.tickets.load(int(self.id)) or {"status": "PENDING", "errors": [], "transfers": []}

    @strawberry.field
    async def status(self, info: Info) -> TicketStatus:
        return TicketStatus((await self._state(info))["status"])

    @strawberry.field(description="Why a queue refused the event, when it did.")
    async def errors(self, info: Info) -> list[str]:
        return list((await self._state(info))["errors"])

    @strawberry.field(description="The postings the event caused so far.")
    async def transfers(self, info: Info) -> list[Transfer]:
        return [Transfer.of(t) for t in (await self._state(info))["transfers"]]

    @classmethod
    def of(cls, row: Any, duplicate: bool = False) -> Ticket:
        return cls(id=strawberry.ID(str(row.id)), key=row.key, type=row.type, duplicate=duplicate)


@planned
@strawberry.input
class OrderLineInput:
    product: strawberry.ID | None = strawberry.field(default=None, description="Required except for CASHIER payments.")
    quantity: int = 1
    paid: Money = strawberry.field(description="The final paid amount of the line after discounts.")
    deduction: Money = strawberry.field(default=Money("0.00"), description="The part paid with points / love value (QR-9).")

    def event(self) -> dict[str, Any]:
        return {"product": self.product, "quantity": self.quantity, "paid": self.paid, "deduction": self.deduction}


@planned
@strawberry.input(description="M-5 `order.paid`: its lines join their queues (QR-5) and extract (QR-3, on pay).")
class OrderPaidInput:
    key: str
    order: strawberry.ID
    member: strawberry.ID
    lines: list[OrderLineInput]
    channel: OrderChannel = OrderChannel.MALL  # type: ignore[valid-type, attr-defined]
    store: strawberry.ID | None = None
    cashier: strawberry.ID | None = None
    profit: Money | None = None
    region: str | None = strawberry.field(default=None, description='DR-5: "province/city/district"; else the store\'s.')

    def event(self) -> dict[str, Any]:
        """The SPEC I-6 `order.paid` event (snake_case keys, decimals as strings)."""
        return {
            "type": "order.paid",
            "key": self.key,
            "order": self.order,
            "member": self.member,
            "channel": self.channel.value,
            "store": self.store,
            "cashier": self.cashier,
            "profit": self.profit,
            "lines": [ln.event() for ln in self.lines],
            **({"region": self.region} if self.region is not None else {}),
        }


@planned
@strawberry.input(description="M-5 `order.completed`.")
class OrderCompletedInput:
    key: str
    order: strawberry.ID

    def event(self) -> dict[str, Any]:
        return {"type": "order.completed", "key": self.key, "order": self.order}


@planned
@strawberry.input(description="M-5 `order.refunded`: the whole order, or one line by its index (QR-8).")
class OrderRefundedInput:
    key: str
    order: strawberry.ID
    line: int | None = None

    def event(self) -> dict[str, Any]:
        return {"type": "order.refunded", "key": self.key, "order": self.order, "line": self.line}


@strawberry.type
class OrderEventPayload:
    ticket: Ticket | None
    errors: list[UserError]


@strawberry.type
class ReportOrdersPayload:
    results: list[OrderEventPayload] = strawberry.field(description="One result per event, in the order given.")
    errors: list[UserError]
