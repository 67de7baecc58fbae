"""Worker settings for the stop test: every job spends its first seconds in `on_job_start`, where
arq's `run_job` does not absorb a cancellation (the job task then ends in CancelledError)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.runtime import ping_db
from workers.main import WorkerSettings


async def slow_start(ctx: dict[str, Any]) -> None:
    await ping_db()  # the database connection (on SQLite: aiosqlite's thread) is open
    await asyncio.sleep(30)


# arq reads a settings class's own __dict__ only, so a dict rather than a subclass
SlowJobStart = {**{k: v for k, v in vars(WorkerSettings).items() if not k.startswith("_")}, "on_job_start": slow_start}
