"""Every Prometheus metric of the engine, in one place (API and worker alike), and `exposition`.

Several processes (uvicorn `--workers`, several arq workers on one host) share one view through
prometheus-client's multiprocess mode: with `PROMETHEUS_MULTIPROC_DIR` set (an empty directory,
the same for every process of the host; `./run` sets `var/prometheus`), each process writes its
values there and the API's /metrics adds them up (docs/operations.md "Metrics"). A worker serves
the same on `REBATE_WORKER_METRICS_PORT` when that is set (for a host without an API process).

Call sites are one-liners: `SETTLED.labels(model, "done").inc(n)`, `with JOB_SECONDS.labels(job).time():`.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from store import inbox

# --- the API ---
OPERATIONS = Histogram("rebate_graphql_operation_seconds", "GraphQL operation duration", ["type"])
ERRORS = Counter("rebate_graphql_errors_total", "GraphQL operations that ended with top-level errors", ["type"])
INTAKE_GROUP = Histogram("rebate_intake_group_reports", "Single reports recorded per transaction by the group commit (services/group_commit.py)",
                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))

# --- settlement (services/settlement.py, workers/main.py) ---
SETTLED = Counter("rebate_settled_items_total", "Inbox items settled, by model (the queue id's prefix) and outcome (done, failed)", ["model", "outcome"])
BATCHES = Counter("rebate_batches_total", "Settlement batches committed, by model", ["model"])
FENCE_LOST = Counter("rebate_fence_lost_total", "Batches that found the queue's version moved on (another writer settled it) and wrote nothing", ["model"])
DB_BUSY = Counter("rebate_database_busy_retries_total", "Batches run again because the database was busy (SQLite's write lock)", ["model"])
LOCK_WAIT = Histogram("rebate_queue_lock_wait_seconds", "Time a drain job waited for its queue's Redis lock, by outcome (acquired, busy: another job holds it)",
                      ["outcome"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0))
ANALYZED = Counter("rebate_tables_analyzed_total", "ANALYZE runs of the worker's statistics keeper (PostgreSQL, services/statistics.py), by table", ["table"])
JOB_SECONDS = Histogram("rebate_job_seconds", "Duration of the worker's jobs: drain_queue, sweep and the daily and scheduled jobs", ["job"],
                        buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300))

# --- the inbox, measured by the sweep (every 2 s, run by one worker or another: arq gives each
# scheduled run to one worker), so across processes the most recent measurement is the truth ---
PENDING = Gauge("rebate_inbox_pending_items", "Inbox items still PENDING, by queue", ["queue"], multiprocess_mode="livemostrecent")
LAG = Gauge("rebate_inbox_lag_seconds", "Age of the queue's oldest PENDING inbox item (0: nothing pending)", ["queue"], multiprocess_mode="livemostrecent")
FAILED = Gauge("rebate_inbox_failed_items", "Inbox items in FAILED (refused by their model; need an operator), by queue", ["queue"], multiprocess_mode="livemostrecent")
MEASURED = Gauge("rebate_inbox_measured_timestamp_seconds", "When this process last measured the inbox (Unix time)", multiprocess_mode="livemostrecent")

_seen: set[str] = set()  # queues this process reported: a drained queue drops back to 0
# The same across processes: in multiprocess mode a gauge shows the most recent write of any
# process, and the sweep runs on whichever worker takes it; the queues some process reported
# pending and nobody has set back to 0 yet are kept in Redis, so any sweeper can zero them.
REPORTED_KEY = "rebate:metrics:reported"


def model_of(queue_id: str) -> str:
    """The model a queue belongs to: its id's prefix (qr, od, uq …), as HANDLERS keys them."""
    return queue_id.split(":", 1)[0]


async def observe_inbox(now: datetime | None = None, redis: Any = None) -> list[str]:
    """Measure the inbox (pending count and lag, FAILED count per queue); returns the queues
    with pending items (the sweeper's work list). With `redis`, the queues another process
    reported are set back to 0 here too once they are drained (REPORTED_KEY)."""
    now = now or datetime.now(UTC)
    rows = await inbox.backlog()
    if redis is not None:
        reported = {m.decode() if isinstance(m, bytes) else str(m) for m in await redis.smembers(REPORTED_KEY)}
        _seen.update(reported)
    for row in rows:
        PENDING.labels(row.queue_id).set(row.pending)
        LAG.labels(row.queue_id).set(max((now - row.oldest_pending).total_seconds(), 0.0) if row.oldest_pending else 0.0)
        FAILED.labels(row.queue_id).set(row.failed)
    current = {row.queue_id for row in rows}
    for gone in _seen - current:
        PENDING.labels(gone).set(0)
        LAG.labels(gone).set(0)
        FAILED.labels(gone).set(0)
    if redis is not None:
        if gone := _seen - current:
            await redis.srem(REPORTED_KEY, *gone)
        if current:
            await redis.sadd(REPORTED_KEY, *current)
    _seen.clear()
    _seen.update(current)
    MEASURED.set(now.timestamp())
    return sorted(row.queue_id for row in rows if row.pending)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry() -> CollectorRegistry:
    """What /metrics reports: every process of the host in multiprocess mode, else this one."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=directory)
    return combined


def exposition() -> tuple[bytes, str]:
    """The text of /metrics and its media type."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Drop a stopped process's live gauges from the multiprocess directory (its counters stay)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def batch_committed(queue_id: str, finished: list[int], failed: Collection[int]) -> None:
    """A committed batch: its finished items, those in `failed` FAILED and the others done."""
    model = model_of(queue_id)
    BATCHES.labels(model).inc()
    refused = sum(1 for i in finished if i in failed)
    SETTLED.labels(model, "done").inc(len(finished) - refused)
    if refused:
        SETTLED.labels(model, "failed").inc(refused)
