"""Database selection: `DATABASE_URL` (PostgreSQL or MySQL / MariaDB in production) or the embedded
SQLite file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = ROOT / "var" / "rebate.sqlite3"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgres://", 1)
    DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite://{DEFAULT_SQLITE}"


# MySQL 8 / MariaDB 10.11 sessions as the SQL of `store/` expects them (see store/sql.py):
# - ANSI_QUOTES: "order", "index", "values" are quoted identifiers, as on PostgreSQL and SQLite;
# - time_zone UTC: DATETIME columns hold naive UTC (what tortoise writes with use_tz, and what
#   CURRENT_TIMESTAMP then gives), read back as UTC;
# - READ COMMITTED: PostgreSQL's default, which the fence, the row locks and intake's race handling
#   are written for (InnoDB's REPEATABLE READ would give a transaction's plain reads the snapshot
#   of its first one); `store.db.repeatable_read` asks for a snapshot where one is wanted.
# - FOUND_ROWS: an UPDATE reports the rows it matched, as PostgreSQL and SQLite do (MySQL's default
#   counts only rows whose values changed, and the fence `UPDATE … WHERE version = ?` that rewrites
#   an unchanged head would read as lost).
# (the session settings are set by the init command of every pooled connection: the driver's own `sql_mode` option cannot
# take a list of modes)
MYSQL_FOUND_ROWS = 2  # the client flag CLIENT_FOUND_ROWS
MYSQL_INIT = "SET sql_mode = 'STRICT_TRANS_TABLES,ANSI_QUOTES', time_zone = '+00:00'; SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"


def mysql_connection(url: str) -> dict[str, Any]:
    """tortoise's connection for a `mysql://user:pass@host:3306/db` URL (asyncmy driver, utf8mb4)."""
    from tortoise.backends.base.config_generator import expand_db_url

    connection = expand_db_url(url)
    connection["credentials"].update(charset="utf8mb4", init_command=MYSQL_INIT, client_flag=MYSQL_FOUND_ROWS)
    return connection


# PostgreSQL sessions: asyncpg prepares and caches every statement per connection, and after five
# executions PostgreSQL may keep a statement's generic plan, costed once with the table sizes of
# that moment and kept for the connection's life. A lookup planned on an empty table (a sequential
# scan is cheapest there) would stay a sequential scan as the table grows, and nothing replans it
# on a server whose tables are never analyzed (no autovacuum). Custom plans, made for each
# execution with its parameters and the table's current size, keep the index scans.
POSTGRES_SETTINGS: dict[str, str] = {"plan_cache_mode": "force_custom_plan"}


async def _keep_session(conn: Any) -> None:
    """asyncpg's pool reset, after its own (listeners dropped, an open transaction rolled back):
    nothing more. Its default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release, a round trip per query outside a transaction and per transaction;
    this project keeps no session state to undo (settings are `SET LOCAL` or per transaction, no
    advisory locks, no LISTEN, no cursors held across transactions; the server settings above are
    the connection's own, given at connect, and `RESET ALL` would not undo them either)."""


def postgres_connection(url: str) -> dict[str, Any]:
    """tortoise's connection for a `postgres://` URL (asyncpg): the sessions' settings above, its
    pool without the reset query."""
    from tortoise.backends.base.config_generator import expand_db_url

    connection = expand_db_url(url)
    credentials = connection["credentials"]
    credentials["server_settings"] = {**POSTGRES_SETTINGS, **credentials.get("server_settings", {})}
    credentials["reset"] = _keep_session
    return connection


def tortoise_config(url: str | None = None) -> dict[str, Any]:
    url = url or database_url()
    if url.startswith("sqlite"):
        credentials: dict[str, Any] = {"file_path": url.split("://", 1)[1], "journal_mode": "WAL", "busy_timeout": 30000}
        connection: str | dict[str, Any] = {"engine": "tortoise.backends.sqlite", "credentials": credentials}
    elif url.startswith("mysql"):
        connection = mysql_connection(url)
    elif url.startswith(("postgres", "asyncpg")):
        connection = postgres_connection(url)
    else:
        connection = url  # tortoise refuses it at open with its own reason (a one-line startup error)
    return {
        "connections": {"default": connection},
        "apps": {"rebate": {"models": ["store.models"], "default_connection": "default", "migrations": "store.migrations"}},
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config()
