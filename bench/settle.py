"""Settlement benchmark (a script, not a test): prints figures and ratios.

    .venv/bin/python -m bench.settle [--orders 5000] [--ahead 1000 100000] [--database URL] [--redis URL]

It works on a database of its own (created on the server of BENCH_POSTGRES_URL or DATABASE_URL,
dropped after) and a private redis-server; --database / --redis name existing ones to WIPE
instead (bench/common.py). Figures:
  0. intake only (no worker running): orders/s recorded by concurrent clients, one per call and
     50 per call (`record` / `record_many`, what the mutations call);
  1. end to end, one hot queue: orders reported through the intake service (what the mutations
     call) by concurrent clients while real arq workers settle them; lines/s until all committed;
  2. the same spread over 100 queues (one product queue each);
  3. worker only: a backlog drained by one worker process;
  4. per-line cost with 1 000 vs 100 000 WAITING entitlements ahead (the ratio should be ~1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from tortoise import connections

from bench.common import add_arguments, bench_environment, free_port, fresh_database
from services import intake
from services.replay import Replay, settle_all
from services.runtime import redis_pool
from services.settlement import enqueue_drains, pending_queues
from store.sql import execute, execute_many

NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)
console = Console()


async def fresh(mall_queue: bool, products: int) -> None:
    await fresh_database(os.environ["DATABASE_URL"])
    replay = Replay()
    await replay.apply({"type": "settings", "model": "queue_rebate", "values": {"enabled": True, "extraction_ratio": "10", "reward_ratio": "100", "mall_queue": mall_queue}})
    for i in range(100):
        await replay.apply({"type": "member", "id": f"M{i}"})
    for p in range(products):
        await replay.apply({"type": "product", "id": f"P{p}", "source": "SELF_OPERATED", "queue_rebate": {"enabled": True}})


def order(i: int, lines: int, products: int) -> dict:
    return {"type": "order.paid", "key": f"o{i}:paid", "order": f"o{i}", "member": f"M{i % 100}", "channel": "MALL",
            "lines": [{"product": f"P{(i + k) % products}", "quantity": 1, "paid": "100.00"} for k in range(lines)]}


def start_workers(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "workers.run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


async def wait_drained() -> None:
    while await pending_queues():
        await asyncio.sleep(0.02)


async def report(orders: int, lines: int, products: int, clients: int, bulk: int, pool: Any = None) -> None:
    """`clients` concurrent clients report the orders, `bulk` per call, and enqueue their drains."""
    counter = iter(range(orders))

    async def client() -> None:
        while chunk := [i for _, i in zip(range(bulk), counter, strict=False)]:
            if bulk == 1:
                tickets = [await intake.record(order(chunk[0], lines, products), NOW)]
            else:
                tickets = [t for t in await intake.record_many([order(i, lines, products) for i in chunk], NOW) if isinstance(t, intake.Ticket)]
            if pool is not None:
                await enqueue_drains(pool, sorted({q for t in tickets for q in t.queues}))

    await asyncio.gather(*(client() for _ in range(clients)))


async def intake_only(orders: int, clients: int, bulk: int) -> float:
    """Orders/s recorded (1-line orders, one hot queue), nothing settling them meanwhile."""
    await fresh(mall_queue=True, products=1)
    t0 = time.perf_counter()
    await report(orders, 1, 1, clients, bulk)
    return orders / (time.perf_counter() - t0)


async def end_to_end(orders: int, lines: int, products: int, clients: int = 8, workers: int = 1, bulk: int = 1) -> float:
    """Concurrent clients report orders (intake + enqueue) while the workers settle them; with
    `bulk` > 1 each client reports that many orders per call (the `reportOrders` mutation)."""
    await fresh(mall_queue=products == 1, products=products)
    pool = await redis_pool()
    procs = start_workers(workers)
    await asyncio.sleep(2.0)  # worker start-up
    t0 = time.perf_counter()
    await report(orders, lines, products, clients, bulk, pool)
    reported = time.perf_counter() - t0
    await wait_drained()
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.terminate()
        p.wait()
    await pool.aclose()
    console.print(f"  reported {orders} orders in {reported:.2f}s, all settled after {elapsed:.2f}s")
    return orders * lines / elapsed


async def settle_only(orders: int, lines: int) -> float:
    """The settlement job's own rate on a backlog of one queue (in-process, no Redis round trips)."""
    await fresh(mall_queue=True, products=1)
    await intake.record_many([order(i, lines, 1) for i in range(orders)], NOW)
    t0 = time.perf_counter()
    await settle_all()
    return orders * lines / (time.perf_counter() - t0)


