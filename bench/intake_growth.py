"""Intake rate as the tables grow from empty (a script, not a test; issue 15, plans that stay good).

    .venv/bin/python -m bench.intake_growth [--events 500000] [--step 50000] [--per-call 50] [--clients 4]
                                            [--before [--before-events N] [--stop-below 0.4]]
                                            [--profile] [--database URL]

On a database of its own (bench/common.py), emptied and migrated, with autovacuum off for every
one of its tables (`ALTER TABLE … SET (autovacuum_enabled = false)`: nothing analyzes them while
they grow, as on a server without autovacuum), `--clients` concurrent clients record orders
through the real bulk intake (`intake.record_many`, what `reportOrders` calls), `--per-call`
events per call: half of them new paid orders, half the completions of the orders that client
paid in its previous call (so the stored-order lookups and locks run on grown tables too). It
prints the intake rate of every `--step` events, the first step as the reference and each step's
ratio to it (the last / first ratio should stay ≥ ~0.8), and the rows its sequential scans read
per event (pg_stat_user_tables): a lookup left on a sequential scan shows there whatever the
machine's load.

`--before` first runs the same phase with the old connection settings (PostgreSQL's default
`plan_cache_mode = auto`: after five executions a prepared statement may keep a generic plan made
while the tables were empty), then the project's own (`store.config.POSTGRES_SETTINGS`), each on a
freshly emptied database, so before and after are shown in one run (the old phase stops once a
step falls below `--stop-below` × its first step, or after `--before-events`). `--profile` adds, per phase,
the statements whose time per call grew most from the first step to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from tortoise import connections

from bench.common import add_arguments, bench_environment, fresh_database
from bench.statements import Statements, timed
from services import intake
from services.catalog import set_settings, upsert_member, upsert_product
from services.runtime import close_db, init_db
from store import config
from store.sql import execute, fetch

NOW = datetime(2026, 5, 1, 2, tzinfo=UTC)
MEMBERS = 25  # per client, its own (concurrent completions of one member's orders would contend on its per-day spend row)
console = Console()


async def prepare(url: str, clients: int) -> None:
    """Empty and migrate the database, autovacuum off for its tables, the catalog the orders use."""
    await fresh_database(url)
    conn = connections.get("default")
    for r in await fetch(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        await execute(conn, f'ALTER TABLE "{r["tablename"]}" SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)')
    await set_settings("queue_rebate", {"enabled": True, "extraction_ratio": "10", "reward_ratio": "100", "mall_queue": True}, NOW)
    for c in range(clients):
        for i in range(MEMBERS):
            await upsert_member(f"M{c}-{i}")
    await upsert_product("P1", "SELF_OPERATED", queue_rebate={"enabled": True})
    await close_db()


def paid(tag: str, member: str) -> dict[str, Any]:
    return {"type": "order.paid", "key": f"{tag}:paid", "order": tag, "member": member, "channel": "MALL",
            "lines": [{"product": "P1", "quantity": 1, "paid": "100.00"}]}


def completed(tag: str) -> dict[str, Any]:
    return {"type": "order.completed", "key": f"{tag}:completed", "order": tag}


async def seq_rows_read() -> int:
    """Rows read by sequential scans of this database's tables so far (pg_stat_user_tables)."""
    rows = await fetch(connections.get("default"), "SELECT COALESCE(SUM(seq_tup_read), 0) AS n FROM pg_stat_user_tables")
    return int(rows[0]["n"])


