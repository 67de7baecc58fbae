"""Queries of the queue rebate area."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import coded
from api.pagination import Connection, int_cursor, page, page_size
from api.permissions import CanReadEntitlements, CanReadQueue, IsStaff, IsStaffOrMerchant
from api.queue_rebate.types import Entitlement, Pool, Queue, QueueProgress
from domain.errors import ErrorCode
from services import queries


def _queue_cursor(after: str | None) -> tuple[str, int]:
    """`<queue>@<position>`: the cursor of a listing that spans queues."""
    if after is None:
        return ("", 0)
    queue, sep, position = after.rpartition("@")
    if not sep or not position.isdigit():
        raise coded(ErrorCode.INVALID_INPUT, f"after is not a cursor of this list: {after!r}")
    return (queue, int(position))


async def _across_queues(member: str, status: str | None, after: str | None, size: int) -> Connection[Entitlement]:
    """A member's entitlements over every queue, keyset-paged on (queue, position)."""
    queue, position = _queue_cursor(after)
    rows = await queries.entitlements(member=member, status=status, after_queue=queue, after_position=position, limit=size + 1)
    return page([Entitlement.of(e) for e in rows], size, lambda e: f"{e.queue}@{e.position}")


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[CanReadEntitlements],
        description="Entitlements of a member and/or a queue, in (queue, position) order. Give `queue` to page by position within it.",
    )
    async def entitlements(
        self,
        member: strawberry.ID | None = None,
        queue: str | None = None,
        status: str | None = None,
        after: str | None = None,
        first: int | None = None,
    ) -> Connection[Entitlement]:
        size = page_size(first)
        if queue is None:
            if member is None:
                raise coded(ErrorCode.INVALID_INPUT, "give a member, a queue or both")
            return await _across_queues(str(member), status, after, size)
        rows = await queries.entitlements(member=member, queue=queue, status=status, after_position=int_cursor(after), limit=size + 1)
        return page([Entitlement.of(e) for e in rows], size, lambda e: str(e.position))

    @strawberry.field(permission_classes=[CanReadQueue], description="A queue's WAITING entitlements in position order, from the head.")
    async def queue_progress(self, queue: str, after: str | None = None, first: int | None = None) -> QueueProgress | None:
        size = page_size(first)
        row = await queries.queue(queue)
        if row is None:
            return None
        rows = await queries.entitlements(queue=queue, status="WAITING", after_position=int_cursor(after), limit=size + 1)
        return QueueProgress(queue=Queue.of(row), waiting=page([Entitlement.of(e) for e in rows], size, lambda e: str(e.position)))

    @strawberry.field(permission_classes=[IsStaffOrMerchant], description="Every queue (a merchant sees its own store's).")
    async def queues(self, info: Info) -> list[Queue]:
        caller = info.context.principal
        rows = await queries.queues()
        return [Queue.of(r) for r in rows if caller is not None and (caller.is_staff or caller.owns_queue(r["id"]))]

    @strawberry.field(permission_classes=[IsStaff], description="Every queue's / model's pool balance.")
    async def pools(self) -> list[Pool]:
        return [Pool(name=name, balance=balance) for name, balance in (await queries.pools()).items()]
