"""arq worker settings, run by `python -m workers` (the Procfile's worker: workers/__main__.py, which
rides out Redis outages through workers/run.py); `arq workers.main.WorkerSettings` runs them bare."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

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
from services.runtime import close_db, freeze_startup_objects, init_db, platform_zone, redis_settings, whole_number
from services.settlement import BATCH_SIZE, READY, drain_job_id, enqueue_drains, settle_group
from services.statistics import enabled as keeps_statistics
from services.statistics import keep_statistics
from workers.locks import QueueLocks
from workers.publish import publish_all, publisher

log = logging.getLogger("rebate.worker")
LOCK_TIMEOUT = 10  # seconds; renewed after every batch, so only a dead holder lets it lapse
OTHERS = 64  # ready queues a drain job takes from the mark set at a time, between two rounds of its group
GROUP = 64  # at most this many queues settled together (one transaction a round)
ROUND_ITEMS = 4000  # at most about this many items a round: each queue's batch takes its share (a backlog over many queues makes no transaction of GROUP × BATCH_SIZE)
OTHER_ROUNDS = 64  # at most this many takes per job: a job ends (once its group is drained), the next one starts fresh
STOP_GRACE = 2.0  # seconds a stopping worker waits for a round's transaction to end on its own
LINGER_MS = 20  # REBATE_SETTLE_LINGER_MS by default: a drain's pause after a small round of a queue that goes on
LINGER_FILL = 128  # a round of fewer items than this is small
T = TypeVar("T")


_HANDED: list[set[str]] = []
"""The queues handed to this process' running drain (at most one such drain at a time: while it
runs, every other drain job this process starts hands its queue over and ends)."""


async def drain_queue(ctx: dict[str, Any], queue_id: str) -> int:
    """arq job: settle every pending item of one queue, batch after batch, under its lock; with it
    the other queues marked ready (their own jobs were refused or are still queued), taken OTHERS
    at a time between rounds (up to GROUP), each under its own lock: a round settles each queue's next batch
    together (`settle_group`), so that one job serves many small queues at about the cost of one.
    A process runs one such drain at a time: a job that starts while one runs hands its queue to
    that drain's next round and ends, so that the process' ready queues share one group (one
    transaction a round) instead of splitting into small groups whose transactions contend for
    the same rows (the platform's balances)."""
    redis: Redis = ctx["redis"]
    if _HANDED:  # this process is draining: its next round takes this queue too
        _HANDED[0].add(queue_id)
        return 0
    handed: set[str] = set()
    _HANDED.append(handed)
    locks = QueueLocks(redis, LOCK_TIMEOUT)
    settled = 0
    with metrics.JOB_SECONDS.labels("drain_queue").time():
        try:
            await redis.srem(READY, queue_id)
            group = await _take(redis, locks, [queue_id], blocking=0.2)
            for _ in range(OTHER_ROUNDS):
                if len(group) < GROUP:
                    mine = sorted(q for q in handed if q not in group)[:GROUP - len(group)]
                    handed.clear()
                    if mine:  # their marks (a sweep's job has none); a queue another drain took meanwhile is busy for `_take`
                        await redis.srem(READY, *mine)
                    room = min(OTHERS, GROUP - len(group) - len(mine))
                    others = [q.decode() if isinstance(q, bytes) else str(q) for q in await redis.spop(READY, room) or []] if room else []
                    group += await _take(redis, locks, [q for q in dict.fromkeys(mine + others) if q not in group])
                if not group and not handed:  # the marks left, if any, are of queues other drains hold
                    break
                if group:
                    done, group = await _round(ctx, locks, group)
                    settled += done
                    await _linger(ctx, done, group)
            await _stop_taking(redis, handed)  # from here on a drain job of this process drains on its own
            while group:
                done, group = await _round(ctx, locks, group)
                settled += done
                await _linger(ctx, done, group)
        finally:
            try:
                await _stop_taking(redis, handed)
            finally:
                try:
                    await _published(ctx)
                finally:
                    held = sorted(locks.held)
                    if await locks.release(held):
                        log.warning("a lock of %s expired before release", ", ".join(held))
    log.info("drained %s: %d items", queue_id, settled, extra={"queue_id": queue_id})
    return settled


async def _linger(ctx: dict[str, Any], done: int, group: list[str]) -> None:
    """After a round of fewer than LINGER_FILL items whose queues go on (reports keep coming in),
    wait `ctx["linger"]` seconds (REBATE_SETTLE_LINGER_MS) before the next one: what arrives
    meanwhile joins that round's batch. A batch costs about the same dozen statements and Redis
    steps whatever its size, so a steady stream of single reports settled 30 at a time pays
    that cost 30 times as often as one settled 120 at a time; the pause adds at most its length to
    a payout's delay, and none to a queue that is idle or has a backlog (its rounds are full)."""
    if group and done < LINGER_FILL and (pause := ctx.get("linger", 0.0)):
        await asyncio.sleep(pause)


async def _stop_taking(redis: Redis, handed: set[str]) -> None:
    """The drain takes no more queues handed over (if it still did); those handed to it after its
    last take have their marks still set, so each gets a job of its own again (arq refuses it
    while one with its id is queued or running)."""
    if handed not in _HANDED:
        return
    _HANDED.remove(handed)
    for q in sorted(handed):
        await redis.enqueue_job("drain_queue", q, _job_id=drain_job_id(q))  # type: ignore[attr-defined]
    handed.clear()


async def _take(redis: Redis, locks: QueueLocks, queue_ids: list[str], blocking: float = 0) -> list[str]:
    """The queues whose locks this job could take; the others are held by another drain: their
    marks go back at once (the holder looks at the marks before it lets go, the sweeper after)."""
    taken = await locks.take(queue_ids, blocking=blocking)
    if busy := [q for q in queue_ids if q not in taken]:
        await redis.sadd(READY, *busy)
    return taken


async def _round(ctx: dict[str, Any], locks: QueueLocks, group: list[str]) -> tuple[int, list[str]]:
    """The next batch of each queue of the group, under their Redis locks; returns how many items
    were settled and the queues that go on: a queue is done when its batch says nothing more is
    pending and no new mark came in meanwhile (a report that arrived during the drain marked it
    again), and then lets go of its lock at once."""
    sent: list[tuple[str, list[dict[str, Any]], int, list[int]]] = []

    async def publish(queue_id: str, payouts: list[dict[str, Any]], version: int, events: list[int]) -> None:
        sent.append((queue_id, payouts, version, events))

    done = await _to_its_end(settle_group(group, publish if "publish" in ctx else None, size=max(1, min(BATCH_SIZE, ROUND_ITEMS // len(group)))))
    if sent:  # the group's messages after its commits, sent while the next round runs
        await _publish_behind(ctx, sent)
    finished = [q for q in group if not done[q].count or not done[q].more]
    marked, lapsed = await locks.finish(READY, finished)  # a report that came in meanwhile marked its queue again: it goes on
    if lapsed:
        log.warning("%d of the locks of %s expired before release", lapsed, ", ".join(finished))
    going_on = [q for q in group if q not in finished or q in marked]
    kept = await locks.renew(going_on)
    if len(kept) < len(going_on):  # another settler may hold it now: the fence keeps its batches apart
        log.warning("the lock of %s expired during its drain", ", ".join(q for q in going_on if q not in kept))
    return sum(d.count for d in done.values()), kept


async def _publish_behind(ctx: dict[str, Any], sent: list[tuple[str, list[dict[str, Any]], int, list[int]]]) -> None:
    """A round's messages, published while the drain's next round runs (a daily settlement's chunk
    sends 10 000: that work then overlaps the next chunk's statement instead of following it); one
    round's messages at a time and in order: the previous round's are out before these start."""
    await _published(ctx)
    ctx["publishing"] = asyncio.ensure_future(publish_all(ctx["redis"], sent))


async def _published(ctx: dict[str, Any]) -> None:
    """The messages still being published, out. Messages are at most once: one that could not be
    sent (Redis away) is logged, and the drain goes on (its next Redis step finds the outage)."""
    if (task := ctx.pop("publishing", None)) is None:
        return
    try:
        await task
    except Exception as exc:
        log.warning("the payout messages of a round were not sent: %s: %s", type(exc).__name__, exc)


async def _to_its_end(work: Awaitable[T]) -> T:
    """`work` (a round's transactions) run to its end when the job is cancelled meanwhile (the
    worker stops): the cancel waits up to STOP_GRACE for it to commit or roll back on its own, then
    goes on. A statement cancelled in flight inside a transaction can leave asyncpg's connection
    waiting for good for the server to acknowledge the cancel, and the worker's stop with it."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait({task}, timeout=STOP_GRACE)
        if not task.done():
            task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # its outcome is the next drain's to find
        raise


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-enqueue queues whose items are still pending (a lost enqueue, a killed worker), except
    those whose lock a drain holds: that drain settles them, or, dead, lets its lock lapse and a
    later sweep finds them. It measures the inbox for the metrics on the way (pending, lag,
    FAILED per queue)."""
    redis: Redis = ctx["redis"]
    with metrics.JOB_SECONDS.labels("sweep").time():
        queues = await metrics.observe_inbox(redis=redis)
    held = await QueueLocks.held_by_any(redis, queues)
    await enqueue_drains(redis, [q for q in queues if q not in held], tick=str(int(time.time())))
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


async def refresh_statistics(ctx: dict[str, Any]) -> int:
    """Every 5 s (REBATE_KEEP_STATISTICS, on by default): ANALYZE the tables that changed enough
    since their last one (PostgreSQL; services/statistics.py)."""
    if not ctx.get("keep_statistics", True):
        return 0
    with metrics.JOB_SECONDS.labels("refresh_statistics").time():
        return len(await keep_statistics())


async def attach(ctx: dict[str, Any], keep_statistics: bool) -> None:
    """What the jobs find in an arq worker's context: the publisher on its Redis connection,
    whether to keep the planner's statistics and the pause after a small round (`settle_linger`).
    `startup` calls it, and `workers.run` for each arq worker it builds (a new Redis connection
    each time)."""
    ctx["publish"] = publisher(ctx["redis"])
    ctx["keep_statistics"] = keep_statistics
    ctx["linger"] = settle_linger()


def check_settings() -> bool:
    """The worker's settings of the environment, checked before Redis or the database is tried
    (each way of starting a worker calls it first): ValueError naming the first bad one (the worker
    then does not start, rather than failing every 5 s or after the database opened); returns
    whether to keep the planner's statistics."""
    keep = keeps_statistics()
    metrics_port()
    settle_linger()
    return keep


async def startup(ctx: dict[str, Any]) -> None:
    keep = check_settings()
    await init_db()
    await attach(ctx, keep)
    start_metrics_server(ctx)
    freeze_startup_objects()


def metrics_port(environ: Mapping[str, str] = os.environ) -> int | None:
    """REBATE_WORKER_METRICS_PORT: a port from 0 (any free one) to 65535, or None when unset; ValueError otherwise."""
    return whole_number("REBATE_WORKER_METRICS_PORT", "a port number from 0 to 65535", environ, 0, 65535)


def settle_linger(environ: Mapping[str, str] = os.environ) -> float:
    """REBATE_SETTLE_LINGER_MS: milliseconds from 0 (no pause) to 1000, default LINGER_MS, as
    seconds; ValueError otherwise (the worker then does not start)."""
    ms = whole_number("REBATE_SETTLE_LINGER_MS", "milliseconds from 0 to 1000", environ, 0, 1000)
    return (LINGER_MS if ms is None else ms) / 1000


def start_metrics_server(ctx: dict[str, Any]) -> None:
    """With REBATE_WORKER_METRICS_PORT, this worker's own /metrics (the API's /metrics adds it up in multiprocess mode)."""
    port = metrics_port()
    if port is not None and "metrics_server" not in ctx:
        host = os.environ.get("REBATE_WORKER_METRICS_HOST", "127.0.0.1")
        ctx["metrics_server"] = start_http_server(port, addr=host, registry=metrics.registry())
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
        cron(refresh_statistics, second=set(range(1, 60, 5))),
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
