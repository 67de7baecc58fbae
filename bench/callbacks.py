"""Single-order payment callbacks end to end (a script, not a test): prints figures and ratios.

    .venv/bin/python -m bench.callbacks [--seconds 10] [--runs 3] [--callers 1 8 32] [--group-commit both|on|off]
                                        [--tree PATH] [--database URL] [--redis URL]

It works on a PostgreSQL database of its own and a private redis-server (bench/common.py). Each
run measures the reference first: `pgbench -n -c 1 -T 10 -f insert.sql` on a table of the
bench's database (one client, one INSERT per transaction). Then, for each group-commit mode
(REBATE_GROUP_COMMIT of the API process; `both` alternates their order from run to run), on a
fresh database it starts a real API (`uvicorn api.app:create_app --factory`) and a real worker
(`python -m workers`), and for 1, 8 and 32 concurrent callers posts `reportOrderPaid` (one
1-line order per call, one hot queue) for the given time, then waits until every
event is settled. Printed per mode and callers: settled orders/s (from the first call until
the last one settled), the mutation's p50 / p99 latency, and settled/s ÷ the pgbench rate of
the same run; with several runs, the medians. The callers post on plain keep-alive connections
(`KeepAlive`, asyncio streams), light next to what they measure; each phase also prints
its orders per settlement batch (the queues' fence versions, one per committed batch); `--client httpx` posts with
httpx instead (2.4–2.9 ms of this process's CPU per call against 0.2 ms: on a 2-core
machine the client then takes CPU from the API, the worker and PostgreSQL). `--tree` runs the
API and the worker from another checkout of the project (e.g. an export of main) against the same database and settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.common import add_arguments, bench_environment, free_port
from bench.queues import read_response
from bench.settle import fresh
from services.settlement import pending_queues

console = Console(width=220)
MUTATION = ("mutation Paid($input: OrderPaidInput!) { reportOrderPaid(input: $input) { ticket { id duplicate } errors { code field message } } }")
HEADERS = {"Authorization": "Bearer dev-admin"}
INSERT_SQL = "INSERT INTO bench_pgbench_insert (member, amount_fen) VALUES ('M1', 10000);\n"


@dataclass
class Phase:
    callers: int
    orders: int
    settled_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms: dict[str, float]  # CPU per settled order: api, worker, postgres (the database's backends), client (this process)
    group: float  # reports per intake transaction (the API's rebate_intake_group_reports; 1 without group commit)
    per_batch: float  # orders per settlement batch (the queues' fence versions: one a committed batch)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


async def backends(url: str) -> list[int]:
    """The PostgreSQL server processes of the bench's database (the API's and the worker's pools)."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return [r["pid"] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    finally:
        await conn.close()


async def batches(url: str) -> int:
    """Settlement batches committed so far: each advances its queue's version once."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SELECT COALESCE(SUM(version), 0) FROM queue"))
    finally:
        await conn.close()


async def cpu_sample(stack: Stack, url: str) -> dict[str, float]:
    pg = await backends(url)
    return {"api": cpu_seconds(stack.procs[0].pid), "worker": sum(cpu_seconds(p.pid) for p in stack.procs[1:]) + _children(stack.procs[1].pid),
            "postgres": sum(cpu_seconds(p) for p in pg), "client": time.process_time()}


def _children(pid: int) -> float:
    """CPU of a process's children (`python -m workers` runs arq's worker in the same process; none expected)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    return sum(cpu_seconds(int(k)) for k in kids)


