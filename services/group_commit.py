"""Group commit of single reports: the concurrent callers of one process share one transaction.

What: a caller `submit`s its event and waits; one task takes every report waiting (at most
`max_group`, after at most `max_wait` for more), records them with `intake.record_group` (the
set-based bulk path: one snapshot, multi-row writes, one commit), enqueues each queue's drain
once, then answers each caller. Why: a commit and an enqueue per order is most of a single
report's cost, and concurrent callers arrive while the previous group commits. A group's enqueue
runs while the next group records (its callers are answered when it is done): a slow enqueue
delays its own callers only, not every group behind it.
Invariant: a caller is answered only after its own event is committed — with its ticket (a
replay's too), or with the error that refused it, for which nothing was written; when the group's
write or commit fails, every caller of it gets that error and nothing of the group was written.
One group at a time, in arrival order, so events reach each queue in the order they were reported.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services import intake, metrics
from services.intake import PLATFORM_SCOPE, Ticket
from services.runtime import switch, whole_number

log = logging.getLogger("rebate.intake")
Enqueue = Callable[[list[str]], Awaitable[None]]
MAX_GROUP = 256
MAX_WAIT_MS = 0.0


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """REBATE_GROUP_COMMIT: `on` (the default) or `off` (each report commits alone)."""
    return switch("REBATE_GROUP_COMMIT", environ)


@dataclass(frozen=True, slots=True)
class Options:
    max_group: int  # reports per group
    max_wait: float  # seconds a group waits for more


def options(environ: Mapping[str, str] = os.environ) -> Options | None:
    """None when REBATE_GROUP_COMMIT=off; REBATE_GROUP_COMMIT_MAX (reports per group, a whole
    number from 1, default 256) and REBATE_GROUP_COMMIT_WAIT_MS (how long a group waits for more,
    milliseconds from 0, default 0: it takes what arrived while the previous group committed) tune
    it. ValueError, naming the variable, for a value outside those (the API then does not start)."""
    if not enabled(environ):
        return None
    size = whole_number("REBATE_GROUP_COMMIT_MAX", "a whole number of reports from 1", environ, 1)
    wait = environ.get("REBATE_GROUP_COMMIT_WAIT_MS", "").strip() or str(MAX_WAIT_MS)
    try:
        wait_ms = float(wait)
    except ValueError:
        wait_ms = -1.0
    if not (0 <= wait_ms <= 10_000):  # also refuses nan and inf
        raise ValueError(f"REBATE_GROUP_COMMIT_WAIT_MS must be milliseconds from 0 to 10000, not {wait!r}")
    return Options(MAX_GROUP if size is None else size, wait_ms / 1000)


@dataclass(slots=True)
class _Report:
    payload: Mapping[str, Any]
    now: datetime
    scope: str
    answer: asyncio.Future[Ticket]


class GroupCommit:
    """The batcher of one process (the API's, built in its lifespan); `enqueue` is best effort
    (the event is durable, the worker's sweeper re-enqueues a lost drain) and must not raise."""

    def __init__(self, enqueue: Enqueue, max_group: int = MAX_GROUP, max_wait: float = MAX_WAIT_MS / 1000) -> None:
        if max_group < 1 or max_wait < 0:
            raise ValueError("a group holds at least one report and waits no negative time")
        self.enqueue, self.max_group, self.max_wait = enqueue, max_group, max_wait
        self.groups = 0  # groups committed or failed (the tests and the metrics read it)
        self._waiting: list[_Report] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()  # committed groups being enqueued, then answered
        self._closed = False

    @classmethod
    def from_env(cls, enqueue: Enqueue, environ: Mapping[str, str] = os.environ) -> GroupCommit | None:
        """The process' group commit as `options` give it (None when off)."""
        chosen = options(environ)
        return None if chosen is None else cls(enqueue, chosen.max_group, chosen.max_wait)

    async def submit(self, payload: Mapping[str, Any], now: datetime, scope: str = PLATFORM_SCOPE) -> Ticket:
        """Record one event with whatever else is waiting; returns its ticket once committed (and
        its queues' drains enqueued), or raises what refused it or failed its group."""
        if self._closed:
            raise RuntimeError("the intake is shutting down")
        answer: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Report(payload, now, scope, answer))
        self._wake.set()
        if self._task is None or self._task.done():  # in a context of its own: not the first caller's (its request id)
            self._task = asyncio.create_task(self._run(), name="group-commit", context=contextvars.Context())
            self._task.add_done_callback(self._stopped)
        ticket = await answer
        intake.log_ticket(ticket)
        return ticket

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """The task ended (closed, or a bug): no report may wait for it forever."""
        error = RuntimeError("the group commit stopped") if task.cancelled() or task.exception() is None else task.exception()
        waiting, self._waiting = self._waiting, []
        for r in waiting:
            _answer(r, error)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Answer every report already submitted, then stop (before the database closes)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._waiting:
                    if self.max_wait and len(self._waiting) < self.max_group:
                        await asyncio.sleep(self.max_wait)
                    group, self._waiting = self._take()
                    await self._commit(group)
                if self._closed:
                    return
        finally:  # every committed group's callers are answered before the task ends
            if self._finishing:
                await asyncio.gather(*self._finishing, return_exceptions=True)

    def _take(self) -> tuple[list[_Report], list[_Report]]:
        """The next group: the oldest reports, of the oldest report's key scope, at most max_group."""
        scope = self._waiting[0].scope
        group: list[_Report] = []
        rest: list[_Report] = []
        for report in self._waiting:
            (group if report.scope == scope and len(group) < self.max_group else rest).append(report)
        return group, rest

    async def _commit(self, group: list[_Report]) -> None:
        live = [r for r in group if not r.answer.done()]  # a caller that went away is not recorded
        if not live:
            return
        self.groups += 1
        metrics.INTAKE_GROUP.observe(len(live))
        try:
            outcomes = await intake.record_group([(r.payload, r.now) for r in live], live[0].scope)
        except Exception as exc:  # nothing of the group was written: every caller learns why
            log.warning("a group of %d reports failed: %s", len(live), exc, exc_info=True)
            for r in live:
                _answer(r, exc)
            return
        except BaseException:  # cancelled (the process stops): whether it committed is unknown
            for r in live:
                _answer(r, RuntimeError("the intake stopped while recording this report: resend it (C-6: a replay if it was recorded)"))
            raise
        queues = list(dict.fromkeys(q for o in outcomes if isinstance(o, Ticket) for q in o.queues))
        if not queues:
            _answer_all(live, outcomes)
            return
        finish = asyncio.create_task(self._finish(live, outcomes, queues), name="group-commit-enqueue")
        self._finishing.add(finish)
        finish.add_done_callback(self._finishing.discard)

    async def _finish(self, live: list[_Report], outcomes: list[Ticket | Exception], queues: list[str]) -> None:
        """A committed group: enqueue its queues' drains, then answer its callers."""
        try:
            await self.enqueue(queues)
        except Exception:  # the events are durable; the sweeper enqueues what is pending
            log.warning("could not enqueue drains of %s; the sweeper will", queues, exc_info=True)
        finally:
            _answer_all(live, outcomes)


def _answer_all(reports: list[_Report], outcomes: list[Ticket | Exception]) -> None:
    for r, outcome in zip(reports, outcomes, strict=True):
        _answer(r, outcome)


def _answer(report: _Report, outcome: Ticket | Exception) -> None:
    if report.answer.done():  # the caller was cancelled meanwhile; its event stands (C-6: a retry is a replay)
        return
    if isinstance(outcome, Exception):
        report.answer.set_exception(outcome)
    else:
        report.answer.set_result(outcome)
