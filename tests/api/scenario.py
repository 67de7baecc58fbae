"""Small builders for GraphQL scenarios (the QR-1 seed through mutations)."""

from __future__ import annotations

from typing import Any

QR1_SETTINGS = {
    "enabled": True,
    "extraction_ratio": "10",
    "reward_ratio": "100",
    "surplus": "PLATFORM",
    "settle_on": "ON_PAY",
    "reward_rule": "QUEUE_ORDER",
    "mall_queue": True,
}

SET_SETTINGS = """mutation($model: String!, $values: JSON!) {
  setSettings(model: $model, values: $values) { settings { model version values } errors { code field message } }
}"""
UPSERT_MEMBER = """mutation($input: MemberInput!) {
  upsertMember(input: $input) { member { id referrer } errors { code field message } }
}"""
UPSERT_PRODUCT = """mutation($input: ProductInput!) {
  upsertProduct(input: $input) { product { id source listed queueRebate { enabled extractionRatio rewardRatio } } errors { code field message } }
}"""
UPSERT_STORE = """mutation($input: StoreInput!) {
  upsertStore(input: $input) { store { id } errors { code field message } }
}"""
ORDER_PAID = """mutation($input: OrderPaidInput!) {
  reportOrderPaid(input: $input) { ticket { id key type status duplicate } errors { code field message } }
}"""
WALLETS = """query($id: ID!) {
  member(id: $id) { id wallets { cash points loveValueAvailable loveValueFrozen coupon receivable } }
}"""
ENTITLEMENTS = """query($member: ID, $queue: String, $after: String, $first: Int) {
  entitlements(member: $member, queue: $queue, after: $after, first: $first) {
    items { key member model queue position order total received remaining status ratio ratioSource }
    pageInfo { endCursor hasNextPage }
  }
}"""


def paid_order(order: str, member: str, paid: str = "100.00", product: str | None = "P1", **extra: Any) -> dict[str, Any]:
    """An OrderPaidInput of one line."""
    line = {"product": product, "quantity": 1, "paid": paid, "deduction": "0.00"}
    return {"key": f"{order}:paid", "order": order, "member": member, "lines": [line], **extra}


async def ok(gql: Any, mutation: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation that must succeed; returns its payload."""
    payload = (await gql.data(mutation, variables))[name]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def seed_qr1(gql: Any, members: tuple[str, ...] = ("A", "B", "C", "D")) -> None:
    """QR-1 settings, the members and the mall product P1."""
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": QR1_SETTINGS})
    for m in members:
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"enabled": True}}})
