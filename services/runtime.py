"""Process-wide resources: the database (opened through `store.db`) and Redis (arq pool, pub/sub)."""

from __future__ import annotations

import os
from collections.abc import Callable
from zoneinfo import ZoneInfo

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from store import db

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def platform_zone() -> ZoneInfo:
    """The platform's time zone for day boundaries (C-9): REBATE_TIMEZONE, default Asia/Shanghai."""
    return ZoneInfo(os.environ.get("REBATE_TIMEZONE", "Asia/Shanghai"))


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(url or redis_url())


async def init_db(url: str | None = None, migrate: bool = False, progress: Callable[[int | None, str | None], None] | None = None) -> None:
    """Open the connections; with `migrate`, apply pending migrations first (the run command);
    `progress` follows them (store.db.open)."""
    await db.open(url, migrate, progress)


async def close_db() -> None:
    """Close the connections (another database may be opened next: tests, `rebate replay`)."""
    await db.close()


async def ping_db() -> None:
    """The health check's round trip to the database."""
    await db.ping()


async def redis_pool(url: str | None = None) -> ArqRedis:
    return await create_pool(redis_settings(url))
