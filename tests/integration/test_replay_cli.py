"""`rebate replay FILE --json` (SPEC I-4, I-6) as ops run it: the console script, a fresh temporary
database when DATABASE_URL is unset, the shipped seed examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REBATE = str(Path(sys.executable).parent / "rebate")


def replay(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run([REBATE, "replay", str(path), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def replay_json(name: str) -> dict:
    done = replay(ROOT / "examples" / name, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ca_seed004_example_file():
    """I-7: the appreciation points per member and the pool (pool, circulating, price)."""
    r = replay_json("ca_seed004_appreciation.jsonl")
    assert {m: (w["appreciation_points"], w["cash"]) for m, w in r["members"].items()} == {
        "A": ("0.00", "2400.00"), "B": ("0.00", "2400.00"), "C": ("0.00", "2520.00"), "D": ("8.33", "0.00")}
    assert r["appreciation"] == {"pool": "930.00", "circulating": "8.33", "price": "111.64"} and r["zero_sum"] is True


def test_qr1_example_file():
    r = replay_json("qr1_seed000_queue.jsonl")
    assert {m: w["cash"] for m, w in r["members"].items()} == {"A": "30.00", "B": "0.00", "C": "0.00", "D": "0.00"}
    assert r["entitlements"][0] == {"key": "oA:0", "member": "A", "model": "queue_rebate", "queue": "qr:MALL", "position": 1,
                                    "total": "100.00", "received": "30.00", "status": "WAITING"}
    assert r["pools"] == {"qr:MALL": "0.00"} and r["zero_sum"] is True


def test_qr2_example_file():
    r = replay_json("qr2_seed000_168_at_130.jsonl")
    assert r["members"]["A"]["cash"] == "218.40" and r["entitlements"][0]["status"] == "COMPLETED"


def test_od5_example_file():
    r = replay_json("od5_seed002_order_dividend.jsonl")
    assert [r["members"][m]["cash"] for m in "ABCR"] == ["300.00", "300.00", "300.00", "360.00"] and r["pools"] == {"od": "0.00"}


def test_uq3_example_file():
    r = replay_json("uq3_union_queue_daily.jsonl")
    assert [r["members"][m]["cash"] for m in "ABC"] == ["1100.00", "1100.00", "0.00"] and r["pools"] == {"uq": "200.00"} and r["zero_sum"]


def test_a_bad_event_stops_the_replay_with_its_line_and_typed_error(tmp_path: Path):
    lines = (ROOT / "examples" / "qr1_seed000_queue.jsonl").read_text().splitlines()
    bad = json.loads(lines[-1]) | {"key": "oE:paid", "order": "oE", "member": "NOBODY"}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    done = replay(path, "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert f"line {len(lines) + 1}: UNKNOWN_MEMBER" in done.stderr


@pytest.mark.parametrize("text", ['{"type":"order.paid"', '{"type":"settings","model":"queue_rebate","values":{"extraction_ratio":"101"}}'])
def test_malformed_lines_are_refused(tmp_path: Path, text: str):
    path = tmp_path / "bad.jsonl"
    path.write_text(text + "\n")
    done = replay(path)
    assert done.returncode == 1 and "line 1:" in done.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.jsonl")))
async def test_every_example_replays_to_the_same_state_on_mariadb_as_on_the_embedded_default(name: str):
    """MySQL / MariaDB as a production database gives the very output of SQLite (the lottery's
    draws seeded alike on both)."""
    from tests.conftest import create_postgres_database, drop_postgres_database, mysql_or_skip

    server = mysql_or_skip()
    url = await create_postgres_database(server, f"replay_{name.split('_')[0]}")
    try:
        outputs = []
        for database in (url, None):
            env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"REBATE_RANDOM_SEED": "examples"} | ({"DATABASE_URL": database} if database else {})
            done = subprocess.run([REBATE, "replay", str(ROOT / "examples" / name), "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
            assert done.returncode == 0, done.stderr
            outputs.append(json.loads(done.stdout))
        assert outputs[0] == outputs[1]
    finally:
        await drop_postgres_database(server, url)
