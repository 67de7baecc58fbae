"""The benchmarks work on a database of their own and drop only that one; a --database they are
given is used and kept. (In a subprocess: a benchmark opens and closes the process's database.)"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlparse

import asyncpg

from bench.common import PREFIX
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_or_skip

BENCH = """
import argparse, asyncio, sys
from bench.common import add_arguments, bench_environment, fresh_database

async def main():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    async with bench_environment(parser.parse_args()) as url:
        await fresh_database(url)
        print(url, flush=True)
        sys.stdin.readline()  # the test looks at the server meanwhile

asyncio.run(main())
"""


async def database_names(server: str) -> set[str]:
    conn = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    try:
        return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


def start_bench(server: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCH_POSTGRES_URL": server, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", BENCH, *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def finish(bench: subprocess.Popen[str]) -> None:
    bench.communicate("\n", timeout=60)
    assert bench.returncode == 0


async def test_a_benchmark_creates_and_drops_a_database_of_its_own():
    server = postgres_or_skip()
    before = await database_names(server)
    bench = start_bench(server)
    assert bench.stdout is not None
    name = urlparse(bench.stdout.readline().strip()).path.lstrip("/")
    assert name.startswith(PREFIX) and name not in before
    assert name in await database_names(server)
    finish(bench)
    assert name not in await database_names(server)


async def test_a_benchmark_keeps_the_database_it_is_given():
    server = postgres_or_skip()
    given = await create_postgres_database(server, "bench_given")
    try:
        bench = start_bench(server, "--database", given)
        assert bench.stdout is not None
        assert bench.stdout.readline().strip() == given
        finish(bench)
        assert urlparse(given).path.lstrip("/") in await database_names(server)
    finally:
        await drop_postgres_database(server, given)
