"""The ticket subscription (I-2) over graphql-transport-ws: the result once the settlement commits,
at once when it already has; a member sees only its own tickets (I-3)."""

from __future__ import annotations

import uuid
from typing import Any

from services.payouts import ticket_channel
from services.replay import settle_all
from tests.api.conftest import ADMIN, INTEGRATION, member_token, merchant_token
from tests.api.scenario import ORDER_PAID, QR1_SETTINGS, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, UPSERT_STORE, paid_order
from tests.api.test_subscriptions import TRANSPORT_WS, _settle_and_publish, client, post, wait_for_subscribers

__all__ = ["client"]  # the fixture, shared with the payout subscriptions

TICKET = "subscription($id: ID!) { ticket(id: $id) { id key type status errors transfers { key target amount } } }"


def _two_orders(client: Any) -> tuple[str, str, str]:
    """QR-1 settings; A then B buy 100 of P1: B's line pays A 10.00 once settled. Returns A, B and B's ticket id."""
    a, b = f"tk-{uuid.uuid4().hex[:8]}", f"tk-{uuid.uuid4().hex[:8]}"
    post(client, SET_SETTINGS, {"model": "queue_rebate", "values": QR1_SETTINGS})
    for m in (a, b):
        post(client, UPSERT_MEMBER, {"input": {"id": m}})
    post(client, UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    post(client, ORDER_PAID, {"input": paid_order(f"o-{a}", a)})
    ticket = post(client, ORDER_PAID, {"input": paid_order(f"o-{b}", b)})["reportOrderPaid"]["ticket"]
    assert ticket["status"] == "PENDING"
    return a, b, ticket["id"]


def _connect(ws: Any, token: str) -> None:
    ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert ws.receive_json()["type"] == "connection_ack"


def _result(ws: Any) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "next" and message["id"] == "1", message
    assert ws.receive_json() == {"type": "complete", "id": "1"}  # one result, then the stream ends
    return message["payload"]["data"]["ticket"]


def test_the_ticket_arrives_when_its_settlement_commits(client):
    a, b, ticket = _two_orders(client)
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        _connect(ws, ADMIN)
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": TICKET, "variables": {"id": ticket}}})
        wait_for_subscribers(ticket_channel(int(ticket)))
        assert client.portal.call(_settle_and_publish, client.app, "qr:MALL") == 2
        result = _result(ws)
    assert (result["id"], result["key"], result["status"], result["errors"]) == (ticket, f"o-{b}:paid", "DONE", [])
    payouts = [t for t in result["transfers"] if t["target"] == f"member:{a}:CASH"]
    assert [t["amount"] for t in payouts] == ["10.00"]


def test_a_settled_ticket_is_sent_at_once_to_its_own_member(client):
    _, b, ticket = _two_orders(client)
    assert client.portal.call(_settle_and_publish, client.app, "qr:MALL") == 2
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        _connect(ws, member_token(b))
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": TICKET, "variables": {"id": ticket}}})
        assert _result(ws)["status"] == "DONE"


def test_a_member_may_not_watch_another_members_ticket(client):
    a, _, ticket = _two_orders(client)
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        _connect(ws, member_token(a))
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": TICKET, "variables": {"id": ticket}}})
        message = ws.receive_json()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


def test_ticket_matrix_staff_any_a_member_its_own_a_merchant_its_stores(client):
    """Settled tickets of A's mall order and of A's order in store S1, watched by every kind of caller."""
    a, b, s1, s2 = (f"tk-{uuid.uuid4().hex[:6]}" for _ in range(4))
    post(client, SET_SETTINGS, {"model": "queue_rebate", "values": QR1_SETTINGS})
    for m in (a, b):
        post(client, UPSERT_MEMBER, {"input": {"id": m}})
    for s in (s1, s2):
        post(client, UPSERT_STORE, {"input": {"id": s}})
    post(client, UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    post(client, UPSERT_PRODUCT, {"input": {"id": f"P{s1}", "source": "STORE", "store": s1}})
    mall = post(client, ORDER_PAID, {"input": paid_order(f"m-{a}", a)})["reportOrderPaid"]["ticket"]["id"]
    in_store = post(client, ORDER_PAID, {"input": paid_order(f"s-{a}", a, product=f"P{s1}", channel="STORE_ONLINE", store=s1)})["reportOrderPaid"]["ticket"]["id"]
    client.portal.call(settle_all)
    callers = {"A": member_token(a), "B": member_token(b), "S1": merchant_token(s1), "S2": merchant_token(s2), "INTEGRATION": INTEGRATION, "ADMIN": ADMIN}
    probes = [(mall, {"ADMIN", "INTEGRATION", "A"}), (in_store, {"ADMIN", "INTEGRATION", "A", "S1"}), ("999999999", {"ADMIN", "INTEGRATION"})]
    for caller, token in callers.items():
        with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
            _connect(ws, token)
            for ticket, allowed in probes:
                ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": TICKET, "variables": {"id": ticket}}})
                message = ws.receive_json()
                errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
                if caller in allowed and ticket != "999999999":
                    assert message["type"] == "next" and not errors and message["payload"]["data"]["ticket"]["status"] == "DONE", (caller, ticket)
                    assert ws.receive_json() == {"type": "complete", "id": "1"}
                else:
                    code = "INVALID_INPUT" if caller in allowed else "FORBIDDEN"  # an unknown ticket is FORBIDDEN to non-staff
                    assert errors[0]["extensions"]["code"] == code, (caller, ticket, message)
                    if message["type"] == "next":
                        assert ws.receive_json() == {"type": "complete", "id": "1"}
