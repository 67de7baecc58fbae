"""Union queue daily settlement at scale (a script, not a test; issue: 1 000 000 WAITING).

    .venv/bin/python -m bench.union_queue [--waiting 1000000] [--runs 3] [--baseline DIR] [--database URL]

Each run works on a database of its own (created on the server of BENCH_POSTGRES_URL or
DATABASE_URL, dropped after); --database names an existing one to WIPE instead (bench/common.py).
It inserts N WAITING union-queue entitlements of 100.00 each with a pool that pays half of them,
runs the day's settlement through the same batch job the worker runs (streamed in chunks, one
fenced transaction each), and prints the time, the chunks, the peak memory of the process, and
that a second run of the same day pays nothing and the ledger is zero-sum.

The reference, measured in the same database in the same run (PostgreSQL): a plain
`UPDATE … SET x = x + 1` of N rows plus an INSERT of N ledger-like rows into a copy of the
`transfer` table (its indexes included); the ratio is the settlement's time over that.

--statements prints, after each run, the statements that took the most time in this process
(PostgreSQL: by their first words, with how often they ran; a COPY by its table).

--worker runs the day as a worker runs it: the union queue's `drain_queue` job in this process,
its payout messages published on a private Redis (`settle_all`, the default, publishes nothing).

--runs repeats the run and prints medians. --baseline DIR (a checkout of another revision with
its own .venv, e.g. a worktree of main) runs this same script against that revision's code,
alternating with this one's, each run in a process of its own, and prints both medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tortoise import connections

from bench.common import add_arguments, bench_environment, bench_server, fresh_database
from domain.ledger import Asset, transfer
from domain.money import from_fen
from domain.union_queue import FUNDING, LIABILITY, POOL, PROMISED
from services import queries
from services.catalog import set_settings
from services.intake import record
from services.replay import daily_settlement_event, settle_all
from services.union_queue import CHUNK
from store.ledger import write_postings
from store.sql import dialect, execute, execute_many, fetch

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
console = Console(stderr=True, width=160)
ENTITLEMENT_COLUMNS = ("key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, order_completed, ratio, "
                       "ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at")


def members(waiting: int) -> int:
    return max(1, waiting // 10)


async def seed(waiting: int) -> None:
    conn = connections.get("default")
    if dialect(conn) == "postgres":
        await _seed_postgres(conn, waiting)
    else:
        await _seed_rows(conn, waiting)
    pool_fen = waiting // 2 * 10000
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) VALUES ('uq', 'union_queue', 1, ?, ?, 0, '{}', CURRENT_TIMESTAMP)",
                  (waiting, pool_fen))
    # the pool's money and the promises are on the ledger like any other (C-5)
    seed = transfer("bench:seed:pool", FUNDING, POOL, from_fen(pool_fen), Asset.CNY, "bench seed")
    seed += transfer("bench:seed:promised", PROMISED, LIABILITY, from_fen(waiting * 10000), Asset.ENTITLEMENT, "bench seed")
    await write_postings(conn, [(p, None) for p in seed], "uq", NOW)
    await set_settings("union_queue", {"enabled": True})
    if dialect(conn) == "postgres":
        await conn.execute_script("VACUUM ANALYZE")  # the seed is not what is measured: both revisions start from a clean table


async def _seed_postgres(conn: Any, waiting: int) -> None:
    """One INSERT … SELECT; the outstanding count is written as the triggers would have kept it
    (with the triggers on, N inserts in one transaction are what a revision's seed would time)."""
    await execute(conn, "INSERT INTO member (id, created_at) SELECT 'M' || g, CURRENT_TIMESTAMP FROM generate_series(0, ? - 1) AS g", (members(waiting),))
    await conn.execute_script("ALTER TABLE entitlement DISABLE TRIGGER USER")
    await execute(conn, f"INSERT INTO entitlement ({ENTITLEMENT_COLUMNS}) SELECT 'u' || (g - 1), 'union_queue', 'uq', g, 'M' || ((g - 1) % ?), 'u' || (g - 1), 0, "
                  "10000, 0, 'WAITING', TRUE, '0', 'bench', 0, 0, '', '', ? FROM generate_series(1, ?) AS g", (members(waiting), NOW, waiting))
    await conn.execute_script("ALTER TABLE entitlement ENABLE TRIGGER USER")
    await execute(conn, "INSERT INTO liability_count (queue_id, outstanding) VALUES ('uq', ?) ON CONFLICT (queue_id) DO UPDATE SET outstanding = excluded.outstanding",
                  (waiting,))


async def _seed_rows(conn: Any, waiting: int) -> None:
    await execute_many(conn, "INSERT INTO member (id, created_at) VALUES (?, CURRENT_TIMESTAMP)", [(f"M{m}",) for m in range(members(waiting))])
    step = 5_000
    for start in range(0, waiting, step):
        rows = [(f"u{i}", i + 1, f"M{i % members(waiting)}", f"u{i}", NOW) for i in range(start, min(waiting, start + step))]
        await execute_many(conn, f"INSERT INTO entitlement ({ENTITLEMENT_COLUMNS}) VALUES (?, 'union_queue', 'uq', ?, ?, ?, 0, 10000, 0, 'WAITING', TRUE, "
                           "'0', 'bench', 0, 0, '', '', ?)", rows)


async def reference(rows: int) -> dict[str, float] | None:
    """PostgreSQL's own time, in this database, for the physical work of a settlement of `rows`:
    a plain UPDATE of every row of a table and an INSERT of as many ledger-like rows."""
    conn = connections.get("default")
    if dialect(conn) != "postgres":
        return None
    await conn.execute_script(
        "DROP TABLE IF EXISTS bench_ref_counter, bench_ref_transfer; "
        f"CREATE TABLE bench_ref_counter AS SELECT g AS id, 0::bigint AS x FROM generate_series(1, {rows}) AS g; "
        "CREATE TABLE bench_ref_transfer (LIKE transfer INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )
    await conn.execute_script("VACUUM ANALYZE bench_ref_counter")
    t0 = time.perf_counter()
    await conn.execute_script("UPDATE bench_ref_counter SET x = x + 1")
    update = time.perf_counter() - t0
    t0 = time.perf_counter()
    await conn.execute_script(
        "INSERT INTO bench_ref_transfer (id, key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at) "
        f"SELECT g, 'ref:' || g, 'pool:uq', 'member:M:CASH', 'CNY', 10000, 'pay', 1, 'uq', now() FROM generate_series(1, {rows}) AS g"
    )
    insert = time.perf_counter() - t0
    await conn.execute_script("DROP TABLE bench_ref_counter, bench_ref_transfer")
    await conn.execute_script("VACUUM ANALYZE")
    return {"update": update, "insert": insert}


STATEMENTS: dict[str, list[float]] = {}  # --statements: the first words of a statement → [runs, seconds]


def time_statements() -> None:
    """Time every statement this process sends to PostgreSQL (tortoise's client and asyncpg's COPY)."""
    import asyncpg
    from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper

    def timed(cls: Any, name: str, label: Any) -> None:
        original = getattr(cls, name)

        async def run(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(self, first, *args, **kwargs)
            finally:
                entry = STATEMENTS.setdefault(label(first), [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - t0

        setattr(cls, name, run)

    for cls in (AsyncpgDBClient, TransactionWrapper):
        for name in ("execute_query", "execute_query_dict", "execute_many", "execute_script"):
            if name in vars(cls):
                timed(cls, name, lambda sql: " ".join(str(sql).split())[:100])
    timed(asyncpg.connection.Connection, "copy_records_to_table", lambda table: f"COPY {table}")


def show_statements(statements: dict[str, list[float]], label: str) -> None:
    for sql, (runs, seconds) in sorted(statements.items(), key=lambda kv: -kv[1][1])[:12]:
        console.print(f"{label}{seconds:8.2f}s {int(runs):6d}× {sql}")


async def count(status: str) -> int:
    rows = await fetch(connections.get("default"), "SELECT COUNT(*) AS n FROM entitlement WHERE queue_id = 'uq' AND status = ?", (status,))
    return int(rows[0]["n"])


async def drain_in_worker() -> None:
    """The day's settlement as a worker runs it: the `drain_queue` job of the union queue, its
    payout messages published on the run's own Redis (`workers.publish`)."""
    from redis.asyncio import Redis

    from workers.main import drain_queue
    from workers.publish import publisher

    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        await drain_queue({"redis": redis, "publish": publisher(redis)}, "uq")
    finally:
        await redis.aclose()


async def one_run(waiting: int, worker: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    await seed(waiting)
    console.print(f"seeded {waiting:,} WAITING entitlements in {time.perf_counter() - t0:.1f}s")
    ref = await reference(waiting)
    STATEMENTS.clear()  # --statements: the settlement's own
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, cpu0 = time.perf_counter(), time.process_time()
    await record(daily_settlement_event(NOW), NOW)
    await (drain_in_worker() if worker else settle_all())
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    statements = dict(STATEMENTS)
    paid = await count("COMPLETED")
    pools = await queries.pools()
    head = (await fetch(connections.get("default"), "SELECT head FROM queue WHERE id = 'uq'"))[0]["head"]
    await record(daily_settlement_event(NOW), NOW)
    await settle_all()
    return {"waiting": waiting, "worker": worker, "paid": paid, "seconds": elapsed, "cpu": cpu, "reference": ref, "chunk": CHUNK, "pool_left": str(pools["uq"]), "head": int(head),
            "again": await count("COMPLETED") - paid, "zero_sum": await queries.is_zero_sum(), "rss_mib": [rss_before // 1024, rss_after // 1024],
            "statements": statements}


def show(r: dict[str, Any], label: str = "") -> None:
    ref = r["reference"]
    where = " in a worker (payouts published)" if r.get("worker") else ""
    line = (f"{label}daily settlement{where}: {r['paid']:,} of {r['waiting']:,} paid in {r['seconds']:.1f}s ({r['paid'] / r['seconds']:,.0f}/s), "
            f"chunks of {r['chunk']:,}, pool left {r['pool_left']}, head {r['head']:,}, this process's CPU {r['cpu']:.1f}s")
    if ref is not None:
        total = ref["update"] + ref["insert"]
        line += (f"; reference (same database): UPDATE {r['waiting']:,} rows {ref['update']:.1f}s + INSERT {r['waiting']:,} ledger rows "
                 f"{ref['insert']:.1f}s = {total:.1f}s, ratio {r['seconds'] / total:.2f}")
    console.print(line)
    console.print(f"{label}peak RSS {r['rss_mib'][0]} MiB after seeding, {r['rss_mib'][1]} MiB after the settlement; "
                  f"same day again: {r['again']} more paid; zero-sum: {r['zero_sum']}")
    show_statements(r.get("statements", {}), label)


async def run_here(args: argparse.Namespace) -> None:
    results = []
    for _ in range(args.runs):
        async with bench_environment(args, redis=args.worker) as url:
            await fresh_database(url)
            results.append(await one_run(args.waiting, args.worker))
        if args.json:
            print(json.dumps(results[-1]), flush=True)
        else:
            show(results[-1])
    if args.runs > 1 and not args.json:
        summary([("this tree", results)])


def child(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One run of this script in a process of its own against the code of `tree`."""
    command = [str(tree / ".venv" / "bin" / "python"), str(Path(__file__).resolve()), "--waiting", str(args.waiting), "--runs", "1", "--json"]
    if args.database:
        command += ["--database", args.database]
    if args.statements:
        command += ["--statements"]
    if args.worker:
        command += ["--worker"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, stdout=subprocess.PIPE, check=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def compare(args: argparse.Namespace) -> None:
    here, base = Path(__file__).resolve().parent.parent, Path(args.baseline).resolve()
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this tree": []}
    for i in range(args.runs):
        for label, tree in (("baseline", base), ("this tree", here)):
            r = child(tree, args)
            runs[label].append(r)
            show(r, f"[{label} {i + 1}/{args.runs}] ")
    summary(list(runs.items()))


def summary(groups: list[tuple[str, list[dict[str, Any]]]]) -> None:
    table = Table(title=f"union queue daily settlement, medians of {len(groups[0][1])} interleaved runs")
    for column in ("code", "runs (s)", "median s", "paid/s", "reference s (update + insert)", "ratio"):
        table.add_column(column)
    medians = {}
    for label, results in groups:
        seconds = statistics.median(r["seconds"] for r in results)
        medians[label] = seconds
        refs = [r["reference"]["update"] + r["reference"]["insert"] for r in results if r["reference"]]
        ref = statistics.median(refs) if refs else None
        ratio = statistics.median(r["seconds"] / (r["reference"]["update"] + r["reference"]["insert"]) for r in results) if refs else None
        table.add_row(label, " ".join(f"{r['seconds']:.1f}" for r in results), f"{seconds:.1f}", f"{results[0]['paid'] / seconds:,.0f}",
                      f"{ref:.1f}" if ref else "-", f"{ratio:.2f}" if ratio else "-")
    Console(width=160).print(table)
    if "baseline" in medians:
        Console(width=160).print(f"speed-up: {medians['baseline'] / medians['this tree']:.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", metavar="DIR", help="a checkout of another revision (with its .venv): runs alternate between it and this tree")
    parser.add_argument("--json", action="store_true", help="one JSON line per run on stdout (what --baseline reads)")
    parser.add_argument("--statements", action="store_true", help="after each run, the statements that took the most time (PostgreSQL)")
    parser.add_argument("--worker", action="store_true",
                        help="run the day as a worker does (its drain job, payout messages published on a private Redis) instead of `settle_all`")
    add_arguments(parser, redis=True)
    args = parser.parse_args()
    if args.statements:
        time_statements()
    os.environ["BENCH_POSTGRES_URL"] = bench_server()  # each run's own database on this server (a run sets DATABASE_URL to its database)
    if args.baseline:
        compare(args)
    else:
        asyncio.run(run_here(args))


if __name__ == "__main__":
    main()