async def per_line_cost(ahead: int, lines: int = 2000) -> float:
    """Seconds per settled line with `ahead` WAITING entitlements in the queue before it."""
    await fresh(mall_queue=True, products=1)
    conn = connections.get("default")
    rows = [(f"seed{i}:0", "qr:MALL", i + 1, f"M{i % 100}", f"seed{i}", 0, 10_000_000, 0, "WAITING", False, "100", "bench", 10_000_000, NOW) for i in range(ahead)]
    for start in range(0, ahead, 20_000):
        await execute_many(conn, "INSERT INTO entitlement (key, model, queue_id, position, member_id, order_id, line, total_fen, received_fen, status, "
                           "order_completed, ratio, ratio_source, paid_fen, boost_fen, lottery_source, scope_key, created_at) "
                           "VALUES (?, 'queue_rebate', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', ?)", rows[start:start + 20_000])
    await execute(conn, "INSERT INTO queue (id, model, head, tail, pool_fen, version, state, updated_at) "
                  "VALUES ('qr:MALL', 'queue_rebate', 1, ?, 0, 0, '{}', CURRENT_TIMESTAMP)", (ahead,))
    await intake.record_many([order(i, 1, 1) for i in range(lines)], NOW)
    t0 = time.perf_counter()
    await settle_all()
    return (time.perf_counter() - t0) / lines


async def graphql_wallet_rps(seconds: float = 5.0) -> float | None:
    """Requests/s of the member wallet query against a uvicorn server (None when the API is absent)."""
    try:
        import httpx

        from api.app import create_app  # noqa: F401
    except ImportError:
        return None
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"])
    try:
        query = {"query": '{ member(id: "M1") { id wallets { cash points } } }'}
        headers = {"Authorization": "Bearer dev-admin"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            done, t0 = 0, time.perf_counter()

            async def hammer() -> None:
                nonlocal done
                while time.perf_counter() - t0 < seconds:
                    response = await client.post("/graphql", json=query)
                    assert response.status_code == 200 and "errors" not in response.json(), response.text
                    done += 1

            await asyncio.gather(*(hammer() for _ in range(16)))
            return done / (time.perf_counter() - t0)
    finally:
        server.terminate()
        server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--ahead", type=int, nargs=2, default=[1_000, 100_000])
    add_arguments(parser, redis=True)
    args = parser.parse_args()
    async with bench_environment(args, redis=True):
        await figures(args)


async def figures(args: argparse.Namespace) -> None:
    table = Table("figure", "value", title=f"Settlement benchmark on {os.environ['DATABASE_URL'].split(':')[0]}")
    console.print("0. intake only, one hot queue, 1-line orders, no worker running")
    table.add_row("intake only, 1 per call (8 clients), orders/s", f"{await intake_only(args.orders, 8, 1):,.0f}")
    table.add_row("intake only, 50 per call (4 clients), orders/s", f"{await intake_only(args.orders, 4, 50):,.0f}")
    console.print("1. end to end, one hot queue, 1-line orders, one order per call")
    table.add_row("hot queue, 1-line orders, 1 per call, lines/s", f"{await end_to_end(args.orders, 1, 1):,.0f}")
    console.print("1b. end to end, one hot queue, 1-line orders, 50 per call")
    table.add_row("hot queue, 1-line orders, 50 per call, lines/s", f"{await end_to_end(args.orders, 1, 1, clients=4, bulk=50):,.0f}")
    console.print("1c. end to end, one hot queue, 5-line orders, 50 per call")
    table.add_row("hot queue, 5-line orders, 50 per call, lines/s", f"{await end_to_end(args.orders // 5, 5, 1, clients=4, bulk=50):,.0f}")
    console.print("2. end to end, 100 product queues, 50 per call")
    table.add_row("100 queues, 1-line orders, 50 per call, lines/s", f"{await end_to_end(args.orders, 1, 100, clients=4, workers=2, bulk=50):,.0f}")
    console.print("3. settlement only, a backlog on one queue")
    table.add_row("hot queue backlog, settled lines/s (one process)", f"{await settle_only(args.orders, 1):,.0f}")
    small, large = args.ahead
    console.print(f"4. per-line cost with {small:,} and {large:,} waiting ahead")
    c_small, c_large = await per_line_cost(small), await per_line_cost(large)
    table.add_row(f"per-line cost, {small:,} ahead (ms)", f"{c_small * 1000:.3f}")
    table.add_row(f"per-line cost, {large:,} ahead (ms)", f"{c_large * 1000:.3f}")
    table.add_row("ratio large / small", f"{c_large / c_small:.2f}")
    try:
        rps = await graphql_wallet_rps()
        table.add_row("GraphQL wallet query, requests/s (16 clients)", "API not built" if rps is None else f"{rps:,.0f}")
    except AssertionError as exc:
        table.add_row("GraphQL wallet query", f"failed: {str(exc)[:80]}")
    console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
