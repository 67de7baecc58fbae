"""`./run` supervises: a dead worker is started again while the API keeps answering, and every
way of stopping it (SIGTERM, Ctrl-C, Ctrl-C on `./run | tee log`) ends every process it started.

Each test starts the real script on a free PORT with its own SQLite file and its own Redis, and
recognises the processes it started by a marker in their environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "RUN_COMMAND_TEST_ID"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def marked(mark: str) -> dict[int, str]:
    """pid → command line of every live process whose environment carries the marker."""
    found = {}
    needle = f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def worker_pids(mark: str) -> set[int]:
    return {pid for pid, cmd in marked(mark).items() if "-m workers" in cmd and "bash" not in cmd}


class Run:
    """`./run` (or a shell line around it) in a session of its own, as a terminal would start it."""

    def __init__(self, tmp_path: Path, shell: str = "exec ./run") -> None:
        self.mark = uuid.uuid4().hex
        self.port = free_port()
        self.log = tmp_path / "run.log"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "HOST")}
        env |= {MARK: self.mark, "PORT": str(self.port), "DATABASE_URL": f"sqlite://{tmp_path / 'run.sqlite3'}", "LOG": str(self.log)}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(["bash", "-c", shell], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        try:
            wait_for(lambda: healthy(self.port), 90, "the API's /healthz")
        except AssertionError:
            raise AssertionError(self.output()) from None

    def stop(self, sig: int, group: bool) -> None:
        """`group`: to the whole foreground process group, as Ctrl-C in a terminal does."""
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        self.process.wait(timeout=40)

    def kill_leftovers(self) -> None:
        for pid in marked(self.mark):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def _start(shell: str = "exec ./run") -> Run:
        runs.append(Run(tmp_path, shell))
        return runs[-1]

    yield _start
    for run in runs:
        run.kill_leftovers()


def assert_nothing_left(run: Run) -> None:
    deadline = time.monotonic() + 15
    while marked(run.mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked(run.mark) == {}, run.output()[-3000:]


def test_a_dead_worker_is_started_again_and_the_api_keeps_answering(start):
    run = start()
    run.wait_healthy()
    assert f"GraphiQL at http://127.0.0.1:{run.port}/graphql, console at http://127.0.0.1:{run.port}/console" in run.output()
    first = wait_for(lambda: worker_pids(run.mark), 30, "the worker")
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    again = wait_for(lambda: worker_pids(run.mark) - first, 30, "a new worker")  # not the killed one, while it is still listed
    assert again and healthy(run.port)
    assert "the worker exited (status 137)" in run.output()
    assert run.process.poll() is None
    run.stop(signal.SIGTERM, group=False)
    assert_nothing_left(run)


def test_ctrl_c_ends_every_process(start):
    run = start()
    run.wait_healthy()
    run.stop(signal.SIGINT, group=True)
    assert_nothing_left(run)


def test_ctrl_c_on_run_piped_to_tee_ends_every_process(start):
    run = start('./run 2>&1 | tee "$LOG.tee" >/dev/null')
    wait_for(lambda: healthy(run.port), 90, "the API's /healthz")
    run.stop(signal.SIGINT, group=True)
    assert_nothing_left(run)


def test_run_rebate_calls_the_cli_of_the_project():
    result = subprocess.run(["./run", "rebate", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "check-ledger" in result.stdout, result.stderr
