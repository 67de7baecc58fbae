"""The worker as operators run it (`python -m workers`): its metrics, its JSON log lines, and a
SIGTERM that ends it within seconds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services import metrics
from services.runtime import redis_pool
from services.settlement import enqueue_drains, pending_queues
from tests.integration.test_worker import redis, report, setup_queue  # noqa: F401 (redis: the fixture)

pytestmark = pytest.mark.usefixtures("db", "redis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Worker:
    """One `python -m workers` process; its stderr lines are kept."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "workers", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(re.search(pattern, line) for line in self.lines):
            assert self.proc.poll() is None, f"the worker exited: {''.join(self.lines)[-3000:]}"
            assert time.monotonic() < deadline, f"no line matching {pattern!r}: {''.join(self.lines)[-3000:]}"
            time.sleep(0.05)

    def stop(self, timeout: float = 10) -> float:
        """SIGTERM; returns how long it took to exit."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return time.monotonic() - start


@pytest.fixture
def worker_env(database: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis_url, "PYTHONPATH": os.getcwd(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    (tmp_path / "prometheus").mkdir()
    yield env


@pytest.fixture
def spawn(worker_env: dict[str, str]) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


async def settle_orders(redis_url: str, n: int, start: int = 0) -> None:
    pool = await redis_pool(redis_url)
    tickets = await report(n, start)
    await enqueue_drains(pool, sorted({q for t in tickets for q in t.queues}))
    deadline = time.monotonic() + 60
    while await pending_queues():
        assert time.monotonic() < deadline, "the workers did not settle in time"
        await asyncio.sleep(0.05)
    await pool.aclose()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        metric, _, rest = key.partition("{")
        got = ",".join(sorted(p for p in rest.rstrip("}").split(",") if p))
        if metric == name and got == want:
            return float(value)
    return 0.0


async def test_the_workers_figures_on_their_own_port_and_added_up_across_workers(worker_env, spawn, redis_url, monkeypatch):
    await setup_queue()
    port = free_port()
    spawn.append(Worker({**worker_env, "REBATE_WORKER_METRICS_PORT": str(port)}))
    spawn.append(Worker(worker_env))
    for w in spawn:
        w.wait_for("Starting worker")
    await settle_orders(redis_url, 6)
    await settle_orders(redis_url, 4, start=6)

    own = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "rebate_settled_items_total" in own and 'rebate_job_seconds_count{job="sweep"}' in own
    assert sample(own, "rebate_queue_lock_wait_seconds_count", outcome="acquired") >= 1

    # every process of the host, as the API's /metrics serves them in multiprocess mode
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", worker_env["PROMETHEUS_MULTIPROC_DIR"])
    text, media_type = metrics.exposition()
    body = text.decode()
    assert media_type.startswith("text/plain")
    assert sample(body, "rebate_settled_items_total", model="qr", outcome="done") == 10  # the 10 orders, whichever worker settled them
    assert sample(body, "rebate_batches_total", model="qr") >= 2
    assert sample(body, "rebate_job_seconds_count", job="drain_queue") >= 1
    assert sample(body, "rebate_fence_lost_total", model="qr") >= 0
    deadline = time.monotonic() + 5
    while True:  # the next sweep (every 2 s) finds the queues drained: their gauges are back at 0
        body = metrics.exposition()[0].decode()
        values = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(("rebate_inbox_lag_seconds{", "rebate_inbox_pending_items{"))]
        if all(v == 0 for v in values) and sample(body, "rebate_inbox_measured_timestamp_seconds") > 0:
            break  # (no values at all: no sweep happened to find a queue pending)
        assert time.monotonic() < deadline, values
        await asyncio.sleep(0.2)
    for w in spawn:
        assert w.stop() < 5


async def test_json_log_lines_parse_with_their_fields_and_the_sweeper_is_quiet(worker_env, spawn, redis_url):
    await setup_queue()
    w = Worker({**worker_env, "REBATE_LOG_FORMAT": "json"})
    spawn.append(w)
    w.wait_for("Starting worker")
    await settle_orders(redis_url, 3)
    w.wait_for(r"drained qr:MALL")
    time.sleep(2.5)  # at least one more sweep
    assert w.stop() < 5
    lines = [json.loads(line) for line in w.lines if line.strip()]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    drained = [line for line in lines if line["message"].startswith("drained qr:MALL")]
    assert drained and drained[0]["queue_id"] == "qr:MALL" and drained[0]["logger"] == "rebate.worker"
    assert not [line for line in lines if "→ cron:sweep" in line["message"] or "← cron:sweep" in line["message"]], "the sweeper's lines are DEBUG"
    assert any(line["logger"] == "arq.worker" and "drain_queue" in line["message"] for line in lines)


async def test_the_worker_freezes_its_start_up_objects(worker_env, spawn, redis_url):
    """The supervised worker's on_startup is its own (workers/run.py); it freezes what start-up
    built like `WorkerSettings.startup` does, so full collections do not walk the whole heap."""
    await setup_queue()
    w = Worker({**worker_env, "REBATE_LOG_LEVEL": "DEBUG"})
    spawn.append(w)
    w.wait_for(r"froze [1-9]\d* start-up objects")
    await settle_orders(redis_url, 3)  # and it settles as before
    assert w.stop() < 5


@pytest.mark.parametrize("keep", ["on", "off"])
async def test_the_worker_keeps_the_planner_statistics_unless_turned_off(worker_env, spawn, redis_url, database, keep):
    """REBATE_KEEP_STATISTICS reaches the jobs of the supervised worker: after 80 orders settled, its
    refresh job (every 5 s) analyzes the grown tables on PostgreSQL when on, and never when off
    (nor anywhere else than PostgreSQL)."""
    await setup_queue()
    w = Worker({**worker_env, "REBATE_KEEP_STATISTICS": keep})
    spawn.append(w)
    w.wait_for("Starting worker")
    await settle_orders(redis_url, 80)
    if keep == "on" and database.startswith("postgres"):
        w.wait_for(r"analyzed \S+ in \d+ ms", timeout=20)
    else:
        time.sleep(11)  # two refresh rounds at least
    analyzed = [line for line in w.lines if re.search(r"analyzed \S+ in \d+ ms", line)]
    assert bool(analyzed) == (keep == "on" and database.startswith("postgres")), "".join(w.lines)[-2000:]
    assert w.stop() < 5


async def test_sigterm_ends_the_worker_within_seconds_even_when_a_job_ends_cancelled(worker_env, spawn):
    """arq's own close() raised CancelledError here and left the process running (aiosqlite's
    thread on SQLite); the worker's close waits for the cancelled jobs whatever they end with and
    runs on_shutdown."""
    w = Worker({**worker_env, "REBATE_LOG_LEVEL": "DEBUG"}, "--settings", "tests.integration.slow_job_start.SlowJobStart")
    spawn.append(w)
    w.wait_for(r"cron:sweep")  # the sweep job is now inside on_job_start
    time.sleep(0.3)
    took = w.stop(timeout=10)
    assert w.proc.returncode == 0, "".join(w.lines)[-3000:]
    assert took < 3, f"{took:.1f}s"
    assert any("Tortoise-ORM shutdown" in line for line in w.lines), "on_shutdown (close_db) ran"


async def test_sigterm_in_the_middle_of_a_hot_queue(worker_env, spawn, redis_url):
    await setup_queue()
    tickets = await report(600)
    w = Worker(worker_env)
    spawn.append(w)
    w.wait_for("Starting worker")
    pool = await redis_pool(redis_url)
    await enqueue_drains(pool, sorted({q for t in tickets for q in t.queues}))
    await pool.aclose()
    w.wait_for(r"drain_queue\('qr:MALL'\)")
    assert w.stop(timeout=10) < 3
    assert w.proc.returncode == 0
