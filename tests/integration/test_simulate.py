"""`rebate simulate` (SPEC I-4) as ops run it: temporary databases, deterministic with --seed,
--compare, --json, --plot, and --from-database reading the platform's settings without writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import catalog
from store.models import Event, ModelSettings, Transfer

ROOT = Path(__file__).resolve().parents[2]
REBATE = str(Path(sys.executable).parent / "rebate")
TEN, TWENTY = ROOT / "examples" / "simulate_extraction_10.jsonl", ROOT / "examples" / "simulate_extraction_20.jsonl"
SMALL = ["--days", "4", "--orders-per-day", "12", "--members", "15", "--amount", "uniform:50:300", "--referral", "tree:2"]


def simulate(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | ({"DATABASE_URL": database} if database else {})
    return subprocess.run([REBATE, "simulate", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_i4_deterministic_side_by_side_with_chart(tmp_path: Path):
    chart = tmp_path / "chart.svg"
    first = simulate(str(TEN), "--compare", str(TWENTY), *SMALL, "--seed", "3", "--json", "--plot", str(chart))
    assert first.returncode == 0, first.stderr
    again = simulate(str(TEN), "--compare", str(TWENTY), *SMALL, "--seed", "3", "--json")
    assert json.loads(first.stdout) == json.loads(again.stdout)
    ten, twenty = (run["days"] for run in json.loads(first.stdout)["runs"])
    assert [d["day"] for d in ten] == [1, 2, 3, 4] and all(d["new_entitlements"] == 12 for d in ten + twenty)
    assert sum(d["paid_entitlements"] for d in twenty) > sum(d["paid_entitlements"] for d in ten)  # twice the extraction pays faster
    assert float(twenty[-1]["liability"]) < float(ten[-1]["liability"])
    assert "<svg" in chart.read_text()
    other = simulate(str(TEN), *SMALL, "--seed", "4", "--json")
    assert json.loads(other.stdout)["runs"][0]["days"] != ten


def test_i4_table_and_refusals():
    table = simulate(str(TEN), "--days", "2", "--orders-per-day", "3", "--members", "3")
    assert table.returncode == 0 and "liability" in table.stdout and "net cash" in table.stdout
    bad = simulate(str(TEN), "--amount", "normal:1")
    assert bad.returncode == 1 and "INVALID_INPUT" in bad.stderr
    neither = simulate()
    assert neither.returncode == 1 and "settings file" in neither.stderr


@pytest.mark.usefixtures("db")
async def test_i4_from_database_reads_only(database: str):
    await catalog.set_settings("queue_rebate", {"enabled": True, "extraction_ratio": "20", "reward_ratio": "100", "mall_queue": True})
    await catalog.upsert_product("P1", "SELF_OPERATED", queue_rebate={"enabled": True})
    before = (await Event.all().count(), await Transfer.all().count(), await ModelSettings.all().count())
    done = simulate("--from-database", *SMALL, "--json", database=database)
    assert done.returncode == 0, done.stderr
    days = json.loads(done.stdout)["runs"][0]["days"]
    assert sum(d["paid_entitlements"] for d in days) > 0
    assert (await Event.all().count(), await Transfer.all().count(), await ModelSettings.all().count()) == before
