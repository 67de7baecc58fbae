"""The settlement job under concurrency: duplicate reports, racing settlers, real arq workers,
and a worker killed with SIGKILL in the middle of a hot queue (C-6, C-7)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from services import intake, queries
from services.replay import Replay, settle_all
from services.runtime import redis_pool
from services.settlement import Settled, enqueue_drains, pending_queues, settle_batch, settle_next
from store import db
from store.models import InboxItem, Transfer
from store.sql import fetch
from tests.integration.scenario import member, paid, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)


async def setup_queue(members: int = 10) -> None:
    replay = Replay()
    for e in (qr_settings(), *(member(f"M{i}") for i in range(members)), product("P1")):
        await replay.apply(e)


async def report(n: int, start: int = 0, members: int = 10) -> list[intake.Ticket]:
    return [await intake.record(paid(f"o{i}", f"M{i % members}", ("P1", "100.00")), NOW) for i in range(start, start + n)]


async def assert_settled_exactly(n: int) -> None:
    """n orders of 100 at 10 % extraction and 100 % reward: the first pays nobody (income), every
    later one pays 10.00, so k = 10 × (n-1) / 100 entitlements are complete, in position order."""
    ents = await queries.entitlements(queue="qr:MALL", limit=n + 1)
    assert [e.position for e in ents] == list(range(1, n + 1))
    paid_out = sum((e.received for e in ents), Decimal(0))
    assert paid_out == Decimal(10 * (n - 1))
    done = [e.position for e in ents if e.status == "COMPLETED"]
    assert done == list(range(1, len(done) + 1)) and len(done) == (10 * (n - 1)) // 100
    assert all(e.received <= e.total for e in ents)
    wallets = await queries.wallets([f"M{i}" for i in range(10)])
    assert sum((w["cash"] for w in wallets.values()), Decimal(0)) == paid_out
    payouts = await Transfer.filter(memo="payout", asset="CNY").values_list("amount_fen", flat=True)
    assert sum(payouts) == int(paid_out * 100)  # no payout was written twice
    assert await queries.is_zero_sum()


ENTITLEMENT_COLUMNS = ("model, position, line, total_fen, received_fen, status, order_completed, ratio, ratio_source, paid_fen, boost_fen, lottery_source, "
                       "scope_key, drawn_ratio, drawn_at, exchanged_to, exchanged_fen, created_at")


async def test_a_batch_of_many_new_entitlements_writes_them_as_small_batches_do():
    """Two product queues of 150 orders each: one settled in one batch (on PostgreSQL its new
    entitlements in one COPY, its items DONE in one statement), the other in batches of 40
    (below COPY_ROWS, one row a statement): the same rows, the same outstanding count, every item DONE."""
    replay = Replay()
    for e in (qr_settings(mall_queue=False), *(member(f"M{i}") for i in range(10)), product("P0"), product("P1")):
        await replay.apply(e)
    for i in range(300):
        await intake.record(paid(f"o{i}", f"M{i % 10}", (f"P{i % 2}", "100.00")), NOW)
    big, small = "qr:PRODUCT:P0", "qr:PRODUCT:P1"
    assert await settle_next(big, size=500) == Settled(150, False)
    while (await settle_next(small, size=40)).more:
        pass
    conn = db.default()
    rows = {q: await fetch(conn, f"SELECT {ENTITLEMENT_COLUMNS} FROM entitlement WHERE queue_id = ? ORDER BY position", (q,)) for q in (big, small)}
    assert [r["position"] for r in rows[big]] == list(range(1, 151))
    assert rows[big] == [{**r, "scope_key": r["scope_key"].replace("P1", "P0")} for r in rows[small]]
    assert {r["scope_key"] for r in rows[big]} == {"product:P0"} and {r["model"] for r in rows[big]} == {"queue_rebate"}
    assert sum(r["received_fen"] for r in rows[big]) == 10 * 149 * 100  # every order after the first pays 10.00
    counts = {r["queue_id"]: int(r["outstanding"]) for r in await fetch(conn, "SELECT queue_id, outstanding FROM liability_count")}
    assert counts.get(big) == counts.get(small) == sum(r["status"] == "WAITING" for r in rows[big]) > 0
    assert await InboxItem.filter(status="DONE").count() == 300 and await pending_queues() == []
    assert await queries.is_zero_sum()


async def test_c6_the_same_report_five_times_at_once_pays_once():
    await setup_queue()
    await report(1)
    event = paid("o1", "M1", ("P1", "100.00"))
    tickets = await asyncio.gather(*(intake.record(dict(event), NOW) for _ in range(5)))
    assert len({t.id for t in tickets}) == 1 and sum(not t.duplicate for t in tickets) == 1
    await settle_all()
    assert (await queries.wallets(["M0"]))["M0"]["cash"] == Decimal("10.00")
    assert len(await queries.entitlements()) == 2


async def test_c7_racing_settlers_on_one_queue_pay_exactly_what_one_would():
    """Four settlers without the Redis lock: the fence alone keeps every batch single."""
    await setup_queue()
    await report(300)

    async def settler() -> None:
        while await pending_queues():
            await settle_batch("qr:MALL", size=40)

    await asyncio.gather(*(settler() for _ in range(4)))
    await assert_settled_exactly(300)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


class Workers:
    """Real worker processes (`python -m workers.run`, the Procfile's) on the test database and Redis."""

    def __init__(self, database: str, redis_url: str) -> None:
        self.env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis_url, "PYTHONPATH": os.getcwd()}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "workers.run"], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def workers(database: str, redis_url: str) -> Iterator[Workers]:
    pool = Workers(database, redis_url)
    yield pool
    pool.stop()


async def wait_settled(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while await pending_queues():
        assert time.monotonic() < deadline, "the workers did not settle everything in time"
        await asyncio.sleep(0.1)


async def test_c7_two_real_arq_workers_settle_a_hot_queue(workers, redis, redis_url):
    await setup_queue()
    workers.start(), workers.start()
    pool = await redis_pool(redis_url)
    for start in range(0, 400, 50):
        tickets = await report(50, start)
        await enqueue_drains(pool, sorted({q for t in tickets for q in t.queues}))
    await wait_settled()
    await pool.aclose()
    await assert_settled_exactly(400)
    assert (await queries.ticket(tickets[-1].id))["status"] == "DONE"


async def test_c7_a_worker_killed_mid_queue_loses_nothing_and_pays_nothing_twice(workers, redis, redis_url):
    await setup_queue()
    await report(3000)
    pool = await redis_pool(redis_url)
    victim = workers.start()
    await enqueue_drains(pool, ["qr:MALL"])
    deadline = time.monotonic() + 30
    while len(await queries.entitlements(queue="qr:MALL", limit=5)) == 0:  # let it commit a batch or more
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert await pending_queues() == ["qr:MALL"], "the kill should land mid-queue"
    workers.start()  # its sweeper finds the pending items by itself
    await wait_settled(90)
    await pool.aclose()
    await assert_settled_exactly(3000)
