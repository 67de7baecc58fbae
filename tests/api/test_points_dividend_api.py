"""积分分红 through GraphQL: plans, a day's release, the team view, ops views, the admin
mutations (PD-7, PD-9) and member isolation."""

from __future__ import annotations

from services import queries
from services.replay import settle_all
from tests.api.conftest import member_token
from tests.api.scenario import ORDER_PAID, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, ok, paid_order

COMPLETED = """mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } errors { code field message } } }"""
RUN = """mutation($day: String) { runPointsDividendRelease(day: $day) { ticket { id key duplicate } errors { code field message } } }"""
ADJUST = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { ticket { id duplicate } errors { code field message } } }"""
PLANS = """query($m: ID!) { pointsPlans(member: $m) { key granted released remaining dailyAmount status tier } }"""
RELEASE = """query($m: ID!, $d: String!) { pointsRelease(member: $m, day: $d) { static share team sameLevel total } }"""
TEAM = """query($m: ID!, $first: Int, $after: String) { team(member: $m, first: $first, after: $after) {
  member { teamSize teamPerformance points cash tier } directReferrals { member teamSize } endCursor } }"""
OVERVIEW = """query($d: String) { pointsDividendOverview(first: 2, day: $d) { largestTeams { member teamSize } tierCounts { tier members }
  day { done members static share } } }"""
DAY = "2026-03-02"


async def seed(gql) -> None:
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "points_dividend", "values": {"enabled": True}})
    for m, ref in (("A", None), ("B", "A"), ("C", "A"), ("D", "A")):
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m, "referrer": ref}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED"}})
    for order, member, amount in (("oA", "A", "3000.00"), ("oB", "B", "3000.00"), ("oC", "C", "60000.00")):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, member, amount)})
        await ok(gql, COMPLETED, "reportOrderCompleted", {"input": {"key": f"{order}:completed", "order": order}})
    await settle_all()


async def test_pd_plans_release_and_team_through_graphql(gql):
    await seed(gql)
    first = (await ok(gql, RUN, "runPointsDividendRelease", {"day": DAY}))["ticket"]
    await settle_all()
    again = (await ok(gql, RUN, "runPointsDividendRelease", {"day": DAY}))["ticket"]
    assert again == {**first, "duplicate": True}
    [plan] = (await gql.data(PLANS, {"m": "B"}))["pointsPlans"]
    assert plan == {"key": "oB", "granted": "7500.00", "released": "36.00", "remaining": "7464.00", "dailyAmount": "36.00", "status": "ACTIVE", "tier": "junior"}
    release = (await gql.data(RELEASE, {"m": "A", "d": DAY}))["pointsRelease"]
    # A: static 36; share 50 % of B's 36 and C's 720 = 378; team bronze 10 % of 756 = 75.60
    assert release == {"static": "36.00", "share": "378.00", "team": "75.60", "sameLevel": "0.00", "total": "489.60"}
    team = (await gql.data(TEAM, {"m": "A", "first": 2}))["team"]
    assert team["member"] == {"teamSize": 3, "teamPerformance": "63000.00", "points": "0.00", "cash": "63000.00", "tier": "bronze"}
    assert [r["member"] for r in team["directReferrals"]] == ["B", "C"] and team["endCursor"] == "C"
    rest = (await gql.data(TEAM, {"m": "A", "first": 2, "after": "C"}))["team"]
    assert [r["member"] for r in rest["directReferrals"]] == ["D"] and rest["endCursor"] is None
    overview = (await gql.data(OVERVIEW, {"d": DAY}))["pointsDividendOverview"]
    assert overview["largestTeams"][0] == {"member": "A", "teamSize": 3}
    assert {"tier": "bronze", "members": 1} in overview["tierCounts"]
    assert overview["day"] == {"done": True, "members": 4, "static": "792.00", "share": "378.00"}
    assert await queries.is_zero_sum()


async def test_pd7_adjust_points_with_a_reason_and_refused_below_zero(gql):
    await seed(gql)
    body = (await gql.data(ADJUST, {"input": {"key": "a1", "member": "B", "amount": "-1.00", "reason": "x"}}))["adjustPoints"]
    assert body["ticket"] is None and body["errors"][0]["code"] == "INSUFFICIENT_POINTS"
    await ok(gql, ADJUST, "adjustPoints", {"input": {"key": "a2", "member": "B", "amount": "12.50", "reason": "welcome"}})
    await settle_all()
    assert (await queries.wallets(["B"]))["B"]["points"] == 12.5 and await queries.is_zero_sum()
    bad = (await gql.data(RUN, {"day": "tomorrow"}))["runPointsDividendRelease"]
    assert bad["errors"][0]["code"] == "INVALID_INPUT" and bad["errors"][0]["field"] == "day"


async def test_members_see_only_their_own_points_data(gql):
    await seed(gql)
    own = await gql(PLANS, {"m": "B"}, token=member_token("B"))
    assert own.get("errors") is None and own["data"]["pointsPlans"][0]["key"] == "oB"
    for query, variables in ((PLANS, {"m": "A"}), (RELEASE, {"m": "A", "d": DAY}), (TEAM, {"m": "A"})):
        body = await gql(query, variables, token=member_token("B"))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for mutation, variables in ((RUN, {"day": DAY}), (ADJUST, {"input": {"key": "x", "member": "B", "amount": "1.00", "reason": "x"}})):
        body = await gql(mutation, variables, token=member_token("B"))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(OVERVIEW, {}, token=member_token("B"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
