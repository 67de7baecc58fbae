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
        logs.configure(log_format, log_level or os.environ.get("REBATE_LOG_LEVEL") or ("INFO" if log_format else "WARNING"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None


def main() -> None:
    app()
