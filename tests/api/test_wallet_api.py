"""M-6 withdrawals and member transfers through GraphQL: a member acts only for itself, the
admin reviews the pending queue page by page; zero-sum at the end."""

from __future__ import annotations

import asyncio

from services import queries
from services.replay import settle_all
from tests.api.conftest import ADMIN, INTEGRATION, member_token
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, WALLETS, ok, paid_order, seed_qr1

W = "withdrawal { key member amount fee status requestedBy approvedBy paidBy reference } errors { code field }"
REQUEST = f"mutation($input: RequestWithdrawalInput!) {{ requestWithdrawal(input: $input) {{ {W} }} }}"
APPROVE = f"mutation($input: ReviewWithdrawalInput!) {{ approveWithdrawal(input: $input) {{ {W} }} }}"
REJECT = f"mutation($input: ReviewWithdrawalInput!) {{ rejectWithdrawal(input: $input) {{ {W} }} }}"
PAY = f"mutation($input: PayWithdrawalInput!) {{ payWithdrawal(input: $input) {{ {W} }} }}"
GIVE = "mutation($input: TransferToMemberInput!) { transferToMember(input: $input) { transfer { member to asset amount fee } errors { code field } } }"
PENDING = "query($after: String) { pendingWithdrawals(first: 2, after: $after) { items { key } pageInfo { endCursor hasNextPage } } }"
MINE = "query($m: ID!) { withdrawals(member: $m) { items { key member status } } }"


async def _earn(gql) -> None:
    await seed_qr1(gql)
    for m in "ABCD":
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(f"o{m}", m)})
    await settle_all()  # A has 30.00 of cash


async def test_m6_member_requests_admin_reviews_and_pays(gql):
    await _earn(gql)
    a = member_token("A")
    for i in range(3):
        body = await gql(REQUEST, {"input": {"key": f"w{i}", "amount": "5.00"}}, token=a)
        assert body["data"]["requestWithdrawal"]["withdrawal"]["requestedBy"] == "A"
    other = await gql(REQUEST, {"input": {"key": "wb", "member": "B", "amount": "1.00"}}, token=a)
    assert other["data"]["requestWithdrawal"]["errors"][0]["code"] == "FORBIDDEN"
    over = await gql(REQUEST, {"input": {"key": "wx", "amount": "15.01"}}, token=a)
    assert over["data"]["requestWithdrawal"]["errors"] == [{"code": "INSUFFICIENT_BALANCE", "field": "amount"}]
    first = (await gql.data(PENDING))["pendingWithdrawals"]
    second = (await gql.data(PENDING, {"after": first["pageInfo"]["endCursor"]}))["pendingWithdrawals"]
    assert [w["key"] for w in first["items"] + second["items"]] == ["w0", "w1", "w2"] and not second["pageInfo"]["hasNextPage"]
    denied = await gql(APPROVE, {"input": {"withdrawal": "w0"}}, token=INTEGRATION)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await ok(gql, APPROVE, "approveWithdrawal", {"input": {"withdrawal": "w0"}}))["withdrawal"]["approvedBy"] == "ADMIN"
    twice = await gql.data(APPROVE, {"input": {"withdrawal": "w0"}})
    assert twice["approveWithdrawal"]["errors"][0]["code"] == "INVALID_WITHDRAWAL_STATE"
    paid = await ok(gql, PAY, "payWithdrawal", {"input": {"withdrawal": "w0", "reference": "BANK-7"}})
    assert (paid["withdrawal"]["status"], paid["withdrawal"]["reference"]) == ("PAID", "BANK-7")
    await ok(gql, REJECT, "rejectWithdrawal", {"input": {"withdrawal": "w1"}})
    rejected = await gql.data(PAY, {"input": {"withdrawal": "w1", "reference": "X"}})
    assert rejected["payWithdrawal"]["errors"][0]["code"] == "INVALID_WITHDRAWAL_STATE"
    mine = (await gql.data(MINE, {"m": "A"}, token=a))["withdrawals"]["items"]
    assert [(w["key"], w["status"]) for w in mine] == [("w0", "PAID"), ("w1", "REJECTED"), ("w2", "REQUESTED")]
    assert (await gql(MINE, {"m": "A"}, token=member_token("B")))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await queries.wallets(["A"]))["A"]["cash"] == 20 and await queries.is_zero_sum()


