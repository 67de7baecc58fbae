"""QR-1 (seed 000) end to end through GraphQL: settings, members, product, four paid orders."""

from __future__ import annotations

import asyncio

from services import queries
from services.replay import settle_all
from tests.api.scenario import ENTITLEMENTS, ORDER_PAID, WALLETS, ok, paid_order, seed_qr1

TICKET = "query($id: ID!) { ticket(id: $id) { id key type status errors transfers { source target asset amount memo } } }"
PROGRESS = """query($q: String!, $after: String, $first: Int) {
  queueProgress(queue: $q, after: $after, first: $first) {
    queue { id model head tail pool }
    waiting { items { member position remaining } pageInfo { endCursor hasNextPage } }
  }
}"""


async def _qr1(gql) -> list[dict]:
    await seed_qr1(gql)
    tickets = []
    for member in "ABCD":
        tickets.append((await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(f"o{member}", member)}))["ticket"])
    return tickets


async def test_qr1_a_receives_30_after_b_c_d(gql):
    tickets = await _qr1(gql)
    assert [t["status"] for t in tickets] == ["PENDING"] * 4 and not any(t["duplicate"] for t in tickets)
    await settle_all()
    wallets = (await gql.data(WALLETS, {"id": "A"}))["member"]["wallets"]
    assert wallets == {"cash": "30.00", "points": "0.00", "loveValueAvailable": "0.00", "loveValueFrozen": "0.00", "coupon": "0.00", "receivable": "0.00"}
    [a] = (await gql.data(ENTITLEMENTS, {"member": "A"}))["entitlements"]["items"]
    assert (a["key"], a["queue"], a["position"], a["total"], a["received"], a["remaining"]) == ("oA:0", "qr:MALL", 1, "100.00", "30.00", "70.00")
    assert (a["status"], a["ratio"], a["ratioSource"]) == ("WAITING", "100", "plugin.reward_ratio")
    assert await queries.is_zero_sum()


async def test_qr1_tickets_are_done_with_their_transfers(gql):
    tickets = await _qr1(gql)
    await settle_all()
    done = [(await gql.data(TICKET, {"id": t["id"]}))["ticket"] for t in tickets]
    assert [t["status"] for t in done] == ["DONE"] * 4 and all(t["errors"] == [] for t in done)
    cash = [x for x in done[1]["transfers"] if x["asset"] == "CNY" and x["target"].startswith("member:")]
    assert [(x["target"], x["amount"], x["memo"]) for x in cash] == [("member:A:CASH", "10.00", "payout")]


async def test_qr1_ledger_check_and_member_ledger(gql):
    await _qr1(gql)
    await settle_all()
    check = (await gql.data("{ ledgerCheck { zeroSum assets { asset total drift } } }"))["ledgerCheck"]
    assert check["zeroSum"] is True and all(a["total"] == "0.00" and a["drift"] == "0.00" for a in check["assets"])
    query = "query($m: ID!, $after: String) { ledger(member: $m, first: 2, after: $after) { items { id target amount } pageInfo { endCursor hasNextPage } } }"
    first = (await gql.data(query, {"m": "A"}))["ledger"]
    rest = (await gql.data(query, {"m": "A", "after": first["pageInfo"]["endCursor"]}))["ledger"]
    cash = [t["amount"] for t in first["items"] + rest["items"] if t["target"] == "member:A:CASH"]
    assert cash == ["10.00", "10.00", "10.00"] and first["pageInfo"]["hasNextPage"] is True


async def test_qr1_queue_progress_pages_by_position(gql):
    await _qr1(gql)
    await settle_all()
    first = (await gql.data(PROGRESS, {"q": "qr:MALL", "first": 3}))["queueProgress"]
    assert first["queue"] == {"id": "qr:MALL", "model": "queue_rebate", "head": 1, "tail": 4, "pool": "0.00"}
    assert [(e["member"], e["position"], e["remaining"]) for e in first["waiting"]["items"]] == [("A", 1, "70.00"), ("B", 2, "100.00"), ("C", 3, "100.00")]
    assert first["waiting"]["pageInfo"] == {"endCursor": "3", "hasNextPage": True}
    rest = (await gql.data(PROGRESS, {"q": "qr:MALL", "after": "3"}))["queueProgress"]["waiting"]
    assert [e["member"] for e in rest["items"]] == ["D"] and rest["pageInfo"]["hasNextPage"] is False
    assert (await gql.data(PROGRESS, {"q": "qr:NOPE"}))["queueProgress"] is None


async def test_queues_pools_and_settings(gql):
    await _qr1(gql)
    await settle_all()
    data = await gql.data('{ queues { id tail } pools { name balance } settings(model: "queue_rebate") }')
    assert data["queues"] == [{"id": "qr:MALL", "tail": 4}]
    assert {"name": "qr:MALL", "balance": "0.00"} in data["pools"]
    assert data["settings"]["extraction_ratio"] == "10" and data["settings"]["enabled"] is True


async def test_same_event_five_times_at_once_is_one_ticket_and_pays_once(gql):
    await seed_qr1(gql)
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("oA", "A")})
    variables = {"input": paid_order("oB", "B")}
    results = await asyncio.gather(*(gql.data(ORDER_PAID, variables) for _ in range(5)))
    payloads = [r["reportOrderPaid"] for r in results]
    assert all(p["errors"] == [] for p in payloads)
    assert len({p["ticket"]["id"] for p in payloads}) == 1
    assert sorted(p["ticket"]["duplicate"] for p in payloads) == [False, True, True, True, True]
    await settle_all()
    assert (await gql.data(WALLETS, {"id": "A"}))["member"]["wallets"]["cash"] == "10.00"
    assert len((await gql.data(ENTITLEMENTS, {"member": "B"}))["entitlements"]["items"]) == 1
    assert await queries.is_zero_sum()


async def test_completed_refunded_and_bulk_intake(gql):
    await seed_qr1(gql)
    completed = "mutation($i: OrderCompletedInput!) { reportOrderCompleted(input: $i) { ticket { type } errors { code field } } }"
    refunded = "mutation($i: OrderRefundedInput!) { reportOrderRefunded(input: $i) { ticket { type } errors { code field } } }"
    bulk = "mutation($e: [JSON!]!) { reportOrders(events: $e) { results { ticket { id type duplicate } errors { code field } } errors { code } } }"
    events = [{"type": "order.paid", **paid_order(f"o{m}", m)} for m in ("A", "B", "ZZ")]
    results = (await gql.data(bulk, {"e": events}))["reportOrders"]["results"]
    outcome = [r["ticket"]["type"] if r["ticket"] else r["errors"][0] for r in results]
    assert outcome == ["order.paid", "order.paid", {"code": "UNKNOWN_MEMBER", "field": "events.2.member"}]
    assert (await gql.data(completed, {"i": {"key": "oA:completed", "order": "oA"}}))["reportOrderCompleted"]["ticket"] == {"type": "order.completed"}
    assert (await gql.data(refunded, {"i": {"key": "oB:refunded", "order": "oB", "line": 0}}))["reportOrderRefunded"]["ticket"] == {"type": "order.refunded"}
    missing = (await gql.data(completed, {"i": {"key": "oQ:completed", "order": "oQ"}}))["reportOrderCompleted"]
    assert missing == {"ticket": None, "errors": [{"code": "UNKNOWN_ORDER", "field": "order"}]}
    await settle_all()
    [b] = (await gql.data(ENTITLEMENTS, {"member": "B"}))["entitlements"]["items"]
    assert b["status"] == "CANCELLED"
    assert await queries.is_zero_sum()
