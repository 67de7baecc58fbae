"""arq worker settings: `arq workers.main.WorkerSettings` (the Procfile's worker)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from arq import cron

from services.runtime import close_db, init_db, redis_settings
from workers.drain import drain_queue, pending_queues
from workers.publish import publisher

log = logging.getLogger("rebate.worker")


def drain_job_id(queue_id: str) -> str:
    return f"drain:{queue_id}"


async def enqueue_drains(redis: Any, queues: list[str], tick: str | None = None) -> None:
    """One drain job per queue; arq refuses a second with the same id while one is queued or
    running. The sweeper passes its tick, so a job stuck with a killed worker cannot block it."""
    for q in queues:
        job_id = drain_job_id(q) if tick is None else f"{drain_job_id(q)}:sweep:{tick}"
        await redis.enqueue_job("drain_queue", q, _job_id=job_id)


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-enqueue queues whose items are still pending (a lost enqueue, a killed worker). The
    drain job takes the queue's lock, so a sweep that finds the queue busy costs one Redis call."""
    queues = await pending_queues()
    await enqueue_drains(ctx["redis"], queues, tick=str(int(time.time())))
    return len(queues)


async def union_queue_daily(ctx: dict[str, Any]) -> bool:
    """UQ-3 at the configured local time: record the day's settlement once (its key is the day)
    and let the union queue's drain job run it after what came before it."""
    from services.catalog import load_settings
    from services.intake import record
    from services.replay import daily_settlement_event
    from services.runtime import platform_zone

    settings = await load_settings("union_queue")
    now = datetime.now(UTC)
    hour, minute = settings.settlement_hour_minute
    local = now.astimezone(platform_zone())
    if not settings.enabled or (local.hour, local.minute) < (hour, minute):
        return False
    ticket = await record(daily_settlement_event(now), now)
    await enqueue_drains(ctx["redis"], ticket.queues)
    return not ticket.duplicate


async def startup(ctx: dict[str, Any]) -> None:
    await init_db()
    ctx["publish"] = publisher(ctx["redis"])


async def shutdown(ctx: dict[str, Any]) -> None:
    await close_db()


class WorkerSettings:
    functions = [drain_queue]
    cron_jobs = [
        cron(sweep, second=set(range(0, 60, 2)), run_at_startup=True),
        cron(union_queue_daily, second=0),
        cron("workers.queue_rebate.queue_rebate_reset", second=0),  # QR-16 at its configured schedule
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    poll_delay = 0.02
    max_jobs = 32
    keep_result = 0
    job_timeout = 300
