"""`rebate`: the ops CLI (SPEC I-4). `rebate replay FILE --json` is the contract of SPEC I-6."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.progress import open as progress_open
from rich.table import Table

app = typer.Typer(help="Rebate engine operations: replay event files, inspect state, check the ledger.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines event file (SPEC I-6)"),
    as_json: bool = typer.Option(False, "--json", help="print the resulting state as one JSON object"),
) -> None:
    """Feed a file of events to the engine and print the resulting state.

    With no DATABASE_URL it works on a fresh temporary SQLite database, never on real data.
    """
    with tempfile.TemporaryDirectory(prefix="rebate-replay-") as tmp:
        url = os.environ.get("DATABASE_URL") or f"sqlite://{Path(tmp) / 'replay.sqlite3'}"
        code, result = asyncio.run(_replay(file, url))
    if code:
        console.print(f"[red]{result}[/red]")
        raise typer.Exit(code)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_state(result)


async def _replay(file: Path, url: str) -> tuple[int, object]:
    from services.replay import Replay, ReplayError, state
    from services.runtime import close_db, init_db

    await init_db(url, migrate=True)
    try:
        with progress_open(file, encoding="utf-8", description=f"replay {file.name}", console=console, transient=True, disable=not console.is_terminal) as lines:
            await Replay().run(lines)
        return 0, await state()
    except ReplayError as exc:
        return 1, str(exc)
    finally:
        await close_db()


def _print_state(result: dict) -> None:  # type: ignore[type-arg]
    out = Console()
    wallets = Table("member", "cash", "points", "love (avail.)", "love (frozen)", "coupon", title="Wallets")
    for member, w in result["members"].items():
        wallets.add_row(member, w["cash"], w["points"], w["love_value_available"], w["love_value_frozen"], w["coupon"])
    out.print(wallets)
    ents = Table("key", "member", "model", "queue", "pos", "total", "received", "status", title="Entitlements")
    for e in result["entitlements"]:
        ents.add_row(e["key"], e["member"], e["model"], e["queue"], str(e["position"]), e["total"], e["received"], e["status"])
    out.print(ents)
    out.print("Pools:", result["pools"] or "none", "  zero-sum:", "[green]yes[/green]" if result["zero_sum"] else "[red]NO[/red]")


@app.command()
def migrate() -> None:
    """Apply pending database migrations (DATABASE_URL, or the embedded SQLite file)."""
    from services.runtime import close_db, init_db

    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("migrations", total=None)

        def follow(total: int | None, name: str | None) -> None:
            if total is not None:
                bar.update(task, total=total)
            if name is not None:
                bar.update(task, advance=1, description=name)

        async def run() -> None:
            await init_db(migrate=True, progress=follow)
            await close_db()

        asyncio.run(run())
        applied = int(bar.tasks[0].completed)
    console.print(f"migrations applied ({applied} new)" if applied else "migrations applied (none pending)")


@app.command("check-ledger")
def check_ledger() -> None:
    """Per asset: the sum of all balances and their drift from the transfers (both must be 0)."""
    from services import queries
    from services.runtime import close_db, init_db

    async def run() -> dict:  # type: ignore[type-arg]
        await init_db()
        try:
            return await queries.ledger_check()
        finally:
            await close_db()

    result = asyncio.run(run())
    table = Table("asset", "sum of balances", "drift from transfers")
    for asset, (total, drift) in sorted(result.items()):
        table.add_row(asset, str(total), str(drift))
    Console().print(table)
    if any(t != 0 or d != 0 for t, d in result.values()):
        raise typer.Exit(1)


@app.command()
def compliance(as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON.")) -> None:
    """DR-7: every setting of an enabled model beyond the compliance limits (WARN or OVERRIDDEN)."""
    from services import compliance as guard
    from services.runtime import close_db, init_db

    async def run() -> list[dict[str, str]]:
        await init_db()
        try:
            return [f.as_values() for f in await guard.report()]
        finally:
            await close_db()

    rows = asyncio.run(run())
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("model", "setting", "value", "limit", "status", title="Compliance (DR-7)")
    for r in rows:
        table.add_row(r["model"], r["setting"], r["value"], r["limit"], f"[yellow]{r['status']}[/]" if r["status"] == "WARN" else r["status"])
    Console().print(table if rows else "every setting is within the compliance limits")


@app.command()
def liabilities(as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """I-5: per queue and pool, outstanding entitlements, balances, trailing flows and the expected wait (DATABASE_URL)."""
    from datetime import UTC, datetime

    from services import liabilities as report
    from services.runtime import close_db, init_db

    async def run() -> list:  # type: ignore[type-arg]
        await init_db()
        try:
            return await report.report(datetime.now(UTC))
        finally:
            await close_db()

    rows = asyncio.run(run())
    if as_json:
        from dataclasses import asdict

        sys.stdout.write(json.dumps([asdict(r) for r in rows], default=str, indent=1) + "\n")
        return
    table = Table("queue / pool", "outstanding", "unpaid", "pool", "promised 7d", "paid 7d", "promised 30d", "paid 30d", "pool in 30d", "wait (days)",
                  title="Liabilities")
    for r in rows:
        f7, f30 = r.last_7_days, r.last_30_days
        wait = "-" if r.expected_wait_days is None else str(r.expected_wait_days)
        table.add_row(r.queue, str(r.outstanding), str(r.unpaid), str(r.pool), str(f7.promised), str(f7.paid), str(f30.promised), str(f30.paid), str(f30.pool_inflow), wait)
    Console().print(table)


@app.command()
def simulate(
    settings: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="JSON Lines of settings and catalog events (SPEC I-6)"),
    from_database: bool = typer.Option(False, "--from-database", help="read the current platform's settings and mall products from DATABASE_URL (read-only)"),
    compare: Path | None = typer.Option(None, "--compare", exists=True, dir_okay=False, help="other settings to run on the same flow, side by side"),
    days: int = typer.Option(30, "--days"),
    orders_per_day: int = typer.Option(50, "--orders-per-day"),
    members: int = typer.Option(200, "--members"),
    amount: str = typer.Option("uniform:50:500", "--amount", help="fixed:X, uniform:LOW:HIGH or lognormal:MEDIAN:SIGMA"),
    referral: str = typer.Option("none", "--referral", help="none, chain, tree:K or random:P"),
    seed: int = typer.Option(1, "--seed", help="the same seed gives the same flow and the same results"),
    as_json: bool = typer.Option(False, "--json", help="print the days as one JSON object"),
    plot: Path | None = typer.Option(None, "--plot", help="write a chart (.png or .svg)"),
) -> None:
    """Project settings over a synthetic order flow (SPEC I-4) on temporary databases, never on real data."""
    from domain.errors import DomainError
    from services.simulate import FlowSpec

    try:
        flow = FlowSpec(days=days, orders_per_day=orders_per_day, members=members, amount=amount, referral=referral, seed=seed)
        sources = [_settings_source(settings, from_database)] + ([_settings_source(compare, False)] if compare else [])
        runs = [(name, _simulate_run(events, flow, name)) for name, events in sources]
    except DomainError as exc:
        console.print(f"[red]{exc.code.value}: {exc.message}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        result = {"flow": _flow_json(flow), "runs": [{"settings": n, "days": [d.as_json() for d in ds]} for n, ds in runs]}
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_days(runs)
    if plot is not None:
        from cli.plot import plot_days

        plot_days(runs, plot)
        console.print(f"chart written to {plot}")


def _flow_json(flow: object) -> dict:  # type: ignore[type-arg]
    from dataclasses import asdict

    return asdict(flow)  # type: ignore[call-overload, no-any-return]


def _settings_source(path: Path | None, from_database: bool) -> tuple[str, list]:  # type: ignore[type-arg]
    from domain.errors import DomainError, ErrorCode

    if from_database:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise DomainError(ErrorCode.INVALID_INPUT, "--from-database needs DATABASE_URL")
        return "current platform", asyncio.run(_snapshot(url))
    if path is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "give a settings file or --from-database")
    events = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text.strip():
            try:
                events.append(json.loads(text))
            except json.JSONDecodeError as exc:
                raise DomainError(ErrorCode.INVALID_INPUT, f"{path}:{number}: not JSON: {exc.msg}") from None
    return path.stem, events


async def _snapshot(url: str) -> list:  # type: ignore[type-arg]
    from services.runtime import close_db, init_db
    from services.simulate import platform_snapshot

    await init_db(url)
    try:
        return await platform_snapshot()
    finally:
        await close_db()


def _simulate_run(events: list, flow: object, name: str) -> list:  # type: ignore[type-arg]
    from rich.progress import Progress

    from services.runtime import close_db, init_db
    from services.simulate import simulate as run

    async def go(url: str, advance: object) -> list:  # type: ignore[type-arg]
        await init_db(url, migrate=True)
        try:
            return await run(events, flow, advance)  # type: ignore[arg-type]
        finally:
            await close_db()

    with tempfile.TemporaryDirectory(prefix="rebate-simulate-") as tmp, Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"simulating {name}", total=flow.days)  # type: ignore[attr-defined]
        return asyncio.run(go(f"sqlite://{Path(tmp) / 'simulate.sqlite3'}", lambda done: progress.update(task, completed=done)))


def _print_days(runs: list) -> None:  # type: ignore[type-arg]
    out = Console() if sys.stdout.isatty() else Console(width=60 + 60 * len(runs))
    table = Table("day", title="Simulation" + (" (" + " | ".join(n for n, _ in runs) + ")" if len(runs) > 1 else f" ({runs[0][0]})"))
    columns = ("new", "paid", "liability", "pools", "wait (d)", "net cash")
    for name, _ in runs:
        for c in columns:
            table.add_column(f"{c}" if len(runs) == 1 else f"{name}: {c}", justify="right")
    for i in range(len(runs[0][1])):
        cells = [str(runs[0][1][i].day)]
        for _, days in runs:
            d = days[i]
            cells += [str(d.new_entitlements), str(d.paid_entitlements), str(d.liability), str(sum(d.pools.values())) if d.pools else "0",
                      "-" if d.wait_days is None else str(d.wait_days), str(d.net_cash)]
        table.add_row(*cells)
    out.print(table)


@app.command()
def failed(
    retry: int | None = typer.Option(None, "--retry", metavar="ID", help="put this FAILED item back to PENDING (after a fix)"),
    first: int = typer.Option(50, "--first", help="how many to list"),
    after: int = typer.Option(0, "--after", metavar="ID", help="list the items after this id"),
) -> None:
    """The inbox items settlement isolated as FAILED (their queues went on without them)."""
    from services import failures
    from services.runtime import close_db, init_db

    async def run() -> object:
        await init_db()
        try:
            return await failures.retry_failed(retry) if retry is not None else await failures.failed_items(after, first)
        finally:
            await close_db()

    result = asyncio.run(run())
    if retry is not None:
        if result is None:
            console.print(f"[red]no FAILED inbox item has the id {retry}[/red]")
            raise typer.Exit(1)
        console.print(f"item {retry} is PENDING again; the sweeper drains {result} within seconds")
        return
    table = Table("id", "queue", "event key", "type", "attempts", "failed at", "error (start)", title="FAILED inbox items")
    for r in result:  # type: ignore[attr-defined]
        table.add_row(str(r["id"]), r["queue_id"], r["event_key"], r["type"], str(r["attempts"]), str(r["failed_at"] or ""), _clip(r["error"] or "", 80))
    Console().print(table)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def token(
    kind: str = typer.Argument(..., metavar="member|merchant", help="member: that member's own data; merchant: that store's queues and payouts"),
    subject: str = typer.Argument(..., help="the member id, or the store id"),
    ttl: str = typer.Option("1h", "--ttl", help="lifetime: seconds, or with a unit s, m, h, d (e.g. 15m, 1h, 7d)"),
) -> None:
    """Issue a member or merchant token (a JWT signed with REBATE_JWT_ACTIVE_KID's key) and print it."""
    from services.tokens import Audience, issue_token, parse_ttl

    try:
        audience = Audience(kind)
        sys.stdout.write(issue_token(audience, subject, parse_ttl(ttl)) + "\n")
    except (ValueError, RuntimeError) as exc:
        message = f"{kind!r} is not member or merchant" if kind not in tuple(Audience) else str(exc)
        console.print(f"[red]{message}[/red]")
        raise typer.Exit(2) from None


@app.callback()
def options(
    log_format: str = typer.Option(None, "--log-format", help="text or json (one JSON object per line); also REBATE_LOG_FORMAT"),
    log_level: str = typer.Option(None, "--log-level", help="default WARNING (INFO with --log-format); also REBATE_LOG_LEVEL"),
) -> None:
    """Rebate engine operations: replay event files, inspect state, check the ledger."""
    from services import logs

    try:
        logs.log_format(log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None
    try:
        logs.configure(log_format, log_level or os.environ.get("REBATE_LOG_LEVEL") or ("INFO" if log_format else "WARNING"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None


def main() -> None:
    try:
        app()
    except Exception as exc:  # a database or Redis that cannot be reached: one line, status 1
        from services.runtime import StartupError

        if not isinstance(exc, StartupError):
            raise
        sys.exit(f"rebate: {exc}")
