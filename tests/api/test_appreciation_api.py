"""消费增值 through GraphQL (CA-1..CA-7): pool, holding, price history, sellPoints and subsidizePool
with typed errors, member isolation, and the result on the sale's ticket."""

from __future__ import annotations

from typing import Any

from services import queries
from services.replay import settle_all
from tests.api.conftest import member_token
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, ok, paid_order

COMPLETED = """mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } errors { code field message } } }"""
POOL = "{ appreciationPool { balance circulating price } }"
HOLDING = "query($m: ID!) { appreciationHolding(member: $m) { member points value spend exitPrice } }"
HISTORY = "query($first: Int, $after: String) { appreciationPriceHistory(first: $first, after: $after) { items { id cause price } pageInfo { endCursor hasNextPage } } }"
DAILY = 'query($start: Date!, $days: Int) { appreciationDailyPrices(start: $start, days: $days) { day open close high low changes } }'
SELL = """mutation($input: SellPointsInput!) { sellPoints(input: $input) {
  ticket { id key status sales { member points price value cash forced } } errors { code field message } } }"""
SUBSIDIZE = """mutation($input: SubsidizePoolInput!) { subsidizePool(input: $input) { ticket { id status } errors { code field message } } }"""
TICKET = "query($id: ID!) { appreciationTicket(id: $id) { id status sales { member points price value cash forced } } }"


async def seed(gql: Any) -> None:
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "appreciation", "values": {"enabled": True}})
    for m in "AB":
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    for order, member in (("oA", "A"), ("oB", "B")):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, member, "1000.00")})
        await ok(gql, COMPLETED, "reportOrderCompleted", {"input": {"key": f"{order}:completed", "order": order}})
    await settle_all()


async def test_ca_pool_holding_and_history_through_graphql(gql):
    await seed(gql)
    assert (await gql.data(POOL))["appreciationPool"] == {"balance": "600.00", "circulating": "357.00", "price": "1.68"}
    holding = (await gql.data(HOLDING, {"m": "A"}, token=member_token("A")))["appreciationHolding"]
    assert holding == {"member": "A", "points": "210.00", "value": "352.94", "spend": "1000.00", "exitPrice": "14.29"}
    first = (await gql.data(HISTORY, {"first": 1}))["appreciationPriceHistory"]
    assert [i["price"] for i in first["items"]] == ["1.43"] and first["pageInfo"]["hasNextPage"]
    rest = (await gql.data(HISTORY, {"first": 5, "after": first["pageInfo"]["endCursor"]}))["appreciationPriceHistory"]
    assert [(i["cause"], i["price"]) for i in rest["items"]] == [("MINT", "1.68")] and not rest["pageInfo"]["hasNextPage"]
    days = (await gql.data(DAILY, {"start": "2026-03-01", "days": 1}, token=member_token("B")))["appreciationDailyPrices"]
    assert len(days) == 1


async def test_ca3_sell_points_as_the_member_with_the_result_on_the_ticket(gql):
    await seed(gql)
    payload = (await gql.data(SELL, {"input": {"key": "s1", "points": "10.00"}}, token=member_token("A")))["sellPoints"]
    assert payload["errors"] == [] and payload["ticket"]["status"] == "PENDING" and payload["ticket"]["sales"] == []
    await settle_all()
    ticket = (await gql.data(TICKET, {"id": payload["ticket"]["id"]}, token=member_token("A")))["appreciationTicket"]
    assert ticket["status"] == "DONE"
    assert ticket["sales"] == [{"member": "A", "points": "10.00", "price": "1.68", "value": "16.81", "cash": "13.45", "forced": False}]
    assert (await gql.data(TICKET, {"id": payload["ticket"]["id"]}, token=member_token("B")))["appreciationTicket"] is None  # not B's
    assert await queries.is_zero_sum()


async def test_ca3_a_member_cannot_sell_for_another_an_admin_can(gql):
    await seed(gql)
    other = (await gql.data(SELL, {"input": {"key": "s1", "points": "1.00", "member": "B"}}, token=member_token("A")))["sellPoints"]
    assert other["ticket"] is None and other["errors"][0]["code"] == "FORBIDDEN"
    admin = (await gql.data(SELL, {"input": {"key": "s2", "points": "147.00", "member": "B"}}))["sellPoints"]
    assert admin["errors"] == []
    unnamed = (await gql.data(SELL, {"input": {"key": "s3", "points": "1.00"}}))["sellPoints"]
    assert unnamed["errors"][0]["code"] == "INVALID_INPUT"
    await settle_all()
    assert (await gql.data(HOLDING, {"m": "B"}))["appreciationHolding"]["points"] == "0.00"
    denied = await gql(HOLDING, {"m": "B"}, token=member_token("A"))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_ca_bad_sales_and_subsidies_are_typed_errors_and_write_nothing(gql):
    await seed(gql)
    for points, code in (("211.00", "INSUFFICIENT_POINTS"), ("0", "INVALID_AMOUNT"), ("-1.00", "INVALID_AMOUNT"), ("1.001", "INVALID_AMOUNT")):
        body = await gql(SELL, {"input": {"key": f"bad{points}", "points": points}}, token=member_token("A"))
        if "errors" in body:  # the Money scalar refuses some forms before the resolver
            assert body["errors"][0]["extensions"]["code"] in ("MALFORMED_DECIMAL", "INVALID_AMOUNT"), body
            continue
        assert body["data"]["sellPoints"]["errors"][0]["code"] == code, (points, body)
    for amount in ("0", "-5.00"):
        body = await gql(SUBSIDIZE, {"input": {"key": f"f{amount}", "amount": amount}})
        assert "errors" in body or body["data"]["subsidizePool"]["errors"][0]["code"] == "INVALID_AMOUNT", body
    member = await gql(SUBSIDIZE, {"input": {"key": "f1", "amount": "10.00"}}, token=member_token("A"))
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await settle_all() == 0
    assert (await gql.data(POOL))["appreciationPool"]["balance"] == "600.00"


async def test_ca5_subsidize_pool_as_admin_raises_the_price(gql):
    await seed(gql)
    assert (await ok(gql, SUBSIDIZE, "subsidizePool", {"input": {"key": "f1", "amount": "300.00"}}))["ticket"]["status"] == "PENDING"
    await settle_all()
    assert (await gql.data(POOL))["appreciationPool"] == {"balance": "900.00", "circulating": "357.00", "price": "2.52"}
