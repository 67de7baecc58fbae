"""The queues' Redis locks as a drain job holds them, several at once (ADR 0002): each queue has
its own key (`rebate:lock:<queue>`, the same a redis-py `Lock` of it takes), and the job takes,
renews and lets go of a set of them in one round trip, under one token of its own. A lock is a
hint that spares the database a second settler; the fence on the queue row is what makes it safe."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

from redis.asyncio import Redis

from services import metrics
from services.settlement import LOCK_PREFIX

_TAKE = (  # the keys that were free, now held with the token for PX ms
    "local got = {} for i, key in ipairs(KEYS) do "
    "if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then got[#got + 1] = i end end return got"
)
_RENEW = (  # the keys still held with the token, their timeout set again
    "local kept = {} for i, key in ipairs(KEYS) do "
    "if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) kept[#kept + 1] = i end end return kept"
)
_FINISH = (  # KEYS[1] the ready marks, then the locks: a lock whose queue was marked again stays held (its index answered, its mark taken), the others are let go
    "local again, lapsed = {}, 0 for i = 2, #KEYS do "
    "if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then again[#again + 1] = i - 1 "
    "elseif redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) else lapsed = lapsed + 1 end end return {again, lapsed}"
)
_RELEASE = (  # how many keys were still held with the token (those are deleted)
    "local n = 0 for _, key in ipairs(KEYS) do if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) n = n + 1 end end return n"
)


def lock_key(queue_id: str) -> str:
    return LOCK_PREFIX + queue_id


class QueueLocks:
    """The queue locks one job holds (`held`), all under this job's token."""

    def __init__(self, redis: Redis, timeout: float) -> None:
        self.redis, self.timeout_ms = redis, int(timeout * 1000)
        self.token = uuid.uuid4().hex
        self.held: set[str] = set()

    async def take(self, queue_ids: Iterable[str], blocking: float = 0) -> list[str]:
        """Take those of the queues that are free (waiting up to `blocking` seconds for the
        others, retried every 0.1 s); returns the queues taken, in the order given."""
        wanted = [q for q in dict.fromkeys(queue_ids) if q not in self.held]
        taken: list[str] = []
        started = time.perf_counter()
        while wanted:
            got = set(await self._run(_TAKE, wanted))
            taken += [q for i, q in enumerate(wanted, 1) if i in got]
            wanted = [q for i, q in enumerate(wanted, 1) if i not in got]
            remaining = blocking - (time.perf_counter() - started)
            if not wanted or remaining <= 0:
                break
            await asyncio.sleep(min(0.1, remaining))
        waited = time.perf_counter() - started
        for _ in taken:
            metrics.LOCK_WAIT.labels("acquired").observe(waited)
        for _ in wanted:
            metrics.LOCK_WAIT.labels("busy").observe(waited)
        self.held.update(taken)
        return [q for q in dict.fromkeys(queue_ids) if q in taken]

    async def renew(self, queue_ids: Iterable[str]) -> list[str]:
        """Set the timeout of these held locks again; returns those still held (a lock that
        lapsed meanwhile may be another settler's now: it is no longer this job's)."""
        wanted = [q for q in queue_ids if q in self.held]
        kept = set(await self._run(_RENEW, wanted)) if wanted else set()
        lost = {q for i, q in enumerate(wanted, 1) if i not in kept}
        self.held -= lost
        return [q for q in wanted if q not in lost]

    async def release(self, queue_ids: Iterable[str]) -> int:
        """Let go of these held locks; returns how many had lapsed before (held by nobody, or by another now)."""
        wanted = [q for q in queue_ids if q in self.held]
        self.held -= set(wanted)
        if not wanted:
            return 0
        return len(wanted) - int(await self.redis.eval(_RELEASE, len(wanted), *map(lock_key, wanted), self.token))  # type: ignore[misc]

    async def finish(self, ready: str, queue_ids: list[str]) -> tuple[list[str], int]:
        """The queues' drains are done unless they were marked ready again meanwhile, in one Redis
        step: those marked again (their marks taken) stay held and are answered; the others'
        locks are let go, with how many of them had lapsed. A report's `enqueue_drains` sees
        either the lock (and this takes its mark) or no lock (and it enqueues a job)."""
        wanted = [q for q in queue_ids if q in self.held]
        if not wanted:
            return [], 0
        again, lapsed = await self.redis.eval(_FINISH, len(wanted) + 1, ready, *map(lock_key, wanted), self.token, *wanted)  # type: ignore[misc]
        kept = [wanted[int(i) - 1] for i in again or []]
        self.held -= set(wanted) - set(kept)
        return kept, int(lapsed)

    @staticmethod
    async def held_by_any(redis: Redis, queue_ids: list[str]) -> set[str]:
        """Those of the queues whose lock someone holds (in one round trip)."""
        if not queue_ids:
            return set()
        async with redis.pipeline(transaction=False) as pipe:
            for q in queue_ids:
                pipe.exists(lock_key(q))
            return {q for q, found in zip(queue_ids, await pipe.execute(), strict=True) if found}

    async def _run(self, script: str, queue_ids: list[str]) -> list[int]:
        found = await self.redis.eval(script, len(queue_ids), *map(lock_key, queue_ids), self.token, str(self.timeout_ms))  # type: ignore[misc]
        return [int(i) for i in found or []]
