"""A committed group's enqueue runs while the next group records (services/group_commit.py): its
callers are answered only once it is done, and a slow enqueue does not hold the groups behind it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise import connections

from services.group_commit import GroupCommit
from services.intake import Ticket
from services.replay import Replay
from store.sql import fetch
from tests.integration.scenario import member, paid, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)


class SlowFirst:
    """An enqueue whose first call waits until released."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, queues: list[str]) -> None:
        self.calls.append(queues)
        if len(self.calls) == 1:
            await self.release.wait()


async def event_keys() -> list[str]:
    return [r["key"] for r in await fetch(connections.get("default"), "SELECT key FROM event WHERE type = 'order.paid' ORDER BY id")]


async def first_group_enqueuing() -> tuple[GroupCommit, SlowFirst, asyncio.Future[Ticket]]:
    """A group commit whose first group (o1) has committed and is held in its enqueue."""
    replay = Replay()
    for e in (qr_settings(), member("M1"), product("P1")):
        await replay.apply(e)
    enqueue = SlowFirst()
    group = GroupCommit(enqueue)
    first = asyncio.ensure_future(group.submit(paid("o1", "M1", ("P1", "10.00")), NOW))
    while not enqueue.calls:
        await asyncio.sleep(0.001)
    return group, enqueue, first


async def test_a_slow_enqueue_holds_its_own_callers_only():
    group, enqueue, first = await first_group_enqueuing()
    second = await asyncio.wait_for(group.submit(paid("o2", "M1", ("P1", "10.00")), NOW), 10)
    assert isinstance(second, Ticket) and enqueue.calls == [["qr:MALL"], ["qr:MALL"]]
    assert not first.done() and await event_keys() == ["o1:paid", "o2:paid"]  # committed, not answered before its enqueue
    enqueue.release.set()
    ticket = await first
    await group.close()
    assert isinstance(ticket, Ticket) and ticket.id < second.id and group.groups == 2


async def test_closing_answers_the_callers_of_a_group_still_enqueuing():
    group, enqueue, first = await first_group_enqueuing()
    closing = asyncio.ensure_future(group.close())
    await asyncio.sleep(0.01)
    assert not closing.done() and not first.done()  # close waits for the enqueue, then the answers
    enqueue.release.set()
    await closing
    assert isinstance(first.result(), Ticket)