async def pgbench_tps(url: str, seconds: int) -> float:
    """The physical reference: one pgbench client, one INSERT per transaction, on this database."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("CREATE TABLE bench_pgbench_insert (id bigserial PRIMARY KEY, member text NOT NULL, amount_fen bigint NOT NULL, "
                           "created_at timestamptz NOT NULL DEFAULT now())")
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "insert.sql"
            script.write_text(INSERT_SQL)
            done = await asyncio.create_subprocess_exec("pgbench", "-n", "-c", "1", "-T", str(seconds), "-f", str(script), url.replace("postgres://", "postgresql://", 1),
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await done.communicate()
        found = re.search(r"tps = ([0-9.]+)", out.decode())
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"pgbench failed: {err.decode()[-500:]}")
        return float(found.group(1))
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_pgbench_insert")
        await conn.close()


class Stack:
    """One API process and one worker on the bench's database and Redis."""

    def __init__(self, group_commit: bool, tree: Path | None) -> None:
        self.port = free_port()
        self.env = {**os.environ, "REBATE_GROUP_COMMIT": "on" if group_commit else "off", "PYTHONDONTWRITEBYTECODE": "1"}
        self.cwd = str(tree) if tree else None
        if tree:
            self.env["PYTHONPATH"] = str(tree)
        self.procs: list[subprocess.Popen[bytes]] = []

    async def __aenter__(self) -> Stack:
        api = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
               "--timeout-keep-alive", "120"]  # the callers' connections stay open while a phase settles
        for command in (api, [sys.executable, "-m", "workers"]):
            self.procs.append(subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.perf_counter() + 180  # a loaded machine imports slowly
        async with httpx.AsyncClient(base_url=self.url) as client:
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline or any(p.poll() is not None for p in self.procs):
                    await self.__aexit__()
                    raise RuntimeError(f"the API or the worker did not start (exit codes {[p.poll() for p in self.procs]})")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the worker's start-up
        return self

    async def __aexit__(self, *exc: object) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def paid_input(name: str, i: int) -> dict[str, Any]:
    return {"key": f"{name}-{i}:paid", "order": f"{name}-{i}", "member": f"M{i % 100}", "channel": "MALL", "lines": [{"product": "P0", "quantity": 1, "paid": "100.00"}]}


class KeepAlive:
    """One keep-alive HTTP/1.1 connection to the API on asyncio streams. A request on a connection
    the server closed meanwhile is sent once more on a new one (`retried` says so)."""

    def __init__(self, url: str) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.retried = False

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        request = b"POST %s HTTP/1.1\r\nHost: bench\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), head, len(body), body)
        self.retried = False
        for attempt in range(2):
            try:
                if self.streams is None:
                    self.streams = await asyncio.open_connection("127.0.0.1", self.port)
                reader, writer = self.streams
                writer.write(request)
                return await read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                await self.aclose()
                if attempt:
                    raise
                self.retried = True
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self.streams is not None:
            writer, self.streams = self.streams[1], None
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


class HttpxCaller:
    """The same calls through httpx (`--client httpx`), one client and connection per caller."""

    def __init__(self, url: str) -> None:
        self.client = httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=1), timeout=30)
        self.retried = False

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.retried = False
        try:
            response = await self.client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        except httpx.TransportError:
            self.retried = True
            response = await self.client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


Caller = KeepAlive | HttpxCaller


async def call(client: Caller, name: str, i: int) -> None:
    """One report; a connection the server closed meanwhile is retried once (then a replay may answer)."""
    status, raw = await client.post("/graphql", json.dumps({"query": MUTATION, "variables": {"input": paid_input(name, i)}}).encode(), HEADERS)
    body = json.loads(raw)
    payload = (body.get("data") or {}).get("reportOrderPaid")
    if status != 200 or not payload or payload["errors"] or (payload["ticket"]["duplicate"] and not client.retried):
        raise RuntimeError(f"reportOrderPaid failed: {raw[:300]!r}")


async def wait_settled(timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while await pending_queues():
        if time.perf_counter() > deadline:
            raise RuntimeError("not settled in time")
        await asyncio.sleep(0.01)


async def phase(stack: Stack, callers: int, seconds: float, name: str, url: str, client_kind: str = "keepalive") -> Phase:
    """`callers` concurrent callers for `seconds`, then until everything they reported settled.
    Each caller has its own connection (this client shares the machine with what it measures)."""
    kind = KeepAlive if client_kind == "keepalive" else HttpxCaller
    clients: list[Caller] = [kind(stack.url) for _ in range(callers)]
    try:
        for i, client in enumerate(clients):  # one warm connection per caller
            await call(client, f"{name}-warm", i)
        await wait_settled()
        groups_before = await group_counts(stack.url)
        batches_before = await batches(url)
        before = await cpu_sample(stack, url)
        latencies: list[float] = []
        counter = iter(range(10**9))
        t0 = time.perf_counter()
        stop = t0 + seconds

        async def caller(client: Caller) -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                await call(client, name, next(counter))
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(caller(c) for c in clients))
        await wait_settled()
        elapsed = time.perf_counter() - t0
        after = await cpu_sample(stack, url)
        groups_after = await group_counts(stack.url)
        batches_after = await batches(url)
    finally:
        for client in clients:
            await client.aclose()
    cuts = statistics.quantiles(latencies, n=100)
    cpu = {k: (after[k] - before[k]) * 1000 / len(latencies) for k in before}
    reports, groups = (a - b for a, b in zip(groups_after, groups_before, strict=True))
    return Phase(callers, len(latencies), len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, cpu, reports / groups if groups else 1.0,
                 len(latencies) / max(1, batches_after - batches_before))


