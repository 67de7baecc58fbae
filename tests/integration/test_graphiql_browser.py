"""GraphiQL renders in a real browser that can reach no host but the app, under the app's CSP.

Skipped where no Chromium is installed (Debian: `apt-get install chromium`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_run_command import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed")


def wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert server.poll() is None, "the API did not start"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the API did not answer /healthz")


def test_graphiql_renders_offline_under_its_csp(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path / 'api.sqlite3'}", "REDIS_URL": redis_url, "REBATE_ENV": "development"}
    env.pop("REBATE_API_KEYS", None)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, server)
        browser = subprocess.run(
            [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no other host exists: as offline as it gets
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom", f"http://127.0.0.1:{port}/graphql"],
            capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    dom = browser.stdout
    assert 'class="graphiql-container' in dom and "graphiql-editor" in dom, dom[:2000]
    assert "Loading…" not in dom
    assert "Overview" in dom  # the default query is in the editor
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line or "Content Security Policy" in line]
    assert not [line for line in console if "Refused" in line or "Content Security Policy" in line], console
