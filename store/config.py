"""Database selection: `DATABASE_URL` (PostgreSQL in production) or the embedded SQLite file."""

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


def tortoise_config(url: str | None = None) -> dict[str, Any]:
    url = url or database_url()
    if url.startswith("sqlite"):
        credentials: dict[str, Any] = {"file_path": url.split("://", 1)[1], "journal_mode": "WAL", "busy_timeout": 30000}
        connection: str | dict[str, Any] = {"engine": "tortoise.backends.sqlite", "credentials": credentials}
    else:
        connection = url
    return {
        "connections": {"default": connection},
        "apps": {"rebate": {"models": ["store.models"], "default_connection": "default", "migrations": "store.migrations"}},
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config()
