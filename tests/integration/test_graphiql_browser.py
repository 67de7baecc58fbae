"""GraphiQL renders in a real browser that can reach no host but the app, under the app's CSP.

Debian's chromium (tests/integration/browser.py: `./run test` installs it; skipped without it, failed under CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.browser import chromium_or_skip, served


def test_graphiql_renders_offline_under_its_csp(tmp_path: Path, redis_url: str) -> None:
    chromium = chromium_or_skip()
    with served(tmp_path, redis_url) as base:
        browser = subprocess.run(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no other host exists: as offline as it gets
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom", f"{base}/graphql"],
            capture_output=True, text=True, timeout=120)
    dom = browser.stdout
    assert 'class="graphiql-container' in dom and "graphiql-editor" in dom, dom[:2000]
    assert "Loading…" not in dom
    assert "Overview" in dom  # the default query is in the editor
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line or "Content Security Policy" in line]
    assert not [line for line in console if "Refused" in line or "Content Security Policy" in line], console
