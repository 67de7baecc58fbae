"""A request's reads on one connection: `read_scope()` pins a pooled connection (PostgreSQL) for
the reads made inside it, taken at the first query and given back once at the end, instead of one
pool acquire and release per query. The reads run outside any transaction (each statement sees
what is committed when it runs, as before); writes keep their own transactions (`db.writing`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper, translate_exceptions

from store import db

_SCOPE: ContextVar[_Scope | None] = ContextVar("rebate_read_scope", default=None)


class _Scope:
    """The reads of one scope: its pinned client, made at the first read (none: not PostgreSQL)."""

    def __init__(self) -> None:
        self.client: db.Connection | None = None
        self.pinned: _Pinned | None = None

    def connection(self) -> db.Connection:
        if self.client is None:
            client = db.default()
            self.pinned = _Pinned(client) if isinstance(client, AsyncpgDBClient) else None
            self.client = self.pinned if self.pinned is not None else client
        return self.client


class _Pinned(TransactionWrapper):
    """tortoise's client for one pooled asyncpg connection, outside a transaction; queries take
    its lock, so the concurrent resolvers of one request use it one at a time."""

    def __init__(self, client: AsyncpgDBClient) -> None:
        super().__init__(client)
        self._connection = None  # type: ignore[assignment]

    def acquire_connection(self) -> Any:
        return _Lease(self)

    @translate_exceptions
    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> list[Any]:
        """The rows as asyncpg's records (read by column name like dicts), without tortoise's
        per-row copy: a read scope's callers copy what they keep (`store.sql.fetch`)."""
        async with _Lease(self) as connection:
            return list(await connection.fetch(query, *(values or ())))

    async def release(self) -> None:
        if self._connection is not None and self._parent._pool is not None:
            connection, self._connection = self._connection, None  # type: ignore[assignment]
            await self._parent._pool.release(connection)


class _Lease:
    def __init__(self, pinned: _Pinned) -> None:
        self.pinned = pinned

    async def __aenter__(self) -> Any:
        await self.pinned._lock.acquire()
        try:
            if self.pinned._connection is None:
                pool = self.pinned._parent._pool
                if pool is None:
                    await self.pinned._parent.create_connection(with_db=True)
                    pool = self.pinned._parent._pool
                self.pinned._connection = await pool.acquire()
        except BaseException:
            self.pinned._lock.release()
            raise
        return self.pinned._connection

    async def __aexit__(self, *exc: Any) -> None:
        self.pinned._lock.release()


def reads() -> db.Connection:
    """The connection for a read: the pinned one inside `read_scope`, else the process's."""
    scope = _SCOPE.get()
    return scope.connection() if scope is not None else db.default()


@asynccontextmanager
async def read_scope() -> AsyncIterator[None]:
    """Pin one connection for the reads inside, at the first of them (PostgreSQL; else, and
    nested, the reads use what they would have used anyway)."""
    if _SCOPE.get() is not None:
        yield
        return
    scope = _Scope()
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
        if scope.pinned is not None:
            await scope.pinned.release()  # asyncpg shields the release from a cancellation
