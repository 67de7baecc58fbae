"""I-5 liability report on SQLite and PostgreSQL: read from the ledger and the kept counts, which
must agree with the entitlements themselves after every step."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services import liabilities, queries
from services.replay import Replay
from tests.integration.scenario import clock, exchange, member, paid, play_on, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


async def _agrees() -> None:
    """The trigger-kept counts equal a count of the entitlements (the test may scan; the report does not)."""
    counted: dict[str, int] = {}
    for e in await queries.entitlements():
        if e.status in ("WAITING", "ACTIVE"):
            counted[e.queue] = counted.get(e.queue, 0) + 1
    assert {r.queue: r.outstanding for r in await liabilities.report(NOW) if r.outstanding} == counted


async def test_i5_qr1_report():
    replay = Replay()
    await play_on(replay, clock("2026-01-01T10:00:00+08:00"), qr_settings(exchange_enabled=True, exchange_to=["POINTS"]), product("P1"),
                  *(member(m) for m in "ABCDE"), *(paid(f"o{m}", m, ("P1", "100.00")) for m in "ABCD"))
    [row] = await liabilities.report(NOW)
    assert (row.queue, row.outstanding, str(row.unpaid), str(row.pool)) == ("qr:MALL", 4, "370.00", "0.00")
    assert (str(row.last_7_days.promised), str(row.last_7_days.paid), str(row.last_30_days.paid)) == ("400.00", "30.00", "30.00")
    assert row.expected_wait_days == 87  # 370.00 at 4.28 a day (30.00 over 7 days, floored)
    await _agrees()
    r = await play_on(replay, exchange("x1", "oD:0", "POINTS"), paid("oE", "E", ("P1", "700.00")))  # pays A's 70: COMPLETED
    [row] = await liabilities.report(NOW)
    assert (row.outstanding, str(row.unpaid)) == (3, "900.00") and r["zero_sum"]  # B 100, C 100, E 700
    await _agrees()
    [later] = await liabilities.report(datetime(2026, 3, 1, tzinfo=UTC))
    assert (later.last_30_days.paid, later.expected_wait_days) == (0, None)  # nothing paid in the trailing month


def test_rebate_liabilities_cli(database: str):
    done = subprocess.run([str(Path(sys.executable).parent / "rebate"), "liabilities"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "DATABASE_URL": database, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "Liabilities" in done.stdout and "outstanding" in done.stdout


async def test_i5_flows_by_day_and_the_queue_page_agree_with_the_report():
    """The console's reads (liabilityDays, queueOverview) on each database, against the report."""
    await play_on(Replay(), clock("2026-01-01T10:00:00+08:00"), qr_settings(), product("P1"), product("P2"), *(member(m) for m in "ABC"),
                  paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")), paid("oC", "C", ("P1", "50.00")))
    days = await liabilities.by_day(NOW, 3)
    assert [d.day for d in days] == ["2025-12-30", "2025-12-31", "2026-01-01"]
    assert [(str(d.flow.promised), str(d.flow.paid)) for d in days] == [("0.00", "0.00"), ("0.00", "0.00"), ("250.00", "15.00")]
    # 10 % of each order into the pool; oB's 10.00 and oC's 5.00 paid to A, oA's own 10.00 to the platform (nobody waited before it)
    assert (str(days[2].flow.pool_inflow), str(days[2].flow.pool_payout)) == ("25.00", "25.00")
    assert [d.flow for d in await liabilities.by_day(NOW, 1, "qr:MALL")] == [days[2].flow]
    [row] = await liabilities.report(NOW)
    [queue] = await queries.queue_page("", 10)
    assert (queue["id"], queue["outstanding"], queue["unpaid"], queue["listed"]) == (row.queue, row.outstanding, row.unpaid, None)
    assert await queries.queue_page("qr:MALL", 10) == [] and await queries.queue_page("", 10, ["qr:STORE:S1"]) == []
