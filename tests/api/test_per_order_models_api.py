"""Order dividend and union queue through GraphQL: settings, orders with profit, the ops
settlement mutation, the forecast (UQ-5) and the dividend queue (OD-1)."""

from __future__ import annotations

from services import queries
from services.replay import settle_all
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, WALLETS, ok, paid_order

COMPLETED = """mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } errors { code field message } } }"""
RUN = """mutation($day: String) { runUnionQueueSettlement(day: $day) { ticket { id key duplicate } errors { code field message } } }"""
FORECAST = """query($m: ID!) { unionQueueForecast(member: $m) { entitlement { key total received position } owedUpToHere days } }"""
DIVIDEND = "{ dividendQueue { active { key received total status } waiting { key } pool } }"


async def seed(gql) -> None:
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "union_queue", "values": {"enabled": True, "pool_ratio": "60", "quota_ratio": "110"}})
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "order_dividend", "values": {"enabled": True, "referral_ratio": "0"}})
    for m in "AB":
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    for order, member, profit in (("oA", "A", "2000.00"), ("oB", "B", "500.00")):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, member, "1000.00", profit=profit)})
        await ok(gql, COMPLETED, "reportOrderCompleted", {"input": {"key": f"{order}:completed", "order": order}})
    await settle_all()


async def test_uq5_forecast_and_the_ops_settlement(gql):
    await seed(gql)
    [b] = (await gql.data(FORECAST, {"m": "B"}))["unionQueueForecast"]
    # pool 1200 + 300 = 1500; owed up to B 2200, 700 beyond the pool; inflow 1500 / 7 = 214.28 a day
    assert b == {"entitlement": {"key": "oB", "total": "1100.00", "received": "0.00", "position": 2}, "owedUpToHere": "2200.00", "days": 4}
    first = (await ok(gql, RUN, "runUnionQueueSettlement", {"day": "2026-03-01"}))["ticket"]
    await settle_all()
    again = (await ok(gql, RUN, "runUnionQueueSettlement", {"day": "2026-03-01"}))["ticket"]
    await settle_all()
    assert again == {**first, "duplicate": True}
    wallets = (await gql.data(WALLETS, {"id": "A"}))["member"]["wallets"]
    assert wallets["cash"] == "1900.00"  # 800.00 order dividend + 1100.00 union queue
    assert (await queries.pools())["uq"] == 400 and await queries.is_zero_sum()


async def test_od1_dividend_queue(gql):
    await seed(gql)
    body = (await gql.data(DIVIDEND))["dividendQueue"]
    assert body == {"active": [{"key": "oA", "received": "800.00", "total": "1000.00", "status": "ACTIVE"},
                               {"key": "oB", "received": "0.00", "total": "1000.00", "status": "ACTIVE"}], "waiting": [], "pool": "0.00"}


async def test_bad_settlement_day_is_a_typed_error(gql):
    body = (await gql.data(RUN, {"day": "yesterday"}))["runUnionQueueSettlement"]
    assert body["ticket"] is None and body["errors"][0]["code"] == "INVALID_INPUT" and body["errors"][0]["field"] == "day"
