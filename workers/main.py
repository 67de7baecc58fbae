"""arq worker settings, run by `python -m workers` (the Procfile's worker: workers/__main__.py, which
rides out Redis outages through workers/run.py); `arq workers.main.WorkerSettings` runs them bare."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from arq import cron
from prometheus_client import start_http_server
from redis.asyncio import Redis

from services import metrics
from services.actions import run_due_resets
from services.catalog import load_settings
from services.distribution_roles import due_dividend_event
from services.intake import record
from services.points_dividend import daily_release_event
from services.replay import daily_settlement_event
from services.runtime import close_db, init_db, platform_zone, redis_settings
from services.settlement import enqueue_drains, settle_batch
from workers.publish import publisher

log = logging.getLogger("rebate.worker")
LOCK_TIMEOUT = 10  # seconds; renewed after every batch, so only a dead holder lets it lapse

async def drain_queue(ctx: dict[str, Any], queue_id: str) -> int:
    """arq job: settle every pending item of one queue, batch after batch, under its lock."""
    redis: Redis = ctx["redis"]
    lock = redis.lock(f"rebate:lock:{queue_id}", timeout=LOCK_TIMEOUT, blocking_timeout=0.2)
    waited = time.perf_counter()
    acquired = await lock.acquire()
    metrics.LOCK_WAIT.labels("acquired" if acquired else "busy").observe(time.perf_counter() - waited)
    if not acquired:
        return 0  # the holder drains what is pending; the sweeper catches a late arrival
    settled = 0
    try:
        with metrics.JOB_SECONDS.labels("drain_queue").time():
            while done := await settle_batch(queue_id, ctx.get("publish")):
                settled += done
                await lock.reacquire()
        log.info("drained %s: %d items", queue_id, settled, extra={"queue_id": queue_id})
        return settled
    finally:
        try:
            await lock.release()
        except Exception:
            log.warning("lock of %s expired before release", queue_id)


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-enqueue queues whose items are still pending (a lost enqueue, a killed worker). The
    drain job takes the queue's lock, so a sweep that finds the queue busy costs one Redis call.
    It measures the inbox for the metrics on the way (pending, lag, FAILED per queue)."""
    with metrics.JOB_SECONDS.labels("sweep").time():
        queues = await metrics.observe_inbox()
    await enqueue_drains(ctx["redis"], queues, tick=str(int(time.time())))
    return len(queues)


async def union_queue_daily(ctx: dict[str, Any]) -> bool:
    """UQ-3 at the configured local time: record the day's settlement once (its key is the day)
    and let the union queue's drain job run it after what came before it."""
    settings = await load_settings("union_queue")
    now = datetime.now(UTC)
    hour, minute = settings.settlement_hour_minute
    local = now.astimezone(platform_zone())
    if not settings.enabled or (local.hour, local.minute) < (hour, minute):
        return False
    ticket = await record(daily_settlement_event(now), now)
    await enqueue_drains(ctx["redis"], ticket.queues)
    return not ticket.duplicate


async def points_dividend_daily(ctx: dict[str, Any]) -> bool:
    """PD-9 at `release_time` (platform-local): record the day's release once (its key is the day)
    and let the `pd` queue's drain job run it after what came before it."""
    settings = await load_settings("points_dividend")
    now = datetime.now(UTC)
    local = now.astimezone(platform_zone())
    if not settings.enabled or (local.hour, local.minute) < settings.release_hour_minute:
        return False
    ticket = await record(daily_release_event(now), now)
    await enqueue_drains(ctx["redis"], ticket.queues)
    return not ticket.duplicate


async def queue_rebate_reset(ctx: dict[str, Any]) -> int:
    """arq cron (every minute): record the resets that are due (QR-16) and enqueue their queues."""
    with metrics.JOB_SECONDS.labels("queue_rebate_reset").time():
        tickets = await run_due_resets(datetime.now(UTC))
    await enqueue_drains(ctx["redis"], sorted({q for t in tickets for q in t.queues}))
    return len(tickets)


async def shareholder_dividend(ctx: dict[str, Any]) -> bool:
    """DR-6 (hourly): when a new `shareholder_period` has begun, record the ended period's dividend
    once (its key is the period) and let the distribution queue's drain job run it."""
    now = datetime.now(UTC)
    event = await due_dividend_event(now)
    if event is None:
        return False
    ticket = await record(event, now)
    await enqueue_drains(ctx["redis"], ticket.queues)
    return not ticket.duplicate


async def attach(ctx: dict[str, Any]) -> None:
    """What the jobs need of this worker's Redis (`workers.run` calls it for each new connection)."""
    ctx["publish"] = publisher(ctx["redis"])


async def startup(ctx: dict[str, Any]) -> None:
    await init_db()
    await attach(ctx)
    start_metrics_server(ctx)


def start_metrics_server(ctx: dict[str, Any]) -> None:
    """With REBATE_WORKER_METRICS_PORT, this worker's own /metrics (the API's /metrics adds it up in multiprocess mode)."""
    port = os.environ.get("REBATE_WORKER_METRICS_PORT")
    if port and "metrics_server" not in ctx:
        host = os.environ.get("REBATE_WORKER_METRICS_HOST", "127.0.0.1")
        ctx["metrics_server"] = start_http_server(int(port), addr=host, registry=metrics.registry())
        log.info("worker metrics at http://%s:%s/metrics", host, ctx["metrics_server"][0].server_port)


async def shutdown(ctx: dict[str, Any]) -> None:
    try:
        await close_db()
    finally:
        metrics.process_exited(os.getpid())
        if "metrics_server" in ctx:
            server, thread = ctx.pop("metrics_server")
            server.shutdown()
            server.server_close()
            thread.join(2)


class WorkerSettings:
    functions = [drain_queue]
    cron_jobs = [
        cron(sweep, second=set(range(0, 60, 2)), run_at_startup=True),
        cron(union_queue_daily, second=0),
        cron(points_dividend_daily, second=0),  # PD-9 at its configured release_time
        cron(queue_rebate_reset, second=0),  # QR-16 at its configured schedule
        cron(shareholder_dividend, minute=5, second=0),  # DR-6 per shareholder_period
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    poll_delay = 0.02
    max_jobs = 32
    keep_result = 0
    job_timeout = 300
