"""Issue 9: with Redis down the API still records events and /healthz says degraded; ops list
FAILED inbox items and put one back (admin only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from services.replay import settle_all
from store import db
from tests.api.conftest import GQL, INTEGRATION
from tests.api.scenario import ORDER_PAID, ok, paid_order, seed_qr1
from tests.redis_server import RedisServer

FAILED = "query($after: String) { failedItems(after: $after, first: 1) { items { id queue eventKey type error attempts failedAt } pageInfo { endCursor hasNextPage } } }"
RETRY = "mutation($id: ID!) { retryFailedItem(id: $id) { queue errors { code field } } }"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def own_redis_http(env: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    app = create_app(migrate=True)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_redis_down_events_are_still_recorded_and_healthz_is_degraded(own_redis_http, redis_server):
    gql = GQL(own_redis_http)
    await seed_qr1(gql)
    assert (await own_redis_http.get("/healthz")).json() == {"status": "ok", "database": True, "redis": True}
    redis_server.kill()
    health = await own_redis_http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "degraded", "database": True, "redis": False}
    payload = await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "A")})
    assert payload["ticket"]["status"] == "PENDING"
    redis_server.start()
    assert (await own_redis_http.get("/healthz")).json()["status"] == "ok"


async def fail_two_items() -> list[int]:
    """Two settled-as-refused events turned FAILED by hand, as settlement leaves isolated ones."""
    await settle_all()
    async with db.writing() as conn:
        rows = await conn.execute_query_dict("SELECT id FROM inbox_item ORDER BY id")
        ids = [int(r["id"]) for r in rows][:2]
        for i in ids:
            await conn.execute_query(f"UPDATE inbox_item SET status = 'FAILED', error = 'OverflowError: boom', attempts = 3 WHERE id = {i}")
    return ids


async def test_failed_items_are_listed_page_by_page_and_retried_by_an_admin(gql: Any):
    await seed_qr1(gql)
    for o in ("o1", "o2"):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(o, "A")})
    ids = await fail_two_items()
    first = (await gql.data(FAILED))["failedItems"]
    [item] = first["items"]
    assert (item["id"], item["queue"], item["eventKey"], item["type"], item["error"], item["attempts"]) == (
        str(ids[0]), "qr:MALL", "o1:paid", "order.paid", "OverflowError: boom", 3)
    assert first["pageInfo"]["hasNextPage"]
    second = (await gql.data(FAILED, {"after": first["pageInfo"]["endCursor"]}))["failedItems"]
    assert [i["eventKey"] for i in second["items"]] == ["o2:paid"] and not second["pageInfo"]["hasNextPage"]
    denied = await gql(RETRY, {"id": str(ids[0])}, token=INTEGRATION)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql.data(RETRY, {"id": str(ids[0])}))["retryFailedItem"] == {"queue": "qr:MALL", "errors": []}
    again = (await gql.data(RETRY, {"id": str(ids[0])}))["retryFailedItem"]
    assert again["queue"] is None and again["errors"] == [{"code": "INVALID_INPUT", "field": "id"}]
    assert (await gql.data(RETRY, {"id": "99999999999999999999"}))["retryFailedItem"]["errors"][0]["code"] == "INVALID_INPUT"
    assert [i["eventKey"] for i in (await gql.data(FAILED))["failedItems"]["items"]] == ["o2:paid"]
    metrics = await gql.http.get("/metrics")
    assert 'rebate_inbox_failed_items{queue="qr:MALL"} 1.0' in metrics.text
