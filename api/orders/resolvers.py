"""Order-event mutations and the ticket query (I-2). Each event is validated and recorded in one
transaction by `services.intake`; only then are its queues' drain jobs enqueued."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.context import Context, Info
from api.errors import user_error
from api.orders.types import (
    OrderCompletedInput,
    OrderEventPayload,
    OrderPaidInput,
    OrderRefundedInput,
    ReportOrdersPayload,
    Ticket,
)
from api.pagination import row_number
from api.permissions import IsStaff, require
from domain.errors import DomainError, ErrorCode
from services import intake
from services.settlement import enqueue_drains

log = logging.getLogger("rebate.api")
MAX_EVENTS = 1000


async def enqueue(redis: Any, queues: list[str]) -> None:
    """Best effort: the event is already durable and the worker's sweeper re-enqueues a lost job."""
    if not queues:
        return
    try:
        await enqueue_drains(redis, queues)
    except Exception:  # Redis down must not fail a recorded event
        log.warning("could not enqueue drains of %s; the sweeper will", queues, exc_info=True)


async def _enqueue(info: Info, queues: list[str]) -> None:
    await enqueue(info.context.redis, queues)


async def report(context: Context, event: Mapping[str, Any]) -> OrderEventPayload:
    """Record one event (SPEC I-6 form), then enqueue the drains of the queues it concerns; with
    the process's group commit, together with the other callers' reports waiting meanwhile."""
    try:
        if context.intake is not None:
            ticket = await context.intake.submit(event, context.now())
        else:
            ticket = await intake.record(event, now=context.now())
            await enqueue(context.redis, ticket.queues)
    except DomainError as exc:
        return OrderEventPayload(ticket=None, errors=[user_error(exc)])
    return OrderEventPayload(ticket=Ticket.of(ticket, ticket.duplicate), errors=[])


# The single-order reports: a payment callback per order is the hottest call. Their resolver is
# a plain function of the context and the input, which the prepared path (api/prepared.py) calls
# without the general executor; the strawberry resolvers below call the same function. It checks
# IsStaff itself (`require`, the same errors as permission_classes), without strawberry's
# per-field permission wrapper.
async def report_input(context: Context, input: OrderPaidInput | OrderCompletedInput | OrderRefundedInput) -> OrderEventPayload:
    require(IsStaff, context)
    return await report(context, input.event())


PREPARED = {"reportOrderPaid": report_input, "reportOrderCompleted": report_input, "reportOrderRefunded": report_input}
"""The mutations a prepared operation may run: GraphQL field name → its resolver function."""


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsStaff], description="I-2: a recorded event's settlement status and postings.")
    async def ticket(self, info: Info, id: strawberry.ID) -> Ticket | None:
        number = row_number(str(id))
        if number is None:
            return None
        row = await info.context.loaders.tickets.load(number)
        return Ticket(id=strawberry.ID(str(row["id"])), key=row["key"], type=row["type"], duplicate=False) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="M-5: an order was paid.")
    async def report_order_paid(self, info: Info, input: OrderPaidInput) -> OrderEventPayload:
        return await report_input(info.context, input)

    @strawberry.mutation(description="M-5: an order was completed.")
    async def report_order_completed(self, info: Info, input: OrderCompletedInput) -> OrderEventPayload:
        return await report_input(info.context, input)

    @strawberry.mutation(description="M-5: an order, or one line of it, was refunded.")
    async def report_order_refunded(self, info: Info, input: OrderRefundedInput) -> OrderEventPayload:
        return await report_input(info.context, input)

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Bulk intake of SPEC I-6 order events (objects with a `type`), recorded in the order given in one transaction; each is accepted or refused on its own.",
    )
    async def report_orders(self, info: Info, events: list[JSON]) -> ReportOrdersPayload:
        if len(events) > MAX_EVENTS:
            error = DomainError(ErrorCode.INVALID_INPUT, f"at most {MAX_EVENTS} events per call", "events")
            return ReportOrdersPayload(results=[], errors=[user_error(error)])
        objects = [i for i, e in enumerate(events) if isinstance(e, Mapping)]
        outcomes = dict(zip(objects, await intake.record_many([events[i] for i in objects], now=info.context.now()), strict=True))
        results = [_bulk_result(i, outcomes.get(i)) for i in range(len(events))]
        queues = list(dict.fromkeys(q for o in outcomes.values() if isinstance(o, intake.Ticket) for q in o.queues))
        await enqueue(info.context.redis, queues)
        return ReportOrdersPayload(results=results, errors=[])


def _bulk_result(index: int, outcome: intake.Ticket | DomainError | None) -> OrderEventPayload:
    """One event's result; None stands for an element that was not an object."""
    if isinstance(outcome, intake.Ticket):
        return OrderEventPayload(ticket=Ticket.of(outcome, outcome.duplicate), errors=[])
    error = outcome or DomainError(ErrorCode.INVALID_INPUT, "an event must be an object with a type", None)
    return OrderEventPayload(ticket=None, errors=[user_error(error, camel=False, prefix=f"events.{index}")])
