"""GraphQL over HTTP (the spec's media types) and graphql-http's server audits, the reference
implementation's conformance suite, run with node against the app served by uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.media import prefers_graphql_response
from tests.api.conftest import ADMIN

AUDIT_DIR = Path(__file__).resolve().parents[1] / "graphql_http"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize(("accept", "new"), [
    (None, False), ("", False), ("*/*", False), ("application/json", False),
    (GRAPHQL_RESPONSE, True), (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", True),
    (f"application/json, {GRAPHQL_RESPONSE}", False), (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", True),
    (f"{GRAPHQL_RESPONSE};q=0", False), (f"{GRAPHQL_RESPONSE}, */*", True),
])
def test_which_media_type_a_client_gets(accept, new):
    assert prefers_graphql_response(accept) is new


async def post(http: httpx.AsyncClient, query: str, accept: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}", **({"Accept": accept} if accept else {})}
    return await http.post("/graphql", json={"query": query}, headers=headers)


async def test_graphql_response_json_on_a_parse_or_validation_failure_is_400_without_data(http):
    for query in ("{", "{ noSuchField }"):
        response = await post(http, query, GRAPHQL_RESPONSE)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        body = response.json()
        assert "data" not in body and body["errors"]


async def test_graphql_response_json_on_success_is_200(http):
    response = await post(http, "{ __typename }", GRAPHQL_RESPONSE)
    assert response.status_code == 200 and response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_application_json_keeps_200_and_data_null(http):
    for accept in ("application/json", None):
        response = await post(http, "{ noSuchField }", accept)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["data"] is None and body["errors"]


def audit_packages() -> Path:
    """graphql-http from the npm registry, pinned in tests/graphql_http/package-lock.json;
    installed there (node_modules, not in git) the first time only."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed for graphql-http's audits")
        pytest.skip("node/npm not installed: graphql-http's audits are skipped")
    if not (AUDIT_DIR / "node_modules" / "graphql-http" / "package.json").exists():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=AUDIT_DIR, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            message = f"npm ci in {AUDIT_DIR} failed: {done.stderr.strip()[-500:]}"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return AUDIT_DIR


@pytest.fixture
def server(env: str) -> Iterator[str]:
    """The app as the Procfile serves it, on a free port, its database migrated first."""
    run_env = {**os.environ, "PYTHONPATH": os.getcwd()}
    subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "migrate"], env=run_env, check=True, capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
                            env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
        yield f"{url}/graphql"
    finally:
        proc.terminate()
        proc.wait(10)


def test_graphql_http_server_audits_pass_every_must_and_should(server):
    directory = audit_packages()
    done = subprocess.run(["node", "audit.mjs", server, f"Bearer {ADMIN}"], cwd=directory, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) > 50
    required = [r for r in results if r["name"].startswith(("MUST", "SHOULD"))]
    failing = [f"{r['id']} {r['name']}: {r['reason']}" for r in required if r["status"] != "ok"]
    assert failing == []
    # the MAYs left: GET requests, which this endpoint refuses on purpose (queries only over POST)
    assert all("GET" in r["name"] for r in results if r["status"] != "ok"), [r for r in results if r["status"] != "ok"]
