"""I-3 authorization matrix: every query and the subscription × every kind of caller.

Callers: members A and B, merchants S1 and S2, the INTEGRATION key, no token, an expired token and
a tampered one. A denied read answers FORBIDDEN / UNAUTHENTICATED with no data; an allowed read
carries only the caller's own data: a member its wallets, entitlements and ledger, and queue
progress as QR-18 shows it (here with member info hidden); a merchant its stores' queues.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import graphql
import pytest

from api.schema import schema
from services.replay import settle_all
from tests.api.conftest import INTEGRATION, member_token, merchant_token
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_PRODUCT, UPSERT_STORE, ok, paid_order, seed_qr1

CALLERS: dict[str, Callable[[], str | None]] = {
    "A": lambda: member_token("A"),
    "B": lambda: member_token("B"),
    "S1": lambda: merchant_token("S1"),
    "S2": lambda: merchant_token("S2"),
    "INTEGRATION": lambda: INTEGRATION,
    "none": lambda: None,
    "expired": lambda: member_token("A", 1, now=time.time() - 10),
    "tampered": lambda: member_token("A")[:-3] + "abc",
}
STAFF, ANONYMOUS = {"INTEGRATION"}, {"none", "expired", "tampered"}
MEMBERS, MERCHANTS = {"A", "B"}, {"S1", "S2"}
EVERYONE = STAFF | MEMBERS | MERCHANTS

ENT = "items { key member queue }"
PROBES: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("member", "query($v: ID!) { member(id: $v) { id wallets { cash } } }", {"v": "A"}, STAFF | {"A"}),
    ("member", "query($v: ID!) { member(id: $v) { id wallets { cash } } }", {"v": "B"}, STAFF | {"B"}),
    ("entitlements", f"query($v: ID) {{ entitlements(member: $v) {{ {ENT} }} }}", {"v": "A"}, STAFF | {"A"}),
    ("entitlements", f"query($v: ID) {{ entitlements(member: $v) {{ {ENT} }} }}", {"v": "B"}, STAFF | {"B"}),
    ("entitlements", f"query($v: String) {{ entitlements(queue: $v) {{ {ENT} }} }}", {"v": "qr:MALL"}, STAFF),
    ("entitlements", f"query($v: String) {{ entitlements(queue: $v) {{ {ENT} }} }}", {"v": "qr:STORE:S1"}, STAFF | {"S1"}),
    ("entitlements", f"query($v: String) {{ entitlements(queue: $v) {{ {ENT} }} }}", {"v": "qr:STORE:S2"}, STAFF | {"S2"}),
    ("queueProgress", "query($v: String!) { queueProgress(queue: $v) { queue { id } waiting { items { key member own } } } }", {"v": "qr:MALL"}, STAFF | MEMBERS),
    ("queueProgress", "query($v: String!) { queueProgress(queue: $v) { queue { id } waiting { items { key member own } } } }", {"v": "qr:STORE:S1"}, STAFF | MEMBERS | {"S1"}),
    ("queues", "{ queues { id } }", {}, STAFF | MERCHANTS),
    ("queueOverview", "{ queueOverview { items { id waiting unpaid } } }", {}, STAFF | MERCHANTS),
    ("pools", "{ pools { name } }", {}, STAFF),
    ("queueRebateSettings", "{ queueRebateSettings { enabled } }", {}, EVERYONE),
    ("ticket", "query($v: ID!) { ticket(id: $v) { id key } }", {"v": "1"}, STAFF),
    ("ledger", "query($v: ID!) { ledger(member: $v) { items { id } } }", {"v": "A"}, STAFF | {"A"}),
    ("ledger", "query($v: ID!) { ledger(member: $v) { items { id } } }", {"v": "B"}, STAFF | {"B"}),
    ("ledgerCheck", "{ ledgerCheck { zeroSum } }", {}, set()),  # ADMIN only
    ("settings", 'query { settings(model: "queue_rebate") }', {}, STAFF),
    ("unionQueueForecast", "query($v: ID!) { unionQueueForecast(member: $v) { entitlement { key member } } }", {"v": "A"}, STAFF | {"A"}),
    ("unionQueueForecast", "query($v: ID!) { unionQueueForecast(member: $v) { entitlement { key member } } }", {"v": "B"}, STAFF | {"B"}),
    ("unionQueueInflow", "{ unionQueueInflow }", {}, STAFF),
    ("dividendQueue", "{ dividendQueue { active { key } } }", {}, STAFF),
    ("withdrawals", "query($v: ID!) { withdrawals(member: $v) { items { key member } } }", {"v": "A"}, STAFF | {"A"}),
    ("withdrawals", "query($v: ID!) { withdrawals(member: $v) { items { key member } } }", {"v": "B"}, STAFF | {"B"}),
    ("pendingWithdrawals", "{ pendingWithdrawals { items { key member } } }", {}, set()),  # ADMIN only
    ("liabilities", "{ liabilities { queue outstanding } }", {}, STAFF),
    ("liabilityDays", "{ liabilityDays(days: 2) { day flow { paid } } }", {}, STAFF),
    ("distributionSettings", "{ distributionSettings { enabled } }", {}, STAFF),
    ("distributionAgents", "{ distributionAgents { member } }", {}, STAFF),
    ("shareholders", "{ shareholders { member } }", {}, STAFF),
    ("distributionEarnings", "query($v: ID!) { distributionEarnings(member: $v) { kind amount } }", {"v": "A"}, STAFF | {"A"}),
    ("distributionEarnings", "query($v: ID!) { distributionEarnings(member: $v) { kind amount } }", {"v": "B"}, STAFF | {"B"}),
    ("distributionTotals", "{ distributionTotals { kind } }", {}, STAFF),
    ("complianceReport", "{ complianceReport { model } }", {}, STAFF),
    ("failedItems", "{ failedItems { items { id queue eventKey error } } }", {}, set()),  # ADMIN only
    ("pointsPlans", "query($v: ID!) { pointsPlans(member: $v) { key member } }", {"v": "A"}, STAFF | {"A"}),
    ("pointsPlans", "query($v: ID!) { pointsPlans(member: $v) { key member } }", {"v": "B"}, STAFF | {"B"}),
    ("pointsRelease", 'query($v: ID!) { pointsRelease(member: $v, day: "2026-01-02") { member total } }', {"v": "A"}, STAFF | {"A"}),
    ("team", "query($v: ID!) { team(member: $v) { member { member teamSize } } }", {"v": "B"}, STAFF | {"B"}),
    ("pointsDividendOverview", "{ pointsDividendOverview { tierCounts { tier } } }", {}, STAFF),
    ("appreciationPool", "{ appreciationPool { balance price } }", {}, EVERYONE),
    ("appreciationPriceHistory", "{ appreciationPriceHistory { items { price } } }", {}, EVERYONE),
    ("appreciationDailyPrices", '{ appreciationDailyPrices(start: "2026-01-01", days: 2) { day close } }', {}, EVERYONE),
    ("appreciationHolding", "query($v: ID!) { appreciationHolding(member: $v) { member points } }", {"v": "A"}, STAFF | {"A"}),
    ("appreciationHolding", "query($v: ID!) { appreciationHolding(member: $v) { member points } }", {"v": "B"}, STAFF | {"B"}),
    ("appreciationNearExit", "{ appreciationNearExit { member exitPrice } }", {}, STAFF),
    ("appreciationTicket", "query($v: ID!) { appreciationTicket(id: $v) { id sales { member } } }", {"v": "1"}, STAFF | MEMBERS),
]
PAYOUT_PROBES: list[tuple[dict[str, str], set[str]]] = [
    ({"member": "A"}, STAFF | {"A"}),
    ({"member": "B"}, STAFF | {"B"}),
    ({"queue": "qr:MALL"}, STAFF),
    ({"queue": "qr:STORE:S1"}, STAFF | {"S1"}),
    ({"store": "S1"}, STAFF | {"S1"}),
    ({"store": "S2"}, STAFF | {"S2"}),
]


def test_every_query_and_subscription_is_in_the_matrix():
    built = graphql.build_schema(schema.as_str())
    assert {name for name, *_ in PROBES} == set(built.query_type.fields)  # type: ignore[union-attr]
    assert set(built.subscription_type.fields) == {"payouts", "ticket"}  # type: ignore[union-attr]  # ticket: tests/api/test_ticket_subscription.py


async def _seed(gql) -> None:
    await seed_qr1(gql, members=("A", "B"))
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"show_member_info": False}})
    for store in ("S1", "S2"):
        await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": store}})
        await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": f"P{store}", "source": "STORE", "store": store}})
    for member, store in (("A", "S1"), ("B", "S2")):
        for i in range(2):
            await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(f"m{member}{i}", member)})
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(f"s{member}", member, product=f"P{store}", channel="STORE_ONLINE", store=store)})
    await settle_all()


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and "items" in value:
        return value["items"]
    if isinstance(value, dict) and "waiting" in value:
        return value["waiting"]["items"]
    return value if isinstance(value, list) else []


def _assert_own_only(caller: str, name: str, value: Any) -> None:
    """What an allowed member or merchant receives belongs to it (or is what QR-18 shows)."""
    if caller in MEMBERS:
        for item in _items(value):
            item = item.get("entitlement", item)
            if "member" in item and item["member"] is not None:
                assert item["member"] == caller, (caller, name, item)
            if name == "queueProgress" and not item.get("own"):
                assert item["key"] is None and item["member"] is None, (caller, name, item)
        if name == "member":
            assert value["id"] == caller
    if caller in MERCHANTS:
        for item in _items(value):
            queue = item.get("queue") or item.get("id")
            if queue is not None:
                assert queue.endswith(f":{caller}"), (caller, name, item)


async def test_authorization_matrix_over_http(gql):
    await _seed(gql)
    tokens = {caller: make() for caller, make in CALLERS.items()}
    assert (await gql.data('{ entitlements(queue: "qr:MALL") { items { key } } }'))["entitlements"]["items"], "the seed made entitlements"
    for name, query, variables, allowed in PROBES:
        for caller, token in tokens.items():
            body = await gql(query, variables, token=token)
            where = (name, variables, caller)
            if caller in allowed:
                assert "errors" not in body, (where, body)
                _assert_own_only(caller, name, body["data"][name])
            else:
                assert body["errors"][0]["extensions"]["code"] == ("UNAUTHENTICATED" if caller in ANONYMOUS else "FORBIDDEN"), (where, body)
                assert not (body.get("data") or {}).get(name), (where, body)


@pytest.fixture
def ws_client(env: str):
    import warnings

    from api.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(create_app(migrate=True)) as client:
        yield client


def test_authorization_matrix_over_websocket(ws_client):
    from starlette.websockets import WebSocketDisconnect

    query = "subscription($member: ID, $queue: String, $store: ID) { payouts(member: $member, queue: $queue, store: $store) { member } }"
    for caller, make in CALLERS.items():
        token = make()
        with ws_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
            if caller in ANONYMOUS:
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
                assert closed.value.code == 4403, caller
                continue
            assert ws.receive_json()["type"] == "connection_ack"
            for n, (variables, allowed) in enumerate(PAYOUT_PROBES):
                ws.send_json({"type": "subscribe", "id": str(n), "payload": {"query": query, "variables": variables}})
                if caller in allowed:
                    continue  # listening: nothing arrives until a payout is published
                message = ws.receive_json()
                errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
                assert (message["id"], errors[0]["extensions"]["code"]) == (str(n), "FORBIDDEN"), (caller, variables, message)
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] == "pong", caller  # messages keep their order: no allowed subscription was refused
