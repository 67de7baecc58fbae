"""Issue 9 (2, 3): settlement keeps going through a Redis outage and a stalled worker, with real
`python -m workers.run` processes, a redis-server of the test's own and SIGKILL / SIGSTOP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tortoise import connections

from services import intake, queries
from services.replay import Replay
from services.runtime import redis_pool
from services.settlement import enqueue_drains, pending_queues
from store.models import InboxItem, Transfer
from tests.integration.scenario import member, paid, product, qr_settings
from tests.integration.test_worker import NOW, assert_settled_exactly, report, setup_queue, wait_settled
from tests.redis_server import RedisServer

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.kill()


class WorkerProcesses:
    """`python -m workers.run` processes on the test's database and Redis, logging to files."""

    def __init__(self, database: str, redis_url: str, directory: Path) -> None:
        self.env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis_url, "PYTHONPATH": os.getcwd()}
        self.directory = directory
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "workers.run"], env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def log(self, i: int) -> str:
        return (self.directory / f"worker{i}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(self.log(i) for i in range(len(self.procs)))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
            p.wait()


@pytest.fixture
def worker_processes(database: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[WorkerProcesses]:
    pool = WorkerProcesses(database, redis_server.url, tmp_path)
    yield pool
    pool.stop()


async def until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def settled_some() -> bool:
    return await InboxItem.filter(status="DONE").count() > 0


async def test_c7_redis_killed_mid_backlog_and_restarted_empty_the_worker_survives_and_settles_everything_once(redis_server, worker_processes):
    await setup_queue()
    await report(2500)
    redis_server.start()
    worker = worker_processes.start()
    await until(settled_some, 60, "the first batch")
    redis_server.kill()
    assert await pending_queues() == ["qr:MALL"], "the outage should land mid-backlog"
    await report(100, start=2500)  # intake keeps recording while Redis is down
    await asyncio.sleep(4)  # an outage longer than arq's own reconnect attempts
    assert worker.poll() is None, worker_processes.logs()
    redis_server.start()  # the same port, empty: no jobs, no locks
    await wait_settled(120)
    assert worker.poll() is None, "the worker process kept running"
    await assert_settled_exactly(2600)
    assert await InboxItem.filter(status="DONE").count() == 2600
    assert "reconnecting to Redis" in worker_processes.logs()


async def test_c7_a_worker_started_while_redis_is_down_waits_and_starts_when_it_comes_up(redis_server, worker_processes):
    await setup_queue()
    await report(50)
    worker = worker_processes.start()
    await asyncio.sleep(4)
    assert worker.poll() is None, worker_processes.logs()
    assert await pending_queues() == ["qr:MALL"]
    redis_server.start()
    await wait_settled(60)
    assert worker.poll() is None
    await assert_settled_exactly(50)


async def report_on(product_id: str, n: int, prefix: str) -> list[str]:
    tickets = [await intake.record(paid(f"{prefix}{i}", f"M{i % 10}", (product_id, "100.00")), NOW) for i in range(n)]
    return sorted({q for t in tickets for q in t.queues})


async def assert_queue_settled_once(queue: str, n: int) -> None:
    """n orders of 100 on one queue at 10 % extraction: positions 1..n, 10.00 paid per later order."""
    ents = await queries.entitlements(queue=queue, limit=n + 1)
    assert [e.position for e in ents] == list(range(1, n + 1))
    assert sum((e.received for e in ents), Decimal(0)) == Decimal(10 * (n - 1))


async def sessions(state: str | None = None) -> list[int]:
    """Backend pids of the other sessions on the test's database (PostgreSQL), in that state if given."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [r["pid"] for r in rows if state is None or r["state"] == state]


async def sessions_idle_in_transaction() -> list[int]:
    """The sessions idle inside a transaction, once there are any (within 5 s)."""
    deadline = time.monotonic() + 5
    while not (found := await sessions("idle in transaction")):
        assert time.monotonic() < deadline, "no session idle in transaction"
        await asyncio.sleep(0.05)
    return found


async def test_c7_a_worker_stopped_inside_a_batch_blocks_neither_other_queues_nor_its_own(database, redis_server, worker_processes, tmp_path):
    """PostgreSQL: SIGSTOP a real worker while it holds a queue's batch transaction. Another
    worker settles a second queue within seconds (its jobs for the held queue give up at once),
    the held session is ended by idle_in_transaction_session_timeout, the queue is settled by the
    second worker, and the stopped one, resumed, writes nothing."""
    if database.startswith("sqlite"):
        pytest.skip("SQLite has one writer: a stopped writer holds the file's write lock (docs/operations.md)")
    replay = Replay()
    for e in (qr_settings(mall_queue=False), *(member(f"M{i}") for i in range(10)), product("P1"), product("P2")):
        await replay.apply(e)
    [held] = await report_on("P1", 600, "a")
    redis_server.start()
    pause = tmp_path / "inside-batch"
    stalled = worker_processes.start(REBATE_TEST_PAUSE_FILE=str(pause))
    await until(lambda: asyncio.sleep(0, pause.exists()), 60, "the worker inside its batch")
    assert pause.read_text().split() == [str(stalled.pid), held]
    stalled.send_signal(signal.SIGSTOP)
    held_sessions = set(await sessions_idle_in_transaction())  # the stopped worker's, inside its batch
    worker_processes.start()
    started = time.monotonic()
    [other] = await report_on("P2", 50, "b")
    pool = await redis_pool(redis_server.url)
    await enqueue_drains(pool, [other])
    while await InboxItem.filter(queue_id=other, status="PENDING").exists():
        assert time.monotonic() - started < 10, "another queue waited for the stopped worker"
        await asyncio.sleep(0.05)
    await wait_settled(60)  # the held queue too: its session was ended, the second worker took it over
    await assert_queue_settled_once(other, 50)
    await assert_queue_settled_once(held, 600)
    assert not held_sessions & set(await sessions()), "the stopped worker's session was ended by the server"
    stalled.send_signal(signal.SIGCONT)
    # it wakes inside its batch, on a connection the server closed: that drain fails, the process lives
    deadline = time.monotonic() + 30
    while "drain_queue failed" not in worker_processes.log(0):
        assert time.monotonic() < deadline, worker_processes.log(0)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    await pool.aclose()
    assert stalled.poll() is None, "the resumed worker keeps running"
    await assert_queue_settled_once(held, 600)
    assert await InboxItem.filter(status="DONE").count() == 650
    payouts = await Transfer.filter(memo="payout", asset="CNY").values_list("amount_fen", flat=True)
    assert sum(payouts) == 100 * 10 * (599 + 49), "nothing was paid twice"
    assert await queries.is_zero_sum()
