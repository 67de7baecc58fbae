"""Process-wide resources: the database (opened through `store.db`) and Redis (arq pool, pub/sub)."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from store import db
from store.config import database_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_frozen = False
log = logging.getLogger("rebate.runtime")


def freeze_startup_objects() -> None:
    """Once per process, after start-up (the API's lifespan, the worker's startup): what the imports,
    the schema and the pools built lives as long as the process, so the cyclic garbage collector
    stops walking it (`gc.freeze`). Requests and batches in flight outlive the young generations;
    without this each full collection walks the whole heap (20–30 ms in a worker, twice in 12 s of
    `bench.callbacks`)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
        log.debug("froze %d start-up objects: the cyclic garbage collector no longer walks them", gc.get_freeze_count())


class StartupError(Exception):
    """A process cannot start: the database or Redis cannot be reached, or the configuration is
    incomplete. The message is one line for the operator (URLs without their password); the
    entry points print it and exit with status 1 instead of a traceback."""


def shown_url(url: str) -> str:
    """`url` without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("://", 1)[0] + "://…"
    if not password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)).geturl()


def switch(name: str, environ: Mapping[str, str] = os.environ, default: str = "on") -> bool:
    """An on / off setting of the environment (case and spaces ignored); anything else is refused."""
    value = environ.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, not {value!r}")
    return value == "on"


def whole_number(name: str, what: str, environ: Mapping[str, str], low: int, high: int | None = None) -> int | None:
    """A whole-number setting of the environment from `low` (to `high`), or None when unset or
    empty; anything else is refused: "`name` must be `what`, not …"."""
    value = environ.get(name, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and int(value) >= low and (high is None or int(value) <= high)):
        raise ValueError(f"{name} must be {what}, not {value!r}")
    return int(value)


def platform_zone() -> ZoneInfo:
    """The platform's time zone for day boundaries (C-9): REBATE_TIMEZONE, default Asia/Shanghai."""
    return ZoneInfo(os.environ.get("REBATE_TIMEZONE", "Asia/Shanghai"))


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(url or redis_url())


async def init_db(url: str | None = None, migrate: bool = False, progress: Callable[[int | None, str | None], None] | None = None) -> None:
    """Open the connections; with `migrate`, apply pending migrations first (the run command);
    `progress` follows them (store.db.open). StartupError when the database cannot be opened."""
    try:
        await db.open(url, migrate, progress)
    except db.OpenError as exc:
        raise StartupError(f"cannot open the database {shown_url(url or database_url())}: {exc}") from None


async def close_db() -> None:
    """Close the connections (another database may be opened next: tests, `rebate replay`)."""
    await db.close()


async def ping_db() -> None:
    """The health check's round trip to the database."""
    await db.ping()


async def redis_pool(url: str | None = None) -> ArqRedis:
    """StartupError when Redis does not answer (after arq's own retries)."""
    try:
        return await create_pool(redis_settings(url))
    except (OSError, RedisError) as exc:
        raise StartupError(f"cannot reach Redis at {shown_url(url or redis_url())}: {exc}") from None
