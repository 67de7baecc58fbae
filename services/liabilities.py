"""I-5 liability report: per queue and per pool, what is still owed and how fast it is paid.

Read from the ledger only: the liability account of a queue (ENTITLEMENT: promised, not yet paid),
its pool (CNY), the count of outstanding (WAITING / ACTIVE) entitlements kept by triggers, and the per-day inflow / outflow of those
accounts kept beside the transfers (`ledger_day`). Nothing scans entitlements, so the report is
cheap enough for every metrics scrape. The expected wait is that of the last WAITING entitlement:
what is owed beyond the pool, divided by the trailing average of the daily payouts (7 days,
else 30), rounded up; None when nothing has been paid in that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.money import ZERO, from_fen
from domain.union_queue import average_daily_inflow, forecast_days
from store import liabilities as store

WINDOWS = (7, 30)


@dataclass(frozen=True, slots=True)
class Flow:
    """What a window's days brought in and paid out."""

    promised: Decimal  # new entitlements (the liability's inflow)
    paid: Decimal  # what left the liability: payouts (and exchanges, forfeits)
    pool_inflow: Decimal
    pool_payout: Decimal


@dataclass(frozen=True, slots=True)
class Liability:
    queue: str
    outstanding: int  # WAITING (and the order dividend's ACTIVE) entitlements
    unpaid: Decimal
    pool: Decimal
    last_7_days: Flow
    last_30_days: Flow
    expected_wait_days: int | None

    @property
    def net(self) -> Decimal:
        """Owed beyond what the pool already holds."""
        return max(self.unpaid - self.pool, ZERO)


def _flows(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    return {(str(r["account"]), str(r["asset"])): (from_fen(int(r["inflow"] or 0)), from_fen(int(r["outflow"] or 0))) for r in rows}


async def report(now: datetime) -> list[Liability]:
    """One row per queue or pool that ever held anything, by name."""
    balances = {(str(r["account"]), str(r["asset"])): from_fen(int(r["amount_fen"])) for r in await store.tracked_balances()}
    counts = await store.waiting_counts()
    today = now.astimezone(UTC).date()
    windows = {days: _flows(await store.flows_since((today - timedelta(days=days - 1)).isoformat())) for days in WINDOWS}
    names = sorted({a.split(":", 1)[1] for a, _ in balances} | set(counts) | {a.split(":", 1)[1] for w in windows.values() for a, _ in w})
    out = []
    for name in names:
        flows = {days: _flow(w, name) for days, w in windows.items()}
        unpaid, pool = balances.get((f"liability:{name}", "ENTITLEMENT"), ZERO), balances.get((f"pool:{name}", "CNY"), ZERO)
        rate = next((average_daily_inflow([flows[d].paid] + [ZERO] * (d - 1)) for d in WINDOWS if flows[d].paid > 0), ZERO)
        out.append(Liability(name, counts.get(name, 0), unpaid, pool, flows[7], flows[30], forecast_days(max(unpaid - pool, ZERO), rate)))
    return out


def _flow(window: dict[tuple[str, str], tuple[Decimal, Decimal]], name: str) -> Flow:
    promised, paid = window.get((f"liability:{name}", "ENTITLEMENT"), (ZERO, ZERO))
    pool_in, pool_out = window.get((f"pool:{name}", "CNY"), (ZERO, ZERO))
    return Flow(promised, paid, pool_in, pool_out)


def _slot(account: str, asset: str) -> int | None:
    """Where a tracked account's (inflow, outflow) go in a summed Flow: 0 a liability, 2 a pool."""
    return 0 if account.startswith("liability:") and asset == "ENTITLEMENT" else 2 if account.startswith("pool:") and asset == "CNY" else None


async def day_flow(now: datetime) -> Flow:
    """What every liability and pool brought in and paid out on the UTC day of `now`, summed."""
    window = _flows(await store.flows_since(now.astimezone(UTC).date().isoformat()))
    total = [ZERO, ZERO, ZERO, ZERO]
    for (account, asset), (inflow, outflow) in window.items():
        if (at := _slot(account, asset)) is not None:
            total[at] += inflow
            total[at + 1] += outflow
    return Flow(*total)


@dataclass(frozen=True, slots=True)
class DayFlow:
    """One UTC day's flows (every queue's summed, or one queue's)."""

    day: str
    flow: Flow


async def by_day(now: datetime, days: int, queue: str | None = None) -> list[DayFlow]:
    """The last `days` UTC days up to the day of `now`, oldest first, each day present (zero
    when nothing moved): what the liabilities promised and paid and the pools took in and paid out."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    sums = {(first + timedelta(days=d)).isoformat(): [ZERO, ZERO, ZERO, ZERO] for d in range(days)}
    for r in await store.flows_by_day(first.isoformat(), queue):
        total, at = sums.get(str(r["day"])), _slot(str(r["account"]), str(r["asset"]))
        if total is not None and at is not None:
            total[at] += from_fen(int(r["inflow"] or 0))
            total[at + 1] += from_fen(int(r["outflow"] or 0))
    return [DayFlow(day, Flow(*total)) for day, total in sums.items()]
