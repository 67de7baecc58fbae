"""Queue rebate types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.errors import UserError
from api.orders.types import Ticket
from api.pagination import Connection
from api.queue_rebate.settings import ExchangeTarget
from api.scalars import Money, Ratio
from services.queries import EntitlementDecisions, EntitlementView


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
    lottery_source: str | None = strawberry.field(default=None, description='QR-12: the lottery this entitlement may draw from, e.g. "product.lottery"; null: none.')
    drawn_ratio: Ratio | None = strawberry.field(default=None, description="QR-12: the ratio drawn (it replaced the reward ratio); null: not drawn.")
    drawn_at: datetime | None = strawberry.field(default=None, description="QR-12: when it was drawn (UTC).")
    exchanged_to: ExchangeTarget | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="QR-14 / QR-15: what the remainder was exchanged (EXCHANGED) or converted (CONVERTED) to.")
    exchanged_amount: Money | None = strawberry.field(default=None, description="QR-14 / QR-15: the points / love value credited for it.")
    can_draw: bool = strawberry.field(default=False, description="QR-12: WAITING, nothing received, not drawn yet and a lottery is offered.")

    @classmethod
    def of(cls, e: EntitlementView, decided: EntitlementDecisions | None = None) -> Entitlement:
        d = decided
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
            lottery_source=(d.lottery_source or None) if d else None,
            drawn_ratio=Ratio(d.drawn_ratio) if d and d.drawn_ratio is not None else None,
            drawn_at=d.drawn_at if d else None,
            exchanged_to=ExchangeTarget(d.exchanged_to) if d and d.exchanged_to else None,
            exchanged_amount=d.exchanged if d else None,
            can_draw=bool(d and can_draw(e, d)),
        )


def can_draw(e: EntitlementView, d: EntitlementDecisions) -> bool:
    """QR-12 as the stored state says (the lottery may still have been withdrawn since)."""
    return e.model == "queue_rebate" and e.status == "WAITING" and e.received == 0 and d.drawn_ratio is None and bool(d.lottery_source)


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


@strawberry.type(description="A queue on the operations console: positions, what waits and is owed, its pool, and the QR-17 / QR-5 states.")
class QueueOverview:
    id: str
    model: str
    head: int
    tail: int
    waiting: int = strawberry.field(description="Entitlements still WAITING (the order dividend's ACTIVE ones too).")
    unpaid: Money = strawberry.field(description="What they are still owed (the queue's liability).")
    pool: Money
    paused: bool | None = strawberry.field(description="QR-17 队列奖励暂停 for queue rebate queues; null for the other models.")
    listed: bool | None = strawberry.field(description="A product's own queue (qr:PRODUCT:…): whether the product is listed; null otherwise.")

    @classmethod
    def of(cls, row: dict[str, Any], paused: bool | None) -> QueueOverview:
        return cls(id=row["id"], model=row["model"], head=int(row["head"]), tail=int(row["tail"]), waiting=int(row["outstanding"]), unpaid=row["unpaid"],
                   pool=row["pool"], paused=paused, listed=row["listed"])


@strawberry.type
class Pool:
    name: str
    balance: Money


@strawberry.type(description="A WAITING entitlement on the queue-progress page. For a member caller, what the QR-18 display settings hide is null; "
                 "staff and the queue's merchant see everything.")
class QueueProgressEntry:
    key: str | None = strawberry.field(description="The entitlement's key; null on other members' entries for a member caller.")
    own: bool = strawberry.field(description="True when the entry is the calling member's own.")
    member: strawberry.ID | None = strawberry.field(description="Hidden by 会员信息 (show_member_info) except on the member's own entries.")
    member_nickname: str | None = strawberry.field(description="Hidden as `member`.")
    member_avatar: str | None = strawberry.field(description="Hidden as `member`.")
    queue: str | None = strawberry.field(description="Hidden by 队列进程 (show_queue_progress).")
    position: int | None = strawberry.field(description="Hidden by 队列进程 (show_queue_progress).")
    total: Money | None = strawberry.field(description="Hidden when `received` or `remaining` is (it would give the other away).")
    received: Money | None = strawberry.field(description="Hidden by 累计奖励 (show_cumulative).")
    remaining: Money | None = strawberry.field(description="Hidden by 待奖励金额 (show_pending_amount).")
    status: str


@strawberry.type(description="A queue's WAITING entitlements from the head, in position order, with the QR-18 display names. For a member caller, "
                 "what the display settings hide is null.")
class QueueProgress:
    queue: Queue | None = strawberry.field(description="Hidden by 队列进程 (show_queue_progress): ids, head and tail positions.")
    waiting: Connection[QueueProgressEntry]
    pending_count: int | None = strawberry.field(description="How many entitlements wait; hidden by 待奖励 (show_pending_count).")
    pending_amount: Money | None = strawberry.field(description="The unpaid remainders of all waiting entitlements; hidden by 待奖励金额 (show_pending_amount).")
    model_display_name: str = strawberry.field(description="QR-18: the model's custom display name.")
    exchange_button_name: str = strawberry.field(description="QR-18: the exchange button's custom name.")


@strawberry.input(description="QR-12: draw the lottery of an entitlement (once, while WAITING with nothing received). `key` is the action's idempotency "
                  "key (C-6), unique among all events.")
class DrawLotteryInput:
    key: str
    entitlement: str = strawberry.field(description="The entitlement's key, `order:line`.")

    def payload(self, member: str | None) -> dict[str, Any]:
        return {"type": "entitlement.draw", "key": self.key, "entitlement": self.entitlement, **({"member": member} if member else {})}


@strawberry.input(description="QR-14: exchange a WAITING entitlement's unpaid remainder to points or love value at the exchange ratio. `key` is the "
                  "action's idempotency key (C-6), unique among all events.")
class ExchangeEntitlementInput:
    key: str
    entitlement: str = strawberry.field(description="The entitlement's key, `order:line`.")
    to: ExchangeTarget  # type: ignore[valid-type]

    def payload(self, member: str | None) -> dict[str, Any]:
        return {"type": "entitlement.exchange", "key": self.key, "entitlement": self.entitlement, "to": self.to.value, **({"member": member} if member else {})}


@strawberry.type(description="I-2: the recorded member action; the queue's worker settles it in order with the queue's payouts.")
class EntitlementActionPayload:
    ticket: Ticket | None
    errors: list[UserError]


@strawberry.type(description="QR-16: one ticket per queue whose WAITING entitlements the due reset clears; empty when no reset is due.")
class QueueRebateResetsPayload:
    tickets: list[Ticket]
    errors: list[UserError]

