"""Idempotency keys per caller (C-6): a member's event keys live in the member's own scope, the
platform's callers (staff keys, the integration, replay, the crons) share one. A member can
neither block a platform order by taking its key first nor learn whether another caller's key
exists; each caller's repeated key is still idempotent within its own scope."""

from __future__ import annotations

from services.replay import settle_all
from tests.api.conftest import INTEGRATION, member_token
from tests.api.scenario import ORDER_PAID, ok, paid_order
from tests.api.test_queue_rebate_settings_api import EXCHANGE, EXCHANGE_ON, act, pay, setup

TICKET = "query($id: ID!) { ticket(id: $id) { id key type status } }"


async def _exchange(gql, key: str, entitlement: str, token: str, to: str = "POINTS") -> dict:
    return (await gql.data(EXCHANGE, {"input": {"key": key, "entitlement": entitlement, "to": to}}, token=token))["exchangeEntitlement"]


async def test_a_members_key_does_not_block_a_later_platform_order_of_the_same_key(gql):
    await setup(gql, EXCHANGE_ON)
    await pay(gql, ("oA", "A", "100.00"))
    await settle_all()
    taken = await act(gql, EXCHANGE, "exchangeEntitlement", {"input": {"key": "oB-next-42:paid", "entitlement": "oA:0", "to": "POINTS"}},
                      token=member_token("A"))
    assert (taken["ticket"]["key"], taken["ticket"]["duplicate"]) == ("oB-next-42:paid", False)  # the member's own key, unchanged
    order = {**paid_order("oB-next-42", "B", "100.00"), "key": "oB-next-42:paid"}
    paid = await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": order})
    assert (paid["ticket"]["key"], paid["ticket"]["type"], paid["ticket"]["duplicate"]) == ("oB-next-42:paid", "order.paid", False)
    assert paid["ticket"]["id"] != taken["ticket"]["id"]
    again = await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": order})
    assert (again["ticket"]["id"], again["ticket"]["duplicate"]) == (paid["ticket"]["id"], True)  # the platform's key is still idempotent
    await settle_all()
    tickets = [(await gql.data(TICKET, {"id": t["ticket"]["id"]}))["ticket"] for t in (taken, paid)]
    assert [(t["key"], t["type"], t["status"]) for t in tickets] == [("oB-next-42:paid", "entitlement.exchange", "DONE"), ("oB-next-42:paid", "order.paid", "DONE")]


async def test_another_member_using_a_members_key_gets_an_event_of_its_own(gql):
    await setup(gql, EXCHANGE_ON)
    await pay(gql, ("oA", "A", "100.00"), ("oB", "B", "100.00"))
    await settle_all()
    first = await act(gql, EXCHANGE, "exchangeEntitlement", {"input": {"key": "x1", "entitlement": "oA:0", "to": "POINTS"}}, token=member_token("A"))
    # B sends A's key with other content: neither a conflict nor a replay of A's event (no leak)
    other = await _exchange(gql, "x1", "oB:0", member_token("B"), to="LOVE_VALUE")
    assert other["errors"] == [] and (other["ticket"]["key"], other["ticket"]["duplicate"]) == ("x1", False)
    assert other["ticket"]["id"] != first["ticket"]["id"]
    # B sends A's key with A's very content (A's entitlement): refused for ownership, not answered with A's ticket
    probe = await _exchange(gql, "x1", "oA:0", member_token("C"))
    assert probe["ticket"] is None and [(e["code"], e["field"]) for e in probe["errors"]] == [("FORBIDDEN", "entitlement")]
    # a member's repeated key is still idempotent, and other content under it is still a conflict of its own
    repeated = await _exchange(gql, "x1", "oA:0", member_token("A"))
    assert (repeated["ticket"]["id"], repeated["ticket"]["duplicate"]) == (first["ticket"]["id"], True)
    conflict = await _exchange(gql, "x1", "oA:0", member_token("A"), to="LOVE_VALUE")
    assert conflict["ticket"] is None and [(e["code"], e["field"]) for e in conflict["errors"]] == [("IDEMPOTENCY_CONFLICT", "key")]
    await settle_all()
    statuses = [(await gql.data(TICKET, {"id": t["ticket"]["id"]}))["ticket"]["status"] for t in (first, other)]
    assert statuses == ["DONE", "DONE"]


async def test_staff_actions_share_the_platform_scope(gql):
    """Staff keys (ADMIN, INTEGRATION) are one platform scope: the same key from either is one
    event, and it does not touch the member's own key of that name."""
    await setup(gql, EXCHANGE_ON)
    await pay(gql, ("oA", "A", "100.00"))
    await settle_all()
    staff = await act(gql, EXCHANGE, "exchangeEntitlement", {"input": {"key": "x:oA", "entitlement": "oA:0", "to": "POINTS"}}, token=INTEGRATION)
    admin = (await gql.data(EXCHANGE, {"input": {"key": "x:oA", "entitlement": "oA:0", "to": "POINTS"}}))["exchangeEntitlement"]
    assert (admin["ticket"]["id"], admin["ticket"]["duplicate"]) == (staff["ticket"]["id"], True)
    order = await _exchange(gql, "oA:paid", "oA:0", INTEGRATION)  # the platform's own order key: a conflict in its own scope
    assert [(e["code"], e["field"]) for e in order["errors"]] == [("IDEMPOTENCY_CONFLICT", "key")]
    mine = await _exchange(gql, "x:oA", "oA:0", member_token("A"))  # the member's scope has no x:oA: an event of its own
    assert mine["errors"] == [] and mine["ticket"]["duplicate"] is False and mine["ticket"]["id"] != staff["ticket"]["id"]
