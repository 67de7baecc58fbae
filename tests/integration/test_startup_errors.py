"""A process that cannot start says why in one line and exits non-zero, without a traceback: the
API, the worker and `rebate migrate` / `rebate replay` with an unreachable, unknown or missing
database; the API with an unreachable Redis; production without its keys (also through `./run`).

Each test starts the real process; the database servers are the tests' own PostgreSQL (a database
name that does not exist, never created) and closed ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("REBATE_")}
    env["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"  # never the tests' Redis: the database fails first
    return env | extra


def commands(tmp_path: Path) -> dict[str, list[str]]:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    return {
        "api": [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(closed_port())],
        "worker": [sys.executable, "-m", "workers"],
        "migrate": [str(BIN / "rebate"), "migrate"],
        "replay": [str(BIN / "rebate"), "replay", str(events)],
    }


def start(command: list[str], env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line(stderr: str, needle: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if needle in line]
    assert len(lines) == 1, stderr
    return lines[0]


UNREACHABLE = "postgres://postgres:s3cret@127.0.0.1:{port}/rebate"


@pytest.mark.parametrize("process", ["api", "worker", "migrate", "replay"])
@pytest.mark.parametrize("case", ["unreachable", "unknown scheme", "missing database"])
def test_a_database_that_cannot_be_opened_is_one_line_and_a_failure(process, case, tmp_path):
    url, reason = {
        "unreachable": (UNREACHABLE.format(port=closed_port()), "111"),
        "unknown scheme": ("foo://x", "Unknown DB scheme: foo"),
        "missing database": (f"postgres://postgres@127.0.0.1:5432/rebate_missing_{uuid.uuid4().hex[:12]}", "does not exist"),
    }[case]
    done = start(commands(tmp_path)[process], environment(DATABASE_URL=url))
    assert done.returncode != 0, done.stderr
    line = one_line(done.stderr, "cannot open the database")
    assert reason in line, line
    assert "s3cret" not in done.stderr + done.stdout
    if case == "unreachable":
        assert "postgres://postgres:***@127.0.0.1" in line


@pytest.mark.parametrize("burst", [False, True])
@pytest.mark.parametrize(("name", "value", "says"), [
    ("REBATE_KEEP_STATISTICS", "maybe", "REBATE_KEEP_STATISTICS must be on or off, not 'maybe'"),
    ("REBATE_WORKER_METRICS_PORT", "http", "REBATE_WORKER_METRICS_PORT must be a port number from 0 to 65535, not 'http'"),
    ("REBATE_SETTLE_LINGER_MS", "2s", "REBATE_SETTLE_LINGER_MS must be milliseconds from 0 to 1000, not '2s'"),
])
def test_a_worker_with_a_bad_setting_does_not_start(burst, name, value, says, tmp_path):
    """`python -m workers` (supervised) checks them before anything else, and so with `--burst`."""
    env = environment(DATABASE_URL=f"sqlite://{tmp_path / 'w.sqlite3'}", **{name: value})
    done = start([*commands(tmp_path)["worker"], *(["--burst"] if burst else [])], env)
    assert done.returncode != 0, done.stderr
    assert one_line(done.stderr, name) == f"worker: {says}"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("REBATE_GROUP_COMMIT", "maybe", "REBATE_GROUP_COMMIT must be on or off, not 'maybe'"),
    ("REBATE_GROUP_COMMIT_MAX", "0", "REBATE_GROUP_COMMIT_MAX must be a whole number of reports from 1, not '0'"),
    ("REBATE_GROUP_COMMIT_WAIT_MS", "-5", "REBATE_GROUP_COMMIT_WAIT_MS must be milliseconds from 0 to 10000, not '-5'"),
    ("REBATE_PREPARED", "of", "REBATE_PREPARED must be on or off, not 'of'"),
    ("REBATE_MAX_BODY", "1MB", "REBATE_MAX_BODY must be a whole number of bytes from 1, not '1MB'"),
])
def test_the_api_with_a_bad_setting_does_not_start(name, value, says, tmp_path):
    env = environment(DATABASE_URL=f"sqlite://{tmp_path / 'api.sqlite3'}", **{name: value})
    done = start(commands(tmp_path)["api"], env)
    assert done.returncode != 0, done.stderr
    assert one_line(done.stderr, name) == f"api: {says}: not starting"


@pytest.mark.parametrize("process", ["api", "worker"])
@pytest.mark.parametrize(("name", "value", "says"), [
    ("REBATE_LOG_FORMAT", "xml", "log format 'xml': one of text, json"),
    ("REBATE_LOG_LEVEL", "loud", "log level 'loud': one of debug, info, warning, error, critical"),
])
def test_a_bad_log_setting_is_one_line_and_a_failure(process, name, value, says, tmp_path):
    env = environment(DATABASE_URL=f"sqlite://{tmp_path / 'p.sqlite3'}", **{name: value})
    done = start(commands(tmp_path)[process], env)
    assert done.returncode != 0, done.stderr
    assert one_line(done.stderr, "log ") == (f"api: {says}: not starting" if process == "api" else f"worker: {says}")


@pytest.mark.parametrize(("option", "says"), [("--log-format", "log format 'xml'"), ("--log-level", "log level 'xml'")])
def test_the_cli_names_the_bad_log_option(option, says, tmp_path):
    done = start([str(BIN / "rebate"), option, "xml", "failed"], environment(DATABASE_URL=f"sqlite://{tmp_path / 'c.sqlite3'}", COLUMNS="200"))
    assert done.returncode == 2, done.stderr
    assert f"Invalid value for {option}: {says}" in done.stderr, done.stderr


def test_the_api_with_an_unreachable_redis_is_one_line_and_a_failure(tmp_path):
    redis = f"redis://:s3cret@127.0.0.1:{closed_port()}/0"
    env = environment(DATABASE_URL=f"sqlite://{tmp_path / 'api.sqlite3'}") | {"REDIS_URL": redis}
    done = start(commands(tmp_path)["api"], env, timeout=30)  # arq's own retries: about 5 s
    assert done.returncode != 0, done.stderr
    assert "cannot reach Redis at redis://:***@127.0.0.1" in one_line(done.stderr, "cannot reach Redis")
    assert "s3cret" not in done.stderr


@pytest.mark.parametrize(("keys", "missing"), [
    ({}, "REBATE_API_KEYS and REBATE_SECRET (or REBATE_JWT_KEYS)"),
    ({"REBATE_API_KEYS": "k1:ADMIN"}, "REBATE_SECRET (or REBATE_JWT_KEYS)"),
    ({"REBATE_SECRET": "x" * 40}, "REBATE_API_KEYS"),
])
def test_production_without_its_keys_does_not_start(keys, missing, tmp_path):
    env = environment(REBATE_ENV="production", DATABASE_URL=f"sqlite://{tmp_path / 'api.sqlite3'}", **keys)
    done = start(commands(tmp_path)["api"], env)
    assert done.returncode != 0, done.stderr
    assert one_line(done.stderr, "REBATE_ENV=production needs") == f"api: REBATE_ENV=production needs {missing}: not starting"


def test_run_in_production_does_not_offer_graphiql(tmp_path):
    env = environment(REBATE_ENV="production", DATABASE_URL=f"sqlite://{tmp_path / 'run.sqlite3'}", PORT=str(closed_port()))
    del env["REDIS_URL"]  # ./run starts a Redis of its own
    done = subprocess.run(["bash", "-c", "exec ./run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0, done.stderr
    assert "GraphiQL at" not in done.stderr and "no GraphiQL (REBATE_ENV=production)" in done.stderr, done.stderr
    one_line(done.stderr, "REBATE_ENV=production needs")
