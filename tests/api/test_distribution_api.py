"""分销 through GraphQL: settings, agents, shareholders, earnings by kind, ops totals, the
shareholder dividend mutation and the compliance report (DR-1..DR-8)."""

from __future__ import annotations

from services.replay import settle_all
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, UPSERT_STORE, WALLETS, ok, paid_order

COMPLETED = """mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } errors { code field message } } }"""
AGENT = """mutation($m: ID, $l: String!, $r: String!) { assignAgent(member: $m, level: $l, region: $r) { ok errors { code field message } } }"""
SHAREHOLDER = """mutation($m: ID!, $w: String!) { setShareholder(member: $m, weight: $w) { ok errors { code field message } } }"""
DIVIDEND = """mutation($p: String) { runShareholderDividend(period: $p) { ticket { key duplicate } errors { code field message } } }"""
EARNINGS = """query($m: ID!) { distributionEarnings(member: $m) { kind amount } }"""
READS = """{ distributionSettings { enabled referralRatios agentRatios { district city province } shareholderPeriod }
  distributionAgents { member level region } shareholders { member weight } distributionTotals { kind amount }
  complianceReport { model setting value limit status } }"""


async def seed(gql) -> None:
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "distribution", "values": {"enabled": True, "referral_ratios": ["0.3", "0.2"]}})
    for m, r in (("A", None), ("B", "A"), ("C", "B"), ("X", None), ("Y", None)):
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m, "referrer": r}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": "S1", "recruiter": "Y", "region": "广东/东莞/南城"}})
    await ok(gql, AGENT, "assignAgent", {"m": "X", "l": "CITY", "r": "广东/东莞"})
    await ok(gql, SHAREHOLDER, "setShareholder", {"m": "Y", "w": "2"})
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("o1", "C", "1000.00", channel="STORE_ONLINE", store="S1")})
    await ok(gql, COMPLETED, "reportOrderCompleted", {"input": {"key": "o1:completed", "order": "o1"}})
    await settle_all()


async def test_dr_rewards_earnings_and_totals(gql):
    await seed(gql)
    assert (await gql.data(WALLETS, {"id": "B"}))["member"]["wallets"]["cash"] == "3.00"
    assert (await gql.data(EARNINGS, {"m": "A"}))["distributionEarnings"] == [{"kind": "REFERRAL", "amount": "2.00"}]
    # X: city 0.2 % with no district agent; Y: 0.5 % recruitment of its store's order
    assert (await gql.data(EARNINGS, {"m": "X"}))["distributionEarnings"] == [{"kind": "AGENT", "amount": "2.00"}]
    assert (await gql.data(EARNINGS, {"m": "Y"}))["distributionEarnings"] == [{"kind": "RECRUIT", "amount": "5.00"}]
    body = await gql.data(READS)
    assert body["distributionSettings"] == {"enabled": True, "referralRatios": ["0.3", "0.2"], "agentRatios": {"district": "0.1", "city": "0.2", "province": "0.3"},
                                            "shareholderPeriod": "MONTHLY"}
    assert body["distributionAgents"] == [{"member": "X", "level": "CITY", "region": "广东/东莞"}]
    assert body["shareholders"] == [{"member": "Y", "weight": "2"}]
    assert body["distributionTotals"] == [{"kind": "AGENT", "amount": "2.00"}, {"kind": "RECRUIT", "amount": "5.00"}, {"kind": "REFERRAL", "amount": "5.00"}]
    assert body["complianceReport"] == []


async def test_dr6_dividend_mutation_is_idempotent_per_period(gql):
    await seed(gql)
    first = (await ok(gql, DIVIDEND, "runShareholderDividend", {"p": "2026-01"}))["ticket"]
    await settle_all()
    again = (await ok(gql, DIVIDEND, "runShareholderDividend", {"p": "2026-01"}))["ticket"]
    await settle_all()
    assert first == {"key": "distribution.shareholder_dividend:2026-01", "duplicate": False} and again["duplicate"] is True
    assert (await gql.data(WALLETS, {"id": "Y"}))["member"]["wallets"]["cash"] == "15.00"  # 5.00 recruitment + 1 % of 1 000
    bad = (await gql.data(DIVIDEND, {"p": "January"}))["runShareholderDividend"]
    assert bad["ticket"] is None and bad["errors"][0]["code"] == "INVALID_INPUT"


async def test_bad_inputs_are_typed_errors(gql):
    await seed(gql)
    body = (await gql.data(AGENT, {"m": "X", "l": "TOWN", "r": "广东"}))["assignAgent"]
    assert body["ok"] is False and body["errors"][0]["code"] == "INVALID_INPUT"
    body = (await gql.data(SHAREHOLDER, {"m": "Y", "w": "1e3"}))["setShareholder"]
    assert body["errors"][0]["code"] == "INVALID_RATIO"
    body = (await gql.data(SET_SETTINGS, {"model": "distribution", "values": {"recruit_ratio": "200"}}))["setSettings"]
    assert body["errors"][0]["code"] == "INVALID_RATIO" and body["errors"][0]["field"] == "values.recruit_ratio"
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "compliance", "values": {"enforce": True}})
    body = (await gql.data(SET_SETTINGS, {"model": "distribution", "values": {"referral_ratios": ["1", "1", "1", "1"]}}))["setSettings"]
    assert body["errors"][0]["code"] == "COMPLIANCE_LIMIT"
