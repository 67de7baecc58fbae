"""The database as the layers above see it: open and close it, a connection, a writing
transaction, and the errors a caller may handle. Nothing outside `store/` imports tortoise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import ConfigurationError, DBConnectionError, IntegrityError, OperationalError, TransactionManagementError
from tortoise.transactions import in_transaction

from store.config import tortoise_config
from store.sql import claim_writer, dialect

Connection = BaseDBAsyncClient
__all__ = ["Connection", "IntegrityError", "OpenError", "close", "default", "is_busy", "is_disconnect", "is_locked", "is_race", "open", "ping", "repeatable_read",
           "settling", "writing"]

# A settlement transaction is bounded (ADR 0002): on PostgreSQL it waits at most LOCK_TIMEOUT for a
# row lock, and a session left idle inside it (its process paused) is ended after IDLE_TIMEOUT,
# which rolls it back and frees its locks. SQLite has one writer and a busy timeout (store/config.py).
LOCK_TIMEOUT = "2s"
IDLE_TIMEOUT = "5s"


async def open(url: str | None = None, migrate: bool = False, progress: Callable[[int | None, str | None], None] | None = None) -> None:
    """Open the connections; with `migrate`, apply pending migrations first (the run command).
    `progress(total, None)` learns how many migrations are pending, `progress(None, name)` each one applied.
    A database that cannot be opened (unknown URL, server unreachable, database missing, login
    refused) raises `OpenError` with the driver's one-line reason."""
    try:
        await _open(url, migrate, progress)
    except Exception as exc:
        reason = _open_failure(exc)
        if reason is None:
            raise
        try:  # what was opened before the failure (aiosqlite's thread would outlive the loop)
            await close()
        except Exception:
            pass
        raise OpenError(reason) from exc


class OpenError(Exception):
    """The database could not be opened; the message is the reason, without the URL."""


OPEN_STATES = {"3D000", "28000", "28P01"}  # PostgreSQL: invalid catalog name (no such database), login refused


def _open_failure(exc: BaseException) -> str | None:
    """The reason an open failed for want of a usable database, or None (another error: raise it)."""
    if isinstance(exc, ConfigurationError):
        return str(exc)
    if not (isinstance(exc, (DBConnectionError, OSError)) or is_disconnect(exc) or _sqlstates(exc) & OPEN_STATES
            or "unable to open database file" in str(exc)):
        return None
    chain: list[BaseException] = []
    cursor: BaseException | None = exc
    while cursor is not None and len(chain) < 10:
        chain.append(cursor)
        cursor = cursor.__cause__ or cursor.__context__
    # the driver's own error; tortoise's wrapper may repeat the connection's settings (a password)
    drivers = [e for e in chain if type(e).__module__.split(".")[0] in {"asyncpg", "asyncmy", "sqlite3", "aiosqlite"}]
    root = drivers[0] if drivers else chain[-1]
    if type(root).__module__.startswith("asyncmy") and root.args:  # (code, message)
        return str(root.args[-1])
    text = str(root).splitlines()[0] if str(root) else type(root).__name__
    return text if len(text) <= 200 else text[:200] + "…"


async def _open(url: str | None, migrate: bool, progress: Callable[[int | None, str | None], None] | None) -> None:
    config = tortoise_config(url)
    if migrate:
        from tortoise.migrations.api import migrate as apply

        if progress is None:
            await apply(config=config)
        else:
            await apply(config=config, reporter=lambda _conn, plan, _fake, _dry: progress(len(plan), None),
                        progress=lambda event, _app, name: progress(None, name) if event == "apply_done" else None)
    # tortoise 1.x binds its context to the calling task; servers handle requests in other tasks,
    # so this process-wide context is the fallback every task sees (closed again by close).
    _forget_queries()  # a process that had another database open (tests, replay) gets this one's SQL
    await Tortoise.init(config=config, _enable_global_fallback=True)
    await ping()  # tortoise connects lazily: an unreachable server or a missing database shows here, not at the first request
    if migrate and dialect(default()) == "mysql":
        await _binary_collation(default())


