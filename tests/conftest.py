"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real Redis."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from tortoise import connections

from services.runtime import close_db, init_db

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
TABLES = ["job_run", "member_spend_day", "balance", "transfer", "entitlement", "order_line", '"order"', "queue", "inbox_item", "event",
          "model_settings", "product", "cashier", "store", "member"]


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), timeout=1).close()
        return True
    except OSError:
        return False


def postgres_or_skip() -> str:
    """PostgreSQL is required in CI; a laptop without one runs the SQLite half only."""
    if reachable(POSTGRES_URL):
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL} (set TEST_POSTGRES_URL)")


async def reset_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated database of each kind; the settlement tests run once on each."""
    if request.param == "postgres":
        url = postgres_or_skip()
        await reset_postgres(url)
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    await init_db(url, migrate=True)
    yield url
    await close_db()
    os.environ.pop("DATABASE_URL", None)


@pytest.fixture
async def db(database: str) -> str:
    """An empty database for one test."""
    conn = connections.get("default")
    for table in TABLES:
        await conn.execute_script(f"DELETE FROM {table}")
    return database


@pytest.fixture
def redis_url() -> str:
    """The test Redis: REDIS_URL's server (./run test starts a private one), database 9."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + "/9" if base.count("/") >= 3 else base + "/9"