async def test_transfer_to_member_as_the_giver(gql):
    await _earn(gql)
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"exchange_enabled": True, "exchange_to": ["POINTS"]}})
    await ok(gql, "mutation($input: ExchangeEntitlementInput!) { exchangeEntitlement(input: $input) { errors { code } } }", "exchangeEntitlement",
             {"input": {"key": "x1", "entitlement": "oB:0", "to": "POINTS"}})
    await settle_all()
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "wallet", "values": {"enabled": True, "transfer_fee_ratio": "2"}})
    given = await gql.data(GIVE, {"input": {"key": "g1", "to": "C", "asset": "POINTS", "amount": "50.00"}}, token=member_token("B"))
    assert given["transferToMember"]["transfer"] == {"member": "B", "to": "C", "asset": "POINTS", "amount": "50.00", "fee": "1.00"}
    staff = await gql.data(GIVE, {"input": {"key": "g2", "to": "C", "asset": "POINTS", "amount": "1.00"}}, token=ADMIN)
    assert staff["transferToMember"]["errors"] == [{"code": "INVALID_INPUT", "field": "member"}]
    w = await queries.wallets(["B", "C"])
    assert (str(w["C"]["points"]), await queries.is_zero_sum()) == ("49.00", True)


async def test_i5_liabilities_query_and_gauges(gql, http):
    await _earn(gql)
    [row] = (await gql.data("{ liabilities { queue outstanding unpaid pool last7Days { promised paid } expectedWaitDays } }"))["liabilities"]
    assert row["queue"] == "qr:MALL" and (row["outstanding"], row["unpaid"], row["last7Days"]["promised"]) == (4, "370.00", "400.00")
    text = (await http.get("/metrics")).text
    assert 'rebate_liability_unpaid{queue="qr:MALL"} 370.0' in text and 'rebate_liability_outstanding_entitlements{queue="qr:MALL"} 4.0' in text


async def test_wallets_read_with_the_member_and_through_the_loader_agree(gql):
    """`member { wallets }` answers from the balances read with the member; a Member from a
    mutation's payload reads its wallets through the request's loader: the same amounts."""
    await _earn(gql)
    fields = "id wallets { cash points loveValueAvailable coupon receivable }"
    read = (await gql.data(f'{{ member(id: "A") {{ {fields} }} a2: member(id: "A") {{ id }} }}'))["member"]
    upserted = await ok(gql, f"mutation($input: MemberInput!) {{ upsertMember(input: $input) {{ member {{ {fields} }} errors {{ code }} }} }}",
                        "upsertMember", {"input": {"id": "A", "nickname": "a"}})
    assert read["wallets"]["cash"] == "30.00" and read["wallets"]["receivable"] == "0.00"
    assert upserted["member"] == read


async def test_concurrent_member_queries_share_statements_and_each_gets_its_own_member(app, gql):
    """The `member` reads of concurrent requests are coalesced (services/member_reads.py); each
    answer is the one its query gets alone, and a member still sees only itself."""
    await _earn(gql)
    alone = {m: (await gql.data(WALLETS, {"id": m}))["member"] for m in "ABCD"}
    before = app.state.member_reads.statements
    asked = [*"ABCDABCD", "nobody"]
    bodies = await asyncio.gather(*(gql(WALLETS, {"id": m}) for m in asked), gql(WALLETS, {"id": "B"}, token=member_token("A")))
    assert app.state.member_reads.statements - before < len(asked)  # some requests shared a statement
    assert [b["data"]["member"] for b in bodies[:8]] == [alone[m] for m in asked[:8]] and bodies[8] == {"data": {"member": None}}
    assert alone["A"]["wallets"]["cash"] == "30.00" and bodies[9]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
