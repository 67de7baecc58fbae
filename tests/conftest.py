"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real Redis."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from tortoise import connections

from bench.common import create_database, drop_database
from services.runtime import close_db, init_db

# The PostgreSQL server the tests use. The run creates a database of its own on it
# (rebate_test_<random>) and drops only that one; the database named here is only connected to.
POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
RUN_ID = uuid.uuid4().hex[:12]
TABLES = ["appreciation_holder", "appreciation_price", "appreciation_sale", "appreciation_order",
          "job_run", "member_spend_day", "balance", "transfer", "entitlement", "order_line", '"order"', "queue", "inbox_item", "event",
          "model_settings", "product", "cashier", "store", "member"]


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), timeout=1).close()
        return True
    except OSError:
        return False


def servers_line() -> str:
    """Which servers this run uses, in one line."""
    postgres = "" if reachable(POSTGRES_SERVER) else ", NOT reachable: its tests are skipped (fail under CI)"
    redis = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return (f"test servers: PostgreSQL {_server_label()} (databases rebate_test_{RUN_ID}_*, created and dropped by this run{postgres}); "
            f"Redis {redis.hostname}:{redis.port or 6379}; SQLite files under pytest's tmp dir")


def pytest_report_header() -> str:
    return servers_line()


def pytest_sessionstart(session: pytest.Session) -> None:
    """-q (the project's default) hides the report header: print the servers line anyway."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        reporter.write_line(servers_line())


def _server_label() -> str:
    parsed = urlparse(POSTGRES_SERVER)
    return f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 5432}"


def postgres_or_skip() -> str:
    """PostgreSQL is required in CI; a laptop without one runs the SQLite half only."""
    if reachable(POSTGRES_SERVER):
        return POSTGRES_SERVER
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {_server_label()}")
    pytest.skip(f"PostgreSQL is not reachable at {_server_label()} (set TEST_POSTGRES_URL)")


async def create_postgres_database(server: str, suffix: str) -> str:
    """A new, empty database of this run on `server`; returns its URL."""
    return await create_database(server, f"rebate_test_{RUN_ID}_{suffix}")


async def drop_postgres_database(server: str, url: str) -> None:
    """Drop a database this run created (and only such a one)."""
    name = urlparse(url).path.lstrip("/")
    assert name.startswith(f"rebate_test_{RUN_ID}_"), f"refusing to drop {name!r}: not created by this run"
    await drop_database(server, url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated database of each kind; the settlement tests run once on each."""
    if request.param == "postgres":
        server = postgres_or_skip()
        url = await create_postgres_database(server, "main")
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    await init_db(url, migrate=True)
    yield url
    await close_db()
    os.environ.pop("DATABASE_URL", None)
    if request.param == "postgres":
        await drop_postgres_database(server, url)


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
