"""Process-wide resources: the database (tortoise) and Redis (arq pool, pub/sub)."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from tortoise import Tortoise

from store.config import tortoise_config

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def platform_zone() -> ZoneInfo:
    """The platform's time zone for day boundaries (C-9): REBATE_TIMEZONE, default Asia/Shanghai."""
    return ZoneInfo(os.environ.get("REBATE_TIMEZONE", "Asia/Shanghai"))


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(url or redis_url())


async def init_db(url: str | None = None, migrate: bool = False) -> None:
    """Open the connections; with `migrate`, apply pending migrations first (the run command)."""
    config = tortoise_config(url)
    if migrate:
        from tortoise.migrations.api import migrate as apply

        await apply(config=config)
    # tortoise 1.x binds its context to the calling task; servers handle requests in other tasks,
    # so this process-wide context is the fallback every task sees (closed again by close_db).
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def close_db() -> None:
    """Close the connections and forget tortoise's per-connection-name query cache, so a process
    that opens another database next (tests, `rebate replay`) gets that dialect's SQL."""
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    await Tortoise.close_connections()
    EXECUTOR_CACHE.clear()


async def redis_pool(url: str | None = None) -> ArqRedis:
    return await create_pool(redis_settings(url))
