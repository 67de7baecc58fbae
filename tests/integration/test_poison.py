"""Issue 9 (1b): an event whose settlement raises is retried a bounded number of times, then
isolated as FAILED while its queue goes on; ops list it and put it back after a fix. On SQLite
and PostgreSQL, with the historical poison written past intake's validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from services import failures, queries
from services.replay import Replay
from services.settlement import MAX_ATTEMPTS, settle_batch
from store import db
from store.intake import add_inbox_items, insert_events, insert_orders
from store.models import InboxItem
from tests.integration.scenario import member, product, qr_settings
from tests.integration.test_worker import NOW, report

pytestmark = pytest.mark.usefixtures("db")
POISON_PAID = "50000000000000000.00"  # accepted before C-8's bounds: 5·10^18 fen; at 200 % its reward overflows BIGINT


async def setup_queue() -> None:
    """The mall queue at 10 % extraction and a 200 % reward, ten members, one product."""
    replay = Replay()
    for e in (qr_settings(reward_ratio="200"), *(member(f"M{i}") for i in range(10)), product("P1")):
        await replay.apply(e)


async def write_poison(order: str, member_id: str = "M1", paid: str = POISON_PAID) -> int:
    """An order.paid event, its order and line and its mall-queue inbox item, written straight
    through the store (what intake accepted before it bounded amounts). Returns the item's id."""
    fen = int(Decimal(paid) * 100)
    payload = {"type": "order.paid", "key": f"{order}:paid", "order": order, "member": member_id, "channel": "MALL",
               "lines": [{"product": "P1", "quantity": 1, "paid": paid, "deduction": "0.00"}]}
    async with db.writing() as conn:
        ids = await insert_events(conn, "", [(f"{order}:paid", "poison", "order.paid", json.dumps(payload))], NOW, NOW)
        await insert_orders(conn, [(order, member_id, "MALL", None, None, None, fen, "PAID", NOW, None, None, None)],
                            [(order, 0, "P1", 1, fen, 0, "qr:MALL", False)])
        await add_inbox_items(conn, [("qr:MALL", ids[f"{order}:paid"])])
    item = await InboxItem.filter(event_id=ids[f"{order}:paid"]).first()
    assert item is not None
    return int(item.id)


async def drain(queue: str = "qr:MALL", rounds: int = 50) -> None:
    """What drain_queue and the sweeper do together: drain, and come back while items are pending."""
    for _ in range(rounds):
        while await settle_batch(queue):
            pass
        if not await InboxItem.filter(queue_id=queue, status="PENDING").exists():
            return
    raise AssertionError(f"{queue} still has PENDING items")


async def test_c7_a_poison_order_is_failed_after_bounded_attempts_and_later_orders_settle():
    await setup_queue()
    await report(5)
    poison = await write_poison("poison")
    await report(20, start=5)
    await drain()
    item = await InboxItem.get(id=poison)
    assert item.status == "FAILED" and item.attempts == MAX_ATTEMPTS
    assert item.error and item.failed_at is not None
    assert await InboxItem.filter(status="PENDING").count() == 0
    assert await InboxItem.filter(status="DONE").count() == 25
    ents = await queries.entitlements(queue="qr:MALL", limit=100)
    assert [e.position for e in ents] == list(range(1, 26)), "every later order joined the queue, in order"
    assert not any(e.order == "poison" for e in ents)
    assert sum((e.received for e in ents), Decimal(0)) == Decimal(10 * 24)
    assert await queries.is_zero_sum()
    [listed] = await failures.failed_items()
    assert (listed["queue_id"], listed["event_key"], listed["type"], listed["attempts"]) == ("qr:MALL", "poison:paid", "order.paid", MAX_ATTEMPTS)
    assert await failures.count_failed() == 1


async def test_c7_a_failed_item_retried_after_a_fix_settles_at_the_next_drain():
    """The choice (docs/operations.md): later items settle past a FAILED one; retried, it joins the
    queue at its tail then, after the orders that passed it."""
    await setup_queue()
    await report(3)
    poison = await write_poison("late", paid="100.00")
    async with db.writing() as conn:  # break it: a line no reward fits in BIGINT
        await conn.execute_query("UPDATE order_line SET paid_fen = 9223372036854775807 WHERE order_id = 'late'")
    await report(3, start=3)
    await drain()
    assert (await InboxItem.get(id=poison)).status == "FAILED"
    async with db.writing() as conn:  # the fix
        await conn.execute_query("UPDATE order_line SET paid_fen = 10000 WHERE order_id = 'late'")
    assert await failures.retry_failed(poison) == "qr:MALL"
    assert await failures.retry_failed(poison) is None, "only a FAILED item can be retried"
    await drain()
    item = await InboxItem.get(id=poison)
    assert item.status == "DONE"
    ents = await queries.entitlements(queue="qr:MALL", limit=100)
    assert [e.order for e in ents] == ["o0", "o1", "o2", "o3", "o4", "o5", "late"]
    assert await queries.is_zero_sum()


async def test_c7_a_worker_dying_in_every_batch_still_isolates_the_item():
    """The attempts are counted in the database before a batch runs: a worker that never comes
    back from it (killed, a job timeout) leaves the count, and a later settler gives up on it."""
    await setup_queue()
    poison = await write_poison("crash", paid="100.00")
    await report(2)
    async with db.writing() as conn:
        await conn.execute_query(f"UPDATE inbox_item SET attempts = 8 WHERE id = {poison}")
    await drain()
    item = await InboxItem.get(id=poison)
    assert item.status == "FAILED" and "did not come back" in (item.error or "")
    assert await InboxItem.filter(status="DONE").count() == 2


async def test_c7_settling_items_alone_after_a_failed_batch_pays_as_one_batch_would():
    await setup_queue()
    await report(10)
    await write_poison("p", paid=POISON_PAID)
    await report(290, start=10)
    await drain()
    ents = await queries.entitlements(queue="qr:MALL", limit=400)
    assert len(ents) == 300 and sum((e.received for e in ents), Decimal(0)) == Decimal(10 * 299)
    assert await queries.is_zero_sum()


def rebate(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database, "COLUMNS": "200"}
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "rebate"), *args], env=env, capture_output=True, text=True, timeout=60)


async def test_rebate_failed_lists_the_isolated_items_and_retries_one(database):
    await setup_queue()
    poison = await write_poison("poison")
    await report(2)
    await drain()
    listed = rebate(database, "failed")
    assert listed.returncode == 0, listed.stderr
    assert "poison:paid" in listed.stdout and "qr:MALL" in listed.stdout and "Error" in listed.stdout
    retried = rebate(database, "failed", "--retry", str(poison))
    assert retried.returncode == 0 and "PENDING again" in retried.stderr
    assert (await InboxItem.get(id=poison)).status == "PENDING"
    assert rebate(database, "failed", "--retry", str(poison)).returncode == 1
