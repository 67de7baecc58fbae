"""`job_run`: the scheduled jobs' runs (QR-16 resets, UQ-3 daily settlements) and their progress."""

from __future__ import annotations

import json
from typing import Any

from store.db import Connection
from store.models import JobRun
from store.sql import execute, fetch


async def arm(conn: Connection, job: str, day: str) -> None:
    """Remember `day` as a run of `job` that is ARMED (nothing to do for it), unless it is known."""
    await execute(
        conn, "INSERT INTO job_run (job, day, status, cursor, state, started_at) VALUES (?, ?, 'ARMED', 0, '{}', CURRENT_TIMESTAMP) "
        "ON CONFLICT (job, day) DO NOTHING", (job, day),
    )


async def last_day(conn: Connection, job: str) -> str | None:
    """The greatest `day` recorded for the job."""
    row = await JobRun.filter(job=job).using_db(conn).order_by("-day").first()
    return row.day if row is not None else None


async def record_run(conn: Connection, job: str, day: str) -> None:
    """A RECORDED run (unique per job and day: a second writer fails with IntegrityError)."""
    await JobRun.create(job=job, day=day, status="RECORDED", using_db=conn)


async def run_state(conn: Connection, job: str, day: str) -> dict[str, Any] | None:
    """The progress of a run (None: not started)."""
    rows = await fetch(conn, "SELECT state FROM job_run WHERE job = ? AND day = ?", (job, day))
    if not rows:
        return None
    value = rows[0]["state"]
    return dict(json.loads(value) if isinstance(value, (str, bytes)) else value)


async def start_run(conn: Connection, job: str, day: str, state: dict[str, Any]) -> None:
    await execute(conn, "INSERT INTO job_run (job, day, status, cursor, state, started_at) VALUES (?, ?, 'RUNNING', 0, ?, CURRENT_TIMESTAMP)",
                  (job, day, json.dumps(state)))


async def save_run(conn: Connection, job: str, day: str, state: dict[str, Any], cursor: int, finished: bool) -> None:
    await execute(conn, "UPDATE job_run SET state = ?, cursor = ?, status = ? WHERE job = ? AND day = ?",
                  (json.dumps(state), cursor, "DONE" if finished else "RUNNING", job, day))
