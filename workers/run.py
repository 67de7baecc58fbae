"""The worker process' supervisor: `python -m workers` (the Procfile's worker) runs it.

arq's `Worker` ends on any Redis connection error (its poll loop, the heartbeat and `create_pool`
raise). This keeps the process: it runs a `Worker` of `workers.main.WorkerSettings` in a loop and,
when Redis fails, cancels that worker's jobs (their transactions roll back), drops its pool and
builds a new one after a backoff (0.5 s doubling to 10 s), for as long as the outage lasts; a
process started while Redis is down waits the same way. The database stays open across rebuilds.
Once Redis is back, the sweeper (run at startup) re-enqueues every queue with pending items.
SIGTERM / SIGINT stop it as they stop arq's worker: running jobs are cancelled and roll back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from arq.worker import Worker, create_worker

from services import logs, metrics
from services.runtime import StartupError, close_db, freeze_startup_objects, init_db
from workers.main import WorkerSettings, attach, check_settings, start_metrics_server

log = logging.getLogger("rebate.worker")
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 10.0


class Supervisor:
    def __init__(self, keep_statistics: bool = True) -> None:
        self.keep_statistics = keep_statistics
        self.stopping = asyncio.Event()
        self.worker: Worker | None = None
        self.connected = False

    def stop(self, sig: signal.Signals) -> None:
        self.stopping.set()
        if self.worker is not None:
            self.worker.handle_sig(sig)

    async def started(self, ctx: dict[str, Any]) -> None:
        self.connected = True
        log.info("connected to Redis: draining and sweeping")
        await attach(ctx, self.keep_statistics)
        freeze_startup_objects()  # as WorkerSettings.startup does, which this on_startup replaces (once a process)

    async def run(self) -> None:
        backoff = FIRST_BACKOFF
        while not self.stopping.is_set():
            self.connected = False
            self.worker = create_worker(WorkerSettings, handle_signals=False, on_startup=self.started, on_shutdown=None)
            try:
                await self.worker.async_run()
            except asyncio.CancelledError:
                if not self.stopping.is_set():
                    raise
            except Exception as exc:  # a Redis outage (or anything else): keep the process, build a new worker
                backoff = FIRST_BACKOFF if self.connected else backoff
                log.warning("worker stopped (%s: %s): reconnecting to Redis in %.1fs", type(exc).__name__, exc, backoff)
            finally:
                await dismantle(self.worker)
            if self.stopping.is_set():
                break
            try:
                await asyncio.wait_for(self.stopping.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF)


async def dismantle(worker: Worker) -> None:
    """Cancel what the worker still runs and close its pool, without needing Redis to answer."""
    tasks = [t for t in (*worker.tasks.values(), *worker.job_tasks.values()) if not t.done()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if worker._pool is not None:
        try:
            await asyncio.wait_for(worker.pool.delete(worker.health_check_key), 1)
        except Exception:
            pass
        try:
            await worker.pool.close(close_connection_pool=True)
        except Exception:
            log.debug("closing the old Redis pool failed", exc_info=True)
        worker._pool = None


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it, and uvicorn's `--loop
    auto` runs the API on it), else None: asyncio's own. `bench.callbacks`, 32 callers, three
    interleaved pairs: the worker's CPU per order 0.26–0.27 → 0.21–0.25 ms."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def main() -> None:
    try:
        keep = check_settings()  # as WorkerSettings.startup does first: a bad value ends the process here
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    supervisor = Supervisor(keep)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.stop, sig)
    await init_db()
    served: dict[str, Any] = {}
    start_metrics_server(served)
    try:
        await supervisor.run()
    finally:
        await close_db()
        metrics.process_exited(os.getpid())
        if "metrics_server" in served:
            server, thread = served.pop("metrics_server")
            server.shutdown()
            server.server_close()
            thread.join(2)


if __name__ == "__main__":
    try:
        logs.configure(None, None)
    except ValueError as exc:  # REBATE_LOG_FORMAT / REBATE_LOG_LEVEL
        sys.exit(f"worker: {exc}")
    started = time.monotonic()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main())
    except StartupError as exc:
        sys.exit(f"worker: {exc}")
    log.info("worker stopped after %.0fs", time.monotonic() - started)
