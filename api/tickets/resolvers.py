"""`ticket(id)` over graphql-transport-ws: one message with the ticket's result when every queue
has settled its part of the event, at once when that has already happened, then the stream ends.

The worker publishes each settled ticket's id after its batch commits (`workers.publish`). Pub/sub
is at-most-once and a commit may land between reading the ticket and listening, so the
resolver listens first, then reads the ticket, and reads it again on every notice.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api.auth import Principal
from api.context import Info
from api.errors import coded
from api.orders.types import Ticket
from api.pagination import row_number
from api.permissions import IsAuthenticated
from domain.errors import ErrorCode
from services import queries
from services.payouts import ticket_channel


def _may_see(caller: Principal, owner: tuple[str | None, str | None] | None) -> bool:
    """I-3: staff any ticket; a member its own (the event's member); a merchant its store's."""
    if caller.is_staff:
        return True
    return owner is not None and (caller.is_member(owner[0]) or caller.owns_store(owner[1]))


async def _settled(number: int) -> Ticket | None:
    row = await queries.ticket(number)
    if row is None or row["status"] == "PENDING":
        return None
    return Ticket(id=strawberry.ID(str(row["id"])), key=row["key"], type=row["type"], duplicate=False)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="I-2: the ticket once its settlement has committed (DONE or FAILED), then the stream ends; "
        "at once if it already has. Staff any ticket, a member its own, a merchant its store's.",
    )
    async def ticket(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Ticket, None]:
        number = row_number(str(id))
        caller = info.context.principal
        owner = await queries.ticket_owner(number) if number is not None else None
        if caller is None or not _may_see(caller, owner):
            raise coded(ErrorCode.FORBIDDEN, "not allowed for this caller")
        if owner is None or number is None:
            raise coded(ErrorCode.INVALID_INPUT, f"no ticket {id}")
        async with info.context.redis.pubsub() as pubsub:
            await pubsub.subscribe(ticket_channel(number))
            if (done := await _settled(number)) is not None:
                yield done
                return
            async for message in pubsub.listen():
                if message.get("type") == "message" and (done := await _settled(number)) is not None:
                    yield done
                    return
