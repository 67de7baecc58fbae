"""Ops: the inbox items settlement isolated as FAILED, and putting one back after a fix (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.errors import ErrorCode as GraphQLErrorCode
from api.errors import UserError
from api.orders.resolvers import _enqueue
from api.pagination import Connection, int_cursor, page, page_size, row_number
from api.permissions import IsAdmin
from domain.errors import ErrorCode
from services import failures, metrics


@strawberry.type(description="An inbox item whose settlement kept failing (or that its model refused): its queue went on without it.")
class FailedItem:
    id: strawberry.ID
    queue: str
    event_key: str
    type: str
    error: str | None
    attempts: int
    failed_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> FailedItem:
        return cls(id=strawberry.ID(str(row["id"])), queue=row["queue_id"], event_key=row["event_key"], type=row["type"], error=row["error"],
                   attempts=int(row["attempts"]), failed_at=row["failed_at"])


@strawberry.type
class RetryFailedItemPayload:
    queue: str | None
    errors: list[UserError]


async def update_failed_gauge() -> None:
    """Called by /metrics before it renders: the inbox gauges (FAILED per queue …) as the database has them."""
    await metrics.observe_inbox()


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAdmin], description="Inbox items in FAILED status, in id order (paginated).")
    async def failed_items(self, after: str | None = None, first: int | None = None) -> Connection[FailedItem]:
        size = page_size(first)
        rows = await failures.failed_items(int_cursor(after), size + 1)
        return page([FailedItem.of(r) for r in rows], size, lambda i: str(i.id))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Put a FAILED inbox item back to PENDING (after a fix): it is settled at "
                         "its queue's next drain, before the items of that queue still pending.")
    async def retry_failed_item(self, info: Info, id: strawberry.ID) -> RetryFailedItemPayload:
        number = row_number(str(id))
        queue = await failures.retry_failed(number) if number is not None else None
        if queue is None:
            error = UserError(code=GraphQLErrorCode(ErrorCode.INVALID_INPUT.value), field="id", message="no FAILED inbox item has this id")
            return RetryFailedItemPayload(queue=None, errors=[error])
        await _enqueue(info, [queue])
        return RetryFailedItemPayload(queue=queue, errors=[])