async def _binary_collation(conn: Connection) -> None:
    """MySQL / MariaDB: every table in utf8mb4_bin, so that keys and ids compare exactly (case and
    accents count) as on PostgreSQL and SQLite; tortoise creates tables in utf8mb4's default,
    case-insensitive collation. A no-op once converted (the tables of later migrations included)."""
    rows = await conn.execute_query_dict(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
        "AND TABLE_COLLATION <> 'utf8mb4_bin'"
    )
    for row in rows:
        await conn.execute_script(f"ALTER TABLE `{row['name']}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


async def close() -> None:
    """Close the connections and forget tortoise's per-connection-name query cache, so a process
    that opens another database next (tests, `rebate replay`) gets that dialect's SQL."""
    await Tortoise.close_connections()
    _forget_queries()


def _forget_queries() -> None:
    """tortoise caches each model's INSERT / UPDATE / DELETE SQL by connection name, not dialect."""
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()


def default() -> Connection:
    """The process's connection (outside a transaction)."""
    return connections.get("default")


async def ping() -> None:
    """One round trip (the health check)."""
    await default().execute_query("SELECT 1")


@asynccontextmanager
async def writing() -> AsyncIterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock first (`claim_writer`)."""
    async with in_transaction() as conn:
        await claim_writer(conn)
        yield conn


@asynccontextmanager
async def settling() -> AsyncIterator[Connection]:
    """A writing transaction with PostgreSQL's lock and idle-in-transaction timeouts (SET LOCAL)."""
    async with writing() as conn:
        if dialect(conn) == "postgres":
            await conn.execute_script(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SET LOCAL idle_in_transaction_session_timeout = '{IDLE_TIMEOUT}'")
        yield conn


async def repeatable_read(conn: Connection) -> None:
    """On PostgreSQL and MySQL, run the rest of this (just begun) transaction as one snapshot.

    MySQL cannot change the isolation of a transaction in progress: the just begun (still empty)
    one is committed and a REPEATABLE READ one with its snapshot taken now begins on the same
    connection, which the transaction's commit or rollback then ends."""
    kind = dialect(conn)
    if kind == "postgres":
        await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    elif kind == "mysql":
        await conn.execute_script("COMMIT")
        await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await conn.execute_script("START TRANSACTION WITH CONSISTENT SNAPSHOT")


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked / busy": the transaction may simply be run again."""
    return isinstance(exc, (OperationalError, TransactionManagementError)) and ("locked" in str(exc) or "busy" in str(exc).lower())


def _sqlstates(exc: BaseException | None) -> set[str]:
    states = set()
    while exc is not None:
        if state := getattr(exc, "sqlstate", None):
            states.add(str(state))
        exc = exc.__cause__ or exc.__context__
    return states


def is_locked(exc: BaseException) -> bool:
    """PostgreSQL's lock_not_available: `FOR UPDATE NOWAIT` or `lock_timeout` found the row held."""
    return "55P03" in _sqlstates(exc)


def is_disconnect(exc: BaseException) -> bool:
    """The database, not the work, failed: a lost or ended connection (an idle-in-transaction
    timeout, an administrator, a restart) or an unreachable server."""
    if isinstance(exc, (OSError, ConnectionError)):
        return True
    if any(s.startswith("08") or s in {"25P03", "57P01", "57P02", "57P03"} for s in _sqlstates(exc)):
        return True
    return type(exc).__name__ in {"ConnectionDoesNotExistError", "InterfaceError", "InternalClientError"} or ("connection" in str(exc).lower() and "closed" in str(exc).lower())


RETRY_STATES = {"40P01", "40001"}  # PostgreSQL deadlock detected, serialization failure
MYSQL_RETRY_CODES = {1213, 1020}  # MySQL / MariaDB deadlock found; record changed since last read


def is_race(exc: BaseException | None) -> bool:
    """A race with a concurrent writer (a unique key committed first, a deadlock, a serialization
    failure) that running the transaction again on a fresh snapshot resolves."""
    if isinstance(exc, IntegrityError):
        return True
    if _mysql_code(exc) in MYSQL_RETRY_CODES:
        return True
    while exc is not None:
        if getattr(exc, "sqlstate", None) in RETRY_STATES:
            return True
        exc = exc.__cause__
    return False


def _mysql_code(exc: BaseException | None) -> Any:
    """The error number of the MySQL driver error that tortoise wrapped (`OperationalError(exc)`,
    the driver's error as its first argument, `(code, message)`), else None."""
    driver = exc.args[0] if exc is not None and exc.args and isinstance(exc.args[0], BaseException) else None
    args = driver.args if driver is not None else ()
    return args[0] if args and isinstance(args[0], int) and type(driver).__module__.startswith("asyncmy") else None
