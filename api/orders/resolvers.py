"""Order-event mutations and the ticket query (I-2). Each event is validated and recorded in one
transaction by `services.intake`; only then are its queues' drain jobs enqueued."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import user_error
from api.orders.types import (
    OrderCompletedInput,
    OrderEventPayload,
    OrderPaidInput,
    OrderRefundedInput,
    ReportOrdersPayload,
    Ticket,
)
from api.permissions import IsStaff
from domain.errors import DomainError, ErrorCode
from services import intake
from workers.main import enqueue_drains

log = logging.getLogger("rebate.api")
MAX_EVENTS = 1000


async def _enqueue(info: Info, queues: list[str]) -> None:
    """Best effort: the event is already durable and the worker's sweeper re-enqueues a lost job."""
    if not queues:
        return
    try:
        await enqueue_drains(info.context.redis, queues)
    except Exception:  # noqa: BLE001 - Redis down must not fail a recorded event
        log.warning("could not enqueue drains of %s; the sweeper will", queues, exc_info=True)


async def _record(info: Info, event: Mapping[str, Any], camel: bool = True, prefix: str | None = None) -> tuple[OrderEventPayload, list[str]]:
    try:
        ticket = await intake.record(event, now=info.context.now())
    except DomainError as exc:
        return OrderEventPayload(ticket=None, errors=[user_error(exc, camel, prefix)]), []
    return OrderEventPayload(ticket=Ticket.of(ticket, ticket.duplicate), errors=[]), list(ticket.queues)


async def report(info: Info, event: Mapping[str, Any]) -> OrderEventPayload:
    payload, queues = await _record(info, event)
    await _enqueue(info, queues)
    return payload


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsStaff], description="I-2: a recorded event's settlement status and postings.")
    async def ticket(self, info: Info, id: strawberry.ID) -> Ticket | None:
        if not str(id).isdigit():
            return None
        row = await info.context.loaders.tickets.load(int(id))
        return Ticket(id=strawberry.ID(str(row["id"])), key=row["key"], type=row["type"], duplicate=False) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaff], description="M-5: an order was paid.")
    async def report_order_paid(self, info: Info, input: OrderPaidInput) -> OrderEventPayload:
        return await report(info, input.event())

    @strawberry.mutation(permission_classes=[IsStaff], description="M-5: an order was completed.")
    async def report_order_completed(self, info: Info, input: OrderCompletedInput) -> OrderEventPayload:
        return await report(info, input.event())

    @strawberry.mutation(permission_classes=[IsStaff], description="M-5: an order, or one line of it, was refunded.")
    async def report_order_refunded(self, info: Info, input: OrderRefundedInput) -> OrderEventPayload:
        return await report(info, input.event())

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Bulk intake of SPEC I-6 order events (objects with a `type`), recorded in the order given; each is accepted or refused on its own.",
    )
    async def report_orders(self, info: Info, events: list[JSON]) -> ReportOrdersPayload:
        if len(events) > MAX_EVENTS:
            error = DomainError(ErrorCode.INVALID_INPUT, f"at most {MAX_EVENTS} events per call", "events")
            return ReportOrdersPayload(results=[], errors=[user_error(error)])
        results, queues = [], []
        for i, event in enumerate(events):
            payload, touched = await _bulk_one(info, i, event)
            results.append(payload)
            queues.extend(q for q in touched if q not in queues)
        await _enqueue(info, queues)
        return ReportOrdersPayload(results=results, errors=[])


async def _bulk_one(info: Info, index: int, event: Any) -> tuple[OrderEventPayload, list[str]]:
    if not isinstance(event, Mapping):
        error = DomainError(ErrorCode.INVALID_INPUT, "an event must be an object with a type", None)
        return OrderEventPayload(ticket=None, errors=[user_error(error, prefix=f"events.{index}")]), []
    return await _record(info, event, camel=False, prefix=f"events.{index}")
