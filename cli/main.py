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
        with file.open(encoding="utf-8") as lines:
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

    async def run() -> None:
        await init_db(migrate=True)
        await close_db()

    asyncio.run(run())
    console.print("migrations applied")


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


def main() -> None:
    app()
