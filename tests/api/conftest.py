"""GraphQL over HTTP against create_app() on a fresh SQLite file and the real Redis.

httpx's ASGITransport does not run the lifespan, so the `app` fixture enters it by hand. Redis
is the machine's (REDIS_URL), on its own database index so that the arq jobs these tests enqueue
never reach another suite's worker; pub/sub channels are shared, so ids in them are unique.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from api.app import create_app
from services.runtime import DEFAULT_REDIS_URL
from services.tokens import Audience, TokenKeys

ADMIN, INTEGRATION, SECRET = "test-admin-key", "test-integration-key", "test-secret-of-at-least-32-bytes"
KEYS = TokenKeys.single(SECRET)


def member_token(member: str, ttl: int = 600, now: float | None = None) -> str:
    """A member token signed with the tests' key (REBATE_SECRET)."""
    return KEYS.issue(Audience.MEMBER, member, ttl, now)


def merchant_token(store: str, ttl: int = 600, now: float | None = None) -> str:
    return KEYS.issue(Audience.MERCHANT, store, ttl, now)


def _own_db(url: str, db: int = 15) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


TEST_REDIS_URL = os.environ.get("API_TEST_REDIS_URL") or _own_db(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment of one test: its own database file, keys and secret; returns the database URL."""
    url = f"sqlite://{tmp_path}/api.sqlite3"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("REBATE_ENV", "test")
    monkeypatch.setenv("REBATE_API_KEYS", f"{ADMIN}:ADMIN,{INTEGRATION}:INTEGRATION")
    monkeypatch.setenv("REBATE_SECRET", SECRET)
    return url


@pytest.fixture
async def app(env: str) -> AsyncIterator[Any]:
    app = create_app(migrate=True)
    async with app.router.lifespan_context(app):
        yield app


class GQL:
    """Posts GraphQL documents; `token=None` sends no Authorization header."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, token: str | None = ADMIN) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}".encode()} if token else {}  # UTF-8 bytes: tampered tokens may be non-ASCII
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = ADMIN) -> dict[str, Any]:
        """The data of a query that must succeed."""
        body = await self(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GQL:
    return GQL(http)
