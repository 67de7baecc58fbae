"""On PostgreSQL a group of payments is read and written in three intake statements whatever its
size (the lookup, `store.intake.insert_new`, the inbox items), and writes what the statement per
table wrote: the events with their ids in report order, the orders and their lines, the missing
queue once, the inbox items in report order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import connections

from services.group_commit import GroupCommit
from services.intake import Ticket
from services.replay import Replay, settle_all
from store import intake as intake_rows
from store.sql import dialect, fetch
from tests.integration.scenario import member, paid, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)


async def enqueued(queues: list[str]) -> None:
    return None


def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements `store.intake` runs from now on (its three helpers of store.sql; an
    `execute_many` of no rows runs none)."""
    seen: list[str] = []

    def wrap(name: str) -> Callable[..., Any]:
        real = getattr(intake_rows, name)

        async def counting(conn: Any, sql: str, params: Any = ()) -> Any:
            if name != "execute_many" or params:
                seen.append(sql)
            return await real(conn, sql, params)
        return counting

    for name in ("fetch", "execute", "execute_many"):
        monkeypatch.setattr(intake_rows, name, wrap(name))
    return seen


async def test_a_group_of_payments_is_three_statements_on_postgresql(monkeypatch: pytest.MonkeyPatch):
    if dialect(connections.get("default")) != "postgres":
        pytest.skip("the one-statement write is PostgreSQL's")
    replay = Replay()
    for e in (qr_settings(), *(member(f"M{i}") for i in range(4)), product("P1"), product("P2")):
        await replay.apply(e)
    group = GroupCommit(enqueued)
    statements = counted(monkeypatch)
    first = await asyncio.gather(*(group.submit(paid(f"o{i:02}", f"M{i % 4}", ("P1", "10.00"), ("P2", "5.00")), NOW) for i in range(12)))
    assert group.groups == 1 and len(statements) == 3
    second = await asyncio.gather(*(group.submit(paid(f"o{i:02}", "M0", ("P2", "1.00")), NOW) for i in range(12, 15)))
    await group.close()
    assert group.groups == 2 and len(statements) == 6  # the queue exists now: the same three
    tickets = [t for t in first + second if isinstance(t, Ticket)]
    assert len(tickets) == 15 and all(not t.duplicate and t.queues == ["qr:MALL"] for t in tickets)
    conn = connections.get("default")
    events = await fetch(conn, "SELECT id, key, type FROM event WHERE type = 'order.paid' ORDER BY id")
    assert [(r["id"], r["key"]) for r in events] == [(t.id, t.key) for t in tickets]  # ids in report order
    orders = await fetch(conn, 'SELECT id, member_id, status, amount_fen FROM "order" ORDER BY id')
    assert [(r["id"], r["member_id"], r["status"], r["amount_fen"]) for r in orders] == [
        *((f"o{i:02}", f"M{i % 4}", "PAID", 1500) for i in range(12)), *((f"o{i:02}", "M0", "PAID", 100) for i in range(12, 15))]
    lines = await fetch(conn, 'SELECT order_id, "index", product_id, paid_fen, queue_id, refunded, extracted, cancelled FROM order_line ORDER BY order_id, "index"')
    assert len(lines) == 27 and {(r["queue_id"], r["refunded"], r["extracted"], r["cancelled"]) for r in lines} == {("qr:MALL", False, False, False)}
    assert [(r["product_id"], r["paid_fen"]) for r in lines[:2]] == [("P1", 1000), ("P2", 500)]
    assert [r["id"] for r in await fetch(conn, "SELECT id FROM queue")] == ["qr:MALL"]
    items = await fetch(conn, "SELECT queue_id, event_id, status FROM inbox_item ORDER BY id")
    assert [(r["queue_id"], r["event_id"], r["status"]) for r in items] == [("qr:MALL", t.id, "PENDING") for t in tickets]
    await settle_all()
    positions = await fetch(conn, "SELECT order_id FROM entitlement ORDER BY position")
    assert list(dict.fromkeys(r["order_id"] for r in positions)) == [f"o{i:02}" for i in range(15)]  # settled in report order
