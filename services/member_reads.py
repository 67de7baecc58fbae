"""Member reads of one process coalesced: the concurrent `member` queries share one statement.

What: a request `read`s a member with its wallets and waits; the reads asked for during one turn
of the event loop are read together, at the start of the next turn, with one
`queries.members_with_wallets` statement (at most `max_batch` members each), and each request gets
its own member. Why: the statement's round trip (the pool's acquire and release, the driver, the
socket's send and wake-up, the server's parse, plan and execute) is most of a wallet query's
cost, and under load the requests that arrive together reach their read in the same turn.
Nothing is cached: every read is answered by a statement that started after it was asked for, so
it sees what was committed when it was asked, as a read of its own would. No added wait: the
statement is sent one turn of the loop later. A failed statement gives each of its requests
the error; a request given up (cancelled) is skipped, the others are still answered.
"""

from __future__ import annotations

import asyncio
import contextvars
from decimal import Decimal
from typing import Any

from services import queries

MAX_BATCH = 32  # members per statement (its text is built once per count, store/queries.py)

Read = tuple[Any, dict[str, Decimal]] | None  # (member, its wallets), None: no such member


class MemberReads:
    """The coalescer of one process (the API's, built in its lifespan, `Context.member_reads`)."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("a statement reads at least one member")
        self.max_batch = max_batch
        self.statements = 0  # statements sent (the tests read it)
        self._waiting: dict[str, list[asyncio.Future[Read]]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def read(self, id: str) -> Read:
        """The member and its wallets, read with whatever other members are asked for in this turn."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Read] = loop.create_future()
        self._waiting.setdefault(id, []).append(answer)
        if not self._scheduled:
            self._scheduled = True
            # a context of its own: the statements must not see the asking request's (its read scope)
            loop.call_soon(self._send, context=contextvars.Context())
        return await answer

    def _send(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, {}
        ids = list(waiting)
        for start in range(0, len(ids), self.max_batch):
            batch = {i: waiting[i] for i in ids[start:start + self.max_batch]}
            task = asyncio.get_running_loop().create_task(self._read(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _read(self, batch: dict[str, list[asyncio.Future[Read]]]) -> None:
        self.statements += 1
        try:
            found, balances = await queries.members_with_wallets(list(batch))
        except asyncio.CancelledError:  # the loop is shutting down
            for answers in batch.values():
                for answer in answers:
                    answer.cancel()
            raise
        except Exception as exc:
            for answers in batch.values():
                for answer in answers:
                    if not answer.done():
                        answer.set_exception(exc)
            return
        for id, answers in batch.items():
            row = found.get(id)
            for answer in answers:
                if not answer.done():
                    answer.set_result((row, dict(balances[id])) if row is not None else None)

    async def close(self) -> None:
        """Wait for the statements in flight (their requests are answered first)."""
        while self._running or self._scheduled:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            else:
                await asyncio.sleep(0)
