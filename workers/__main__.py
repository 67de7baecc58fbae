"""`python -m workers [--log-format json] [--burst]`: the worker process (the Procfile's `worker`).

It runs `workers.main.WorkerSettings` under workers/run.py's supervisor (a Redis outage of any
length rebuilds arq's worker instead of ending the process), with two differences from arq's own
command:

- logging goes through services/logs.py (text or JSON lines, the sweeper's lines at DEBUG);
- the long-running worker runs on uvloop where it is installed (uvicorn[standard] brings it; the
  API runs on it already through uvicorn's `--loop auto`), else on asyncio's own loop;
- stopping is bounded. arq 0.28's `Worker.close()` gathers the job tasks its signal handler has
  just cancelled without `return_exceptions`: when one of them ends in CancelledError (it was
  cancelled outside the part of `run_job` that absorbs it, e.g. while a second drain job waited
  for its queue's lock), `close()` raises CancelledError before `on_shutdown`, so the database is
  never closed and aiosqlite's (non-daemon) thread keeps the process alive after SIGTERM.
  `StoppingWorker.close` waits for the cancelled jobs (at most `STOP_WAIT` seconds) whatever
  they end with, and always runs `on_shutdown` and closes the Redis pool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from arq.utils import import_string
from arq.worker import Worker, get_kwargs

from services import logs
from services.runtime import StartupError
from workers.main import WorkerSettings, check_settings
from workers.run import loop_factory
from workers.run import main as supervised

log = logging.getLogger("rebate.worker")
STOP_WAIT = 5.0  # seconds the cancelled jobs get to finish (roll back) before the worker closes anyway


class StoppingWorker(Worker):
    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        tasks = [t for t in self.tasks.values() if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            if pending:
                log.warning("%d jobs still running %.0fs after the stop: closing anyway", len(pending), STOP_WAIT)
        for task in self.tasks.values():  # retrieve every outcome: a cancelled job is no error here
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("a job ended with %r while the worker stopped", task.exception())
        try:
            with contextlib.suppress(Exception):
                await self.pool.delete(self.health_check_key)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
        finally:
            await self.pool.aclose(close_connection_pool=True)
            self._pool = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description="The rebate engine's worker: settlement jobs, the sweeper and the daily jobs.")
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None, help="text (default) or json lines; also REBATE_LOG_FORMAT")
    parser.add_argument("--log-level", default=None, help="DEBUG shows the sweeper's lines; also REBATE_LOG_LEVEL (default INFO)")
    parser.add_argument("--burst", action="store_true", help="exit once no jobs are queued")
    parser.add_argument("--settings", default=None, help="import path of other worker settings (default workers.main.WorkerSettings)")
    args = parser.parse_args(argv)
    try:
        logs.configure(args.log_format, args.log_level)
        check_settings()  # a bad value: one line and status 1, before Redis or the database is tried
    except ValueError as exc:
        sys.exit(f"worker: {exc}")
    try:
        if args.burst or args.settings:  # one pass, or other settings (tests): arq's worker with the bounded stop
            settings = import_string(args.settings) if args.settings else WorkerSettings
            StoppingWorker(**{**get_kwargs(settings), "burst": args.burst}).run()
        else:  # the long-running worker: rides out Redis outages (workers/run.py)
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                runner.run(supervised())
    except StartupError as exc:  # the database cannot be opened: one line, status 1
        sys.exit(f"worker: {exc}")


if __name__ == "__main__":
    main()
