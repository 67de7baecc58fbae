"""Many queues against one hot queue, and the wallet query against `{ __typename }` (a script, not a test).

    .venv/bin/python -m bench.queues [--runs 3] [--orders 20000] [--workers 1 2] [--baseline DIR] [--seconds 4] [--members 1]

Each run measures, each figure in a process of its own on a database and a Redis of its own
(bench/common.py), each against its reference measured in the same run:
  - settlement: `reportOrders`' load (`intake.record_many`, 50 orders per call, 4 concurrent
    clients, 1-line orders, each call followed by its drains' enqueue) while real worker
    processes (`python -m workers.run`) settle it; settled lines/s until every item is
    committed, on one hot queue (the mall queue) and spread over 100 product queues, with the
    same number of workers; the ratio 100 queues / hot queue;
  - reads: one uvicorn process serving the app; 16 concurrent keep-alive clients (a plain
    HTTP/1.1 client on asyncio streams, light enough not to be the bottleneck) post the member
    wallet query, then `{ __typename }`, in alternating slices; requests/s of each, their ratio
    (`--members N`: the clients ask for N different members, each with balances, instead of M1).

With `--baseline DIR` (a worktree of another commit with its own .venv) every run measures that
code too, interleaved with this one (baseline, this, baseline, this…), and the table shows both;
this script drives the other tree's code from the outside only (its intake, workers and API).
Medians over the runs; machine load is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
TREE = HERE.parent.parent
WALLET_QUERY = '{ member(id: "%s") { id wallets { cash points loveValueAvailable coupon } } }'
TYPENAME_QUERY = "{ __typename }"


# --- one figure, in a child process (run with the measured tree's python and code) -------------

async def settle_figure(products: int, orders: int, workers: int) -> float:
    from bench.common import bench_environment
    from bench.settle import end_to_end

    args = argparse.Namespace(database=None, redis=None)
    async with bench_environment(args, redis=True):
        return await end_to_end(orders, 1, products, clients=4, workers=workers, bulk=50)


async def reads_figure(seconds: float, slices: int, members: int = 1) -> dict[str, float]:
    """Requests/s of the wallet query and of `{ __typename }` against one uvicorn process; the
    16 clients ask for `members` different members (client i for M(1 + i mod members))."""
    from bench.common import bench_environment, free_port
    from bench.settle import fresh

    args = argparse.Namespace(database=None, redis=None)
    async with bench_environment(args, redis=True):
        await fresh(mall_queue=True, products=1)
        await _seed_balances(members)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await _wait_healthy(port)
            done = {"wallet": 0, "typename": 0}
            spent = {"wallet": 0.0, "typename": 0.0}
            wallet = [WALLET_QUERY % f"M{1 + i}" for i in range(members)]
            for queries in (wallet, [TYPENAME_QUERY]):
                await _hammer(port, queries, 0.5)  # warm-up (caches, prepared statements, pool)
            for _ in range(slices):
                for name, queries in (("wallet", wallet), ("typename", [TYPENAME_QUERY])):
                    n, dt = await _hammer(port, queries, seconds / slices)
                    done[name] += n
                    spent[name] += dt
            return {name: done[name] / spent[name] for name in done}
        finally:
            server.terminate()
            server.wait()


async def _seed_balances(members: int) -> None:
    """M1..M<members> have something in their wallets (the query then reads real rows)."""
    from tortoise import connections

    from store.sql import execute_many

    await execute_many(connections.get("default"), "INSERT INTO balance (account, asset, amount_fen) VALUES (?, ?, ?)",
                       [row for i in range(1, members + 1) for row in ((f"member:M{i}:CASH", "CNY", 12345 + i), (f"member:M{i}:POINTS", "POINTS", 600 + i))])


async def _wait_healthy(port: int) -> None:
    for _ in range(600):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            status, _ = await read_response(reader)
            writer.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length (what the API sends): (status, body). Here, not
    in bench/common.py: a child of this script runs against another tree's bench package."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return int(lines[0].split(" ")[1]), await reader.readexactly(length)


async def _hammer(port: int, queries: list[str], seconds: float, clients: int = 16) -> tuple[int, float]:
    """`clients` keep-alive connections post their query (client i: queries[i mod len]) until
    `seconds` are up; (responses, elapsed)."""
    done = 0
    t0 = time.perf_counter()

    async def client(query: str) -> None:
        nonlocal done
        body = json.dumps({"query": query}).encode()
        request = (b"POST /graphql HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer dev-admin\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() - t0 < seconds:
                writer.write(request)
                status, payload = await read_response(reader)
                if status != 200 or b'"errors"' in payload:
                    raise RuntimeError(f"{status}: {payload[:200]!r}")
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(queries[i % len(queries)]) for i in range(clients)))
    return done, time.perf_counter() - t0


def child(argv: list[str]) -> None:
    """`--child settle PRODUCTS ORDERS WORKERS` or `--child reads SECONDS SLICES MEMBERS`: prints one JSON line."""
    kind, *rest = argv
    if kind == "settle":
        value: Any = asyncio.run(settle_figure(int(rest[0]), int(rest[1]), int(rest[2])))
    else:
        value = asyncio.run(reads_figure(float(rest[0]), int(rest[1]), int(rest[2])))
    print("RESULT " + json.dumps(value), flush=True)


# --- the driver ---------------------------------------------------------------------------------

def measure(tree: Path, *args: str) -> Any:
    python = tree / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([str(python), str(HERE), "--child", *args], cwd=tree, env=env, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{tree}: {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(found[-1].removeprefix("RESULT "))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders", type=int, default=20000, help="orders per settlement figure (5 000 took about 2 s a figure: the machine's noise then decided the ratio)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes (each count: hot and 100 queues)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per query and run, in alternating slices")
    parser.add_argument("--baseline", metavar="DIR", help="a worktree of the code to compare with (its own .venv)")
    parser.add_argument("--only", choices=["settle", "reads"], help="one half of the figures")
    parser.add_argument("--members", type=int, default=1, choices=range(1, 17), metavar="1..16",
                        help="reads: how many different members the 16 clients ask for (default 1: all ask for M1)")
    args = parser.parse_args()
    trees = ([("baseline", Path(args.baseline).resolve())] if args.baseline else []) + [("this", TREE)]
    figures: dict[tuple[str, str], list[float]] = {}
    print(f"load average before: {load()}", flush=True)
    for run in range(args.runs):
        for label, tree in trees:
            got: dict[str, float] = {}
            if args.only != "settle":
                reads = measure(tree, "reads", str(args.seconds), "4", str(args.members))
                got |= {"wallet query, req/s": reads["wallet"], "{ __typename }, req/s": reads["typename"],
                        "ratio wallet / __typename": reads["wallet"] / reads["typename"]}
            if args.only != "reads":
                for workers in args.workers:
                    hot = measure(tree, "settle", "1", str(args.orders), str(workers))
                    spread = measure(tree, "settle", "100", str(args.orders), str(workers))
                    got |= {f"hot queue, lines/s ({workers} worker)": hot, f"100 queues, lines/s ({workers} worker)": spread,
                            f"ratio 100 queues / hot ({workers} worker)": spread / hot}
            for name, value in got.items():
                figures.setdefault((label, name), []).append(value)
            print(f"run {run + 1} {label}: " + ", ".join(f"{k} {v:,.2f}" for k, v in got.items()) + f" (load {load()})", flush=True)
    print(f"load average after: {load()}")
    names = list(dict.fromkeys(name for _, name in figures))
    header = f"{'figure (median of ' + str(args.runs) + ' interleaved runs)':<48}" + "".join(f"{label:>14}" for label, _ in trees)
    print(header)
    for name in names:
        print(f"{name:<48}" + "".join(f"{statistics.median(figures[(label, name)]):>14,.2f}" for label, _ in trees))


if __name__ == "__main__":
    main()
