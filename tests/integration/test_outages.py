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
from pathlib import Path

import pytest

from services.settlement import pending_queues
from store.models import InboxItem
from tests.integration.test_worker import assert_settled_exactly, report, setup_queue, wait_settled
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

    def logs(self) -> str:
        return "\n".join((self.directory / f"worker{i}.log").read_text(errors="replace")[-3000:] for i in range(len(self.procs)))

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
