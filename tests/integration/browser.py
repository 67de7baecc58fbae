"""What the browser tests share: Debian's chromium (never a downloaded browser), its flags, and the
app served by a real uvicorn (and worker) on a free port with a SQLite file of the test's own.

`./run test` installs chromium (apt-get, as root) when it is missing. Where it is still missing
the browser tests are skipped, and under CI=true they fail, as a missing PostgreSQL does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.test_run_command import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Playwright's own flags plus these: nothing reaches out to the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_or_skip() -> str:
    """The chromium binary; skipped without one (failed under CI)."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (./run test installs it as root with apt-get: see var/chromium-install.log)")
    pytest.skip("chromium is not installed (Debian: apt-get install chromium; ./run test does it as root)")


def wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert server.poll() is None, "the API did not start"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the API did not answer /healthz")


@contextmanager
def served(tmp_path: Path, redis_url: str, extra: Mapping[str, str] | None = None, worker: bool = False) -> Iterator[str]:
    """The app (migrated) on a free port, and its worker when asked; yields the base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path / 'api.sqlite3'}", "REDIS_URL": redis_url, "REBATE_ENV": "development", **(extra or {})}
    if not extra or "REBATE_API_KEYS" not in extra:
        env.pop("REBATE_API_KEYS", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logs = (tmp_path / "api.log").open("wb"), (tmp_path / "worker.log").open("wb")
    subprocess.run([str(Path(sys.executable).parent / "rebate"), "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    processes = [subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"],
                                  env=env, cwd=ROOT, stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        if worker:
            processes.append(subprocess.Popen([sys.executable, "-m", "workers"], env=env, cwd=ROOT, stdout=logs[1], stderr=subprocess.STDOUT))
        wait_healthy(port, processes[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