class Clients:
    """`clients` callers, each recording `per_call` events a call: new orders and the completions of
    its previous call's orders."""

    def __init__(self, clients: int, per_call: int) -> None:
        self.clients, self.half = clients, per_call // 2
        self.calls = [0] * clients

    def call(self, c: int) -> list[dict[str, Any]]:
        n = self.calls[c]
        self.calls[c] += 1
        new = [paid(f"c{c}-{n}-{i}", f"M{c}-{(n + i) % MEMBERS}") for i in range(self.half)]
        done = [completed(f"c{c}-{n - 1}-{i}") for i in range(self.half)] if n else [paid(f"c{c}-first-{i}", f"M{c}-{i % MEMBERS}") for i in range(self.half)]
        return new + done

    async def record(self, events: int) -> int:
        """About `events` events (whole calls, spread over the clients); returns how many."""
        per_client = -(-events // (self.clients * 2 * self.half))
        recorded = 0

        async def client(c: int) -> None:
            nonlocal recorded
            for _ in range(per_client):
                batch = self.call(c)
                tickets = await intake.record_many(batch, NOW)
                refused = [t for t in tickets if not isinstance(t, intake.Ticket)]
                assert not refused, refused[:3]
                recorded += len(batch)

        await asyncio.gather(*(client(c) for c in range(self.clients)))
        return recorded


async def phase(url: str, label: str, settings: dict[str, str], args: argparse.Namespace, floor: float = 0.0) -> list[tuple[int, float, Statements]]:
    """One run from empty to `args.events` events with these PostgreSQL connection settings:
    (events so far, events/s of the step, the step's statements) per step; it stops early once a
    step's rate falls below `floor` × the first step's (the old settings decay without end)."""
    saved = config.POSTGRES_SETTINGS
    config.POSTGRES_SETTINGS = settings
    try:
        await prepare(url, args.clients)
        await init_db(url)
        clients, total, steps = Clients(args.clients, args.per_call), 0, []
        limit = min(args.events, args.before_events) if label == "before" else args.events
        scanned = await seq_rows_read()
        while total < limit:
            profile = Statements()
            t0 = time.perf_counter()
            with timed(profile) if args.profile else nullcontext():
                done = await clients.record(min(args.step, limit - total))
            rate = done / (time.perf_counter() - t0)
            total += done
            steps.append((total, rate, profile))
            first = steps[0][1]
            await asyncio.sleep(1.2)  # the sessions' table statistics reach pg_stat at most once a second
            scanned, before = await seq_rows_read(), scanned
            console.print(f"  {label}: {total:>9,} events  {rate:8,.0f} events/s ({rate / 2:7,.0f} orders/s)  ×{rate / first:.2f} of the first step  "
                          f"{(scanned - before) / done:9,.1f} rows read by sequential scans per event", highlight=False)
            if rate < floor * first:
                console.print(f"  {label}: stopped below ×{floor} of the first step", highlight=False)
                break
        await close_db()
        return steps
    finally:
        config.POSTGRES_SETTINGS = saved


def grown(steps: list[tuple[int, float, Statements]], n: int = 5) -> list[str]:
    """The statements whose time per call grew most from the first step to the last."""
    first, last = steps[0][2], steps[-1][2]
    rows = []
    for k, seconds in last.seconds.items():
        if first.calls.get(k) and last.calls[k]:
            a, b = first.seconds[k] / first.calls[k], seconds / last.calls[k]
            rows.append((b / a if a else 0.0, a, b, k))
    return [f"    {a * 1e3:7.3f} → {b * 1e3:7.3f} ms per call  ×{r:.2f}  {k[:140]}" for r, a, b, k in sorted(rows, reverse=True)[:n]]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--step", type=int, default=50_000)
    parser.add_argument("--per-call", type=int, default=50, help="events per record_many call (half new orders, half completions)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--before", action="store_true", help="first the same run with the old connection settings (plan_cache_mode = auto)")
    parser.add_argument("--before-events", type=int, default=500_000, help="at most this many events in the --before phase")
    parser.add_argument("--stop-below", type=float, default=0.4, help="end the --before phase once a step runs below this ratio of its first step")
    parser.add_argument("--profile", action="store_true", help="time the statements of each step; show those that grew most")
    add_arguments(parser)
    args = parser.parse_args()
    async with bench_environment(args) as url:
        if not url.startswith("postgres"):
            raise SystemExit("the intake growth benchmark runs on PostgreSQL")
        phases = [("before", {"plan_cache_mode": "auto"})] if args.before else []
        phases.append(("after", dict(config.POSTGRES_SETTINGS)))
        results = {}
        for label, settings in phases:
            console.print(f"{label}: connection settings {settings or 'none'}", highlight=False)
            results[label] = await phase(url, label, settings, args, args.stop_below if label == "before" else 0.0)
            if args.profile:
                console.print("\n".join(grown(results[label])), highlight=False)
        table = Table("phase", "first step, events/s (reference)", "events reached", "last step, events/s", "last / first", "slowest step / first",
                      title=f"intake from empty to {args.events:,} events, {args.per_call} per call, {args.clients} clients, autovacuum off")
        for label, steps in results.items():
            first, last = steps[0][1], steps[-1][1]
            table.add_row(label, f"{first:,.0f}", f"{steps[-1][0]:,}", f"{last:,.0f}", f"{last / first:.2f}", f"{min(s[1] for s in steps) / first:.2f}")
        console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
