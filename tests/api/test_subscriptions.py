"""Payout subscriptions over graphql-transport-ws only; the connection_init payload carries the token.

Starlette's TestClient runs the app (and its lifespan) on its own event loop in a thread, so these
tests are synchronous and reach that loop through `client.portal`.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from services.payouts import channel
from services.settlement import settle_batch
from tests.api.conftest import ADMIN, TEST_REDIS_URL, member_token
from tests.api.scenario import ORDER_PAID, QR1_SETTINGS, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, paid_order
from workers.publish import publisher

with warnings.catch_warnings():  # starlette 1.x asks for httpx2, which this project does not use
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PAYOUTS = "subscription($m: ID) { payouts(member: $m) { member amount key queue version event } }"
TRANSPORT_WS = "graphql-transport-ws"


@pytest.fixture
def client(env: str) -> Iterator[TestClient]:
    with TestClient(create_app(migrate=True)) as client:
        yield client


def post(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = client.post("/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert "errors" not in body, body
    return body["data"]


def wait_for_subscribers(name: str, count: int = 1, timeout: float = 5.0) -> None:
    """Pub/sub is at-most-once: publish only once the server listens on the channel."""
    r = redis.Redis.from_url(TEST_REDIS_URL)
    deadline = time.monotonic() + timeout
    while dict(r.pubsub_numsub(name)).get(name.encode(), 0) != count:
        assert time.monotonic() < deadline, f"{name} never had {count} subscriber(s)"
        time.sleep(0.02)
    r.close()


def closed_with(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    return refused.value.code


def test_without_a_token_the_connection_is_closed(client):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init"})
        assert closed_with(ws) == 4403


def test_a_bad_token_is_closed_and_subscribe_before_init_is_refused(client):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        assert closed_with(ws) == 4403
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": PAYOUTS, "variables": {"m": "A"}}})
        assert closed_with(ws) == 4401


@pytest.mark.parametrize("payload", [None, {"authorization": f"Bearer {ADMIN}"}])
def test_the_legacy_graphql_ws_protocol_is_refused(client, payload):
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.send_json({"type": "connection_init", **({"payload": payload} if payload else {})})
        ws.send_json({"type": "start", "id": "1", "payload": {"query": PAYOUTS, "variables": {"m": "A"}}})
        assert closed_with(ws) == 4406


def test_a_member_may_not_watch_another_member(client):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {member_token('A')}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": PAYOUTS, "variables": {"m": "B"}}})
        message = ws.receive_json()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


def _seed_two_orders(client: TestClient, first: str, second: str) -> None:
    post(client, SET_SETTINGS, {"model": "queue_rebate", "values": QR1_SETTINGS})
    for m in (first, second):
        post(client, UPSERT_MEMBER, {"input": {"id": m}})
    post(client, UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    for order, m in ((f"o-{first}", first), (f"o-{second}", second)):
        assert post(client, ORDER_PAID, {"input": paid_order(order, m)})["reportOrderPaid"]["errors"] == []


def test_an_admin_receives_the_payout_of_a_settled_order(client):
    first, second = f"ws-{uuid.uuid4().hex[:8]}", f"ws-{uuid.uuid4().hex[:8]}"  # channels are shared by every Redis db
    _seed_two_orders(client, first, second)
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        assert ws.accepted_subprotocol == TRANSPORT_WS
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}})
        assert ws.receive_json() == {"type": "connection_ack", "payload": {"role": "ADMIN"}}
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": PAYOUTS, "variables": {"m": first}}})
        wait_for_subscribers(channel("member", first))
        assert client.portal.call(_settle_and_publish, client.app, "qr:MALL") == 2
        message = ws.receive_json()
        assert message["type"] == "next" and message["id"] == "1"
        payout = message["payload"]["data"]["payouts"]
        assert (payout["member"], payout["amount"], payout["queue"], payout["version"]) == (first, "10.00", "qr:MALL", 1)
        ws.send_json({"type": "complete", "id": "1"})
        wait_for_subscribers(channel("member", first), count=0)  # the Redis subscription ends with it


async def _settle_and_publish(app: Any, queue: str) -> int:
    """What the worker's drain job does for one batch: settle, then publish its payouts."""
    return await settle_batch(queue, publisher(app.state.redis))


def test_cross_origin_browsers_need_an_allowed_origin(env, monkeypatch):
    monkeypatch.setenv("REBATE_WS_ORIGINS", "https://merchant.example")
    with TestClient(create_app(migrate=True)) as client:
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS], headers={"origin": "https://evil.example"}) as ws:
                ws.receive_json()
        with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS], headers={"origin": "https://merchant.example"}) as ws:
            ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}})
            assert ws.receive_json()["type"] == "connection_ack"


def test_an_expired_token_is_refused_at_connection_init(client):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {member_token('A', 1, now=time.time() - 5)}"}})
        assert closed_with(ws) == 4403


def test_a_subscription_ends_when_its_token_expires_while_connected(client):
    member = f"ws-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {member_token(member, 2)}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": PAYOUTS, "variables": {"m": member}}})
        wait_for_subscribers(channel("member", member))
        assert closed_with(ws) == 4403
    assert 1 <= time.monotonic() - started < 4
    wait_for_subscribers(channel("member", member), count=0)  # the Redis subscription ends with the connection


@pytest.mark.parametrize("value", ["Bearer m.A.².abc", "Bearer " + "x" * 1000, 5, None])  # longer strings are refused as a message (4400)
def test_malformed_tokens_at_connection_init_are_closed(client, value):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": value}})
        assert closed_with(ws) == 4403


def test_a_websocket_message_nested_too_deep_closes_the_connection(client):
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_text('{"type": "connection_init", "payload": ' + "[" * 5000 + "]" * 5000 + "}")
        assert closed_with(ws) == 4400