async def group_counts(url: str) -> tuple[float, float]:
    """(reports, groups) the API's group commit recorded so far, from its /metrics."""
    async with httpx.AsyncClient(base_url=url) as client:
        text = (await client.get("/metrics")).text
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"^rebate_intake_group_reports_(sum|count) ([0-9.e+]+)$", text, re.M)}
    return found.get("sum", 0.0), found.get("count", 0.0)


async def measure(mode: bool, args: argparse.Namespace, run: int, url: str) -> list[Phase]:
    await fresh(mall_queue=True, products=1)
    async with Stack(mode, args.tree) as stack:
        out = []
        for callers in args.callers:
            result = await phase(stack, callers, args.seconds, f"r{run}-{'g' if mode else 's'}-{callers}", url, args.client)
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in result.cpu_ms.items())
            console.print(f"  run {run + 1}, group commit {'on' if mode else 'off'}, {callers} callers: {result.orders} orders, "
                          f"{result.settled_per_s:,.0f} settled/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.group:.1f} per group, "
                          f"{result.per_batch:.1f} per batch; CPU ms per order: {cpu}")
            out.append(result)
        return out


async def figures(args: argparse.Namespace, url: str) -> None:
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.group_commit]
    references: list[float] = []
    results: dict[tuple[bool, int], list[tuple[Phase, float]]] = {}
    for run in range(args.runs):
        tps = await pgbench_tps(url, args.pgbench_seconds)
        references.append(tps)
        console.print(f"run {run + 1}: pgbench 1-client INSERT {tps:,.0f} tps")
        for mode in modes if run % 2 == 0 else modes[::-1]:  # interleaved: the order alternates
            for p in await measure(mode, args, run, url):
                results.setdefault((mode, p.callers), []).append((p, p.settled_per_s / tps))
    table = Table("group commit", "callers", "settled/s", "p50 ms", "p99 ms", "CPU ms/order api+worker+pg", "pgbench tps", "ratio settled / pgbench",
                  title=f"reportOrderPaid end to end, medians of {args.runs} interleaved runs")
    for (mode, callers), rows in sorted(results.items()):
        table.add_row("on" if mode else "off", str(callers), f"{statistics.median(p.settled_per_s for p, _ in rows):,.0f}",
                      f"{statistics.median(p.p50_ms for p, _ in rows):.1f}", f"{statistics.median(p.p99_ms for p, _ in rows):.1f}",
                      " + ".join(f"{statistics.median(p.cpu_ms[k] for p, _ in rows):.2f}" for k in ("api", "worker", "postgres")),
                      f"{statistics.median(references):,.0f}", f"{statistics.median(r for _, r in rows):.2f}")
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the callers call, per phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--group-commit", choices=["both", "on", "off"], default="both")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--client", choices=["keepalive", "httpx"], default="keepalive", help="how the callers post (keepalive: plain HTTP/1.1 on asyncio streams)")
    parser.add_argument("--tree", type=Path, help="run the API and the worker from this checkout of the project")
    add_arguments(parser, redis=True)
    args = parser.parse_args()
    async with bench_environment(args, redis=True) as url:
        if not url.startswith("postgres"):
            sys.exit("bench.callbacks needs PostgreSQL (the pgbench reference)")
        await figures(args, url)


if __name__ == "__main__":
    asyncio.run(main())
