"""Queue rebate settings through GraphQL (QR-10..QR-20, I-1..I-3): typed per-product / store /
cashier settings, the parsed plugin settings, member actions (draw, exchange) with ownership,
the QR-18 display settings of the queue-progress page, and the reset run. Real SQLite + Redis;
the workers' jobs are settled in-process with `settle_all()`. Amounts are hand-checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import services.queue_rebate as worker
from api.view import RebateGraphQL
from services import queries
from services.replay import settle_all
from store.models import Product
from tests.api.conftest import INTEGRATION, member_token, merchant_token
from tests.api.scenario import ENTITLEMENTS, ORDER_PAID, QR1_SETTINGS, SET_SETTINGS, UPSERT_MEMBER, WALLETS, ok, paid_order

SETTINGS_FIELDS = """enabled extractionRatio rewardRatio memberLevelRatios { level ratio } cumulativeTiers { windowDays threshold ratio }
  lottery { mode ratios min max } rewardPeriods { start end weekdays } maxPerMemberPerDay maxPerMemberTotal
  randomReturn { enabled cashCount pointsCount }"""
UPSERT_PRODUCT = f"""mutation($input: ProductInput!) {{
  upsertProduct(input: $input) {{ product {{ id source store queueRebate {{ {SETTINGS_FIELDS} }} }} errors {{ code field message }} }}
}}"""
UPSERT_STORE = f"""mutation($input: StoreInput!) {{
  upsertStore(input: $input) {{ store {{ id queueRebate {{ {SETTINGS_FIELDS} }} }} errors {{ code field message }} }}
}}"""
UPSERT_CASHIER = f"""mutation($input: CashierInput!) {{
  upsertCashier(input: $input) {{ cashier {{ id store queueRebate {{ {SETTINGS_FIELDS} }} }} errors {{ code field message }} }}
}}"""
DRAW = """mutation($input: DrawLotteryInput!) { drawLottery(input: $input) { ticket { id key type status duplicate } errors { code field message } } }"""
EXCHANGE = """mutation($input: ExchangeEntitlementInput!) {
  exchangeEntitlement(input: $input) { ticket { id key type status duplicate } errors { code field message } }
}"""
RESETS = """mutation { runQueueRebateResets { tickets { key type status } errors { code field message } } }"""
DETAILS = """query($member: ID!) {
  entitlements(member: $member) { items { key total received remaining status ratio ratioSource lotterySource drawnRatio drawnAt
    exchangedTo exchangedAmount canDraw } }
}"""
PROGRESS = """query($q: String!) {
  queueProgress(queue: $q) {
    queue { id head tail }
    waiting { items { key own member memberNickname memberAvatar queue position total received remaining status } }
    pendingCount pendingAmount modelDisplayName exchangeButtonName
  }
}"""
PLUGIN = """{ queueRebateSettings { version enabled extractionRatio rewardRatio surplus settleOn rewardRule mallQueue deduction paused
  memberLevelRatios { level ratio } lottery { mode ratios min max } exchangeEnabled exchangeTo exchangeRatio loveValueFrozen
  modelDisplayName exchangeButtonName randomReturn { enabled cashCount pointsCount } reset { enabled schedule time weekday day at }
  showQueueProgress showCumulative showPendingCount showMemberInfo showPendingAmount } }"""
EXCHANGE_ON = {"exchange_enabled": True, "exchange_to": ["POINTS", "LOVE_VALUE"], "exchange_ratio": "150"}
HIDE_ALL = {"show_queue_progress": False, "show_cumulative": False, "show_pending_count": False, "show_member_info": False, "show_pending_amount": False}


async def act(gql, mutation: str, name: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """A mutation as `token`'s caller that must succeed; returns its payload."""
    payload = (await gql.data(mutation, variables, token=token))[name]
    assert payload["errors"] == [], payload["errors"]
    return payload


def code(body: dict[str, Any]) -> str:
    return body["errors"][0]["extensions"]["code"]


def scripted(*values: int) -> Callable[[int], int]:
    it = iter(values)

    def rand(n: int) -> int:
        v = next(it)
        assert 0 <= v < n, (v, n)
        return v

    return rand


async def setup(gql, settings: dict[str, Any] | None = None, members: dict[str, dict[str, Any]] | None = None, **product: Any) -> None:
    """QR-1 plugin settings (over-ridden by `settings`), the members, and the mall product P1 with `product` as its queueRebate."""
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {**QR1_SETTINGS, **(settings or {})}})
    for m, profile in (members or {m: {} for m in "ABCD"}).items():
        await ok(gql, UPSERT_MEMBER, "upsertMember", {"input": {"id": m, **profile}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"enabled": True, **product}}})


async def pay(gql, *orders: tuple[str, str, str]) -> None:
    for order, who, amount in orders:
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, who, amount)})


async def entitlement(gql, member: str, key: str) -> dict[str, Any]:
    items = (await gql.data(DETAILS, {"member": member}))["entitlements"]["items"]
    return next(e for e in items if e["key"] == key)


async def statuses(gql, *members: str) -> dict[str, str]:
    out = {}
    for m in members:
        out.update({e["key"]: e["status"] for e in (await gql.data(ENTITLEMENTS, {"member": m}))["entitlements"]["items"]})
    return out


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime | None], None]:
    """`clock(t)`: later requests see `t` as the engine's clock (`None`: the wall clock again)."""
    current: dict[str, datetime | None] = {"now": None}
    original = RebateGraphQL.get_context

    async def get_context(self: RebateGraphQL, request: Any, response: Any) -> Any:
        context = await original(self, request, response)
        if current["now"] is not None:
            fixed = current["now"]
            context.now = lambda: fixed
        return context

    monkeypatch.setattr(RebateGraphQL, "get_context", get_context)
    return lambda when: current.update(now=when)


# --- QR-20 typed entity settings ---------------------------------------------------------


async def test_qr10_product_member_level_ratios_beat_the_plugin_ones_and_default(gql):
    await setup(gql, {"member_level_ratios": {"gold": "130", "bronze": "105"}},
                {"G": {"level": "gold"}, "S": {"level": "silver"}, "Z": {"level": "bronze"}, "N": {}})
    product = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {
        "enabled": True, "memberLevelRatios": [{"level": "silver", "ratio": "120.5"}, {"level": "gold", "ratio": "150"}]}}}))["upsertProduct"]["product"]
    assert product["queueRebate"]["memberLevelRatios"] == [{"level": "gold", "ratio": "150"}, {"level": "silver", "ratio": "120.5"}]
    await pay(gql, ("g1", "G", "168.00"), ("s1", "S", "168.00"), ("z1", "Z", "168.00"), ("n1", "N", "168.00"))
    await settle_all()
    got = {m: (await gql.data(ENTITLEMENTS, {"member": m}))["entitlements"]["items"][0] for m in ("G", "S", "Z", "N")}
    # 168 × 150 % = 252.00 (product gold, not the plugin's 130); 168 × 120.5 % = 202.44; bronze: only the plugin's 105 → 176.40; no level: default 100
    assert {m: (e["total"], e["ratio"], e["ratioSource"]) for m, e in got.items()} == {
        "G": ("252.00", "150", "product.member_level"), "S": ("202.44", "120.5", "product.member_level"),
        "Z": ("176.40", "105", "plugin.member_level"), "N": ("168.00", "100", "plugin.reward_ratio"),
    }
    assert await queries.is_zero_sum()


async def test_qr20_level_ratio_errors_name_the_input_path(gql):
    await setup(gql)
    dup = {"memberLevelRatios": [{"level": "gold", "ratio": "150"}, {"level": "gold", "ratio": "120"}]}
    bad = {"memberLevelRatios": [{"level": "gold", "ratio": "150"}, {"level": "vip_1", "ratio": "abc"}]}
    for settings, field in ((dup, "queueRebate.memberLevelRatios[1].level"), (bad, "queueRebate.memberLevelRatios[1].ratio")):
        payload = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": settings}}))["upsertProduct"]
        assert payload["product"] is None and payload["errors"][0]["field"] == field, payload


TIERS = [{"windowDays": 30, "threshold": "2000.00", "ratio": "50"}, {"windowDays": 30, "threshold": "5000.00", "ratio": "60"},
         {"windowDays": 60, "threshold": "10000.00", "ratio": "100"}]
FULL = {
    "enabled": True, "extractionRatio": "65", "rewardRatio": "130", "cumulativeTiers": TIERS,
    "lottery": {"mode": "RANGE", "min": "10", "max": "20.5"},
    "rewardPeriods": [{"start": "09:00", "end": "24:00", "weekdays": [2, 1]}, {"start": "00:00", "end": "06:30"}],
    "maxPerMemberPerDay": 2, "maxPerMemberTotal": 5, "randomReturn": {"enabled": True, "cashCount": 2},
}
FULL_OUT = {
    "enabled": True, "extractionRatio": "65", "rewardRatio": "130", "memberLevelRatios": [], "cumulativeTiers": TIERS,
    "lottery": {"mode": "RANGE", "ratios": [], "min": "10", "max": "20.5"},
    "rewardPeriods": [{"start": "09:00", "end": "24:00", "weekdays": [1, 2]}, {"start": "00:00", "end": "06:30", "weekdays": []}],
    "maxPerMemberPerDay": 2, "maxPerMemberTotal": 5, "randomReturn": {"enabled": True, "cashCount": 2, "pointsCount": 1},
}


async def test_qr11_tiers_and_every_setting_round_trip_and_bad_tiers_keep_the_old_settings(gql):
    await setup(gql)
    product = (await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": FULL}}))["product"]
    assert product["queueRebate"] == FULL_OUT
    stored = dict((await Product.get(id="P1")).queue_rebate)
    unsorted = [TIERS[2], TIERS[0]]
    duplicate = [TIERS[0], {**TIERS[0], "ratio": "55"}]
    for tiers in (unsorted, duplicate):
        payload = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {**FULL, "cumulativeTiers": tiers}}}))["upsertProduct"]
        assert payload["product"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_SETTINGS", "queueRebate.cumulativeTiers[1]")]
        assert dict((await Product.get(id="P1")).queue_rebate) == stored  # nothing written (C-8)
    lottery = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"lottery": {"mode": "RANGE", "min": "30"}}}}))
    assert [(e["code"], e["field"]) for e in lottery["upsertProduct"]["errors"]] == [("INVALID_SETTINGS", "queueRebate.lottery.max")]
    period = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"rewardPeriods": [{"start": "10:00", "end": "09:00"}]}}}))
    assert [(e["code"], e["field"]) for e in period["upsertProduct"]["errors"]] == [("INVALID_SETTINGS", "queueRebate.rewardPeriods[0].end")]
    limit = (await gql.data(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"maxPerMemberTotal": 0}}}))
    assert [(e["code"], e["field"]) for e in limit["upsertProduct"]["errors"]] == [("INVALID_SETTINGS", "queueRebate.maxPerMemberTotal")]
    assert dict((await Product.get(id="P1")).queue_rebate) == stored


async def test_qr20_store_cashier_and_store_product_levels(gql):
    await setup(gql)
    store = (await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": "S1", "queueRebate": {
        "memberLevelRatios": [{"level": "gold", "ratio": "140"}], "randomReturn": {"enabled": False}}}}))["store"]
    assert store["queueRebate"]["memberLevelRatios"] == [{"level": "gold", "ratio": "140"}]
    assert store["queueRebate"]["randomReturn"] == {"enabled": False, "cashCount": 1, "pointsCount": 1}
    cashier = (await ok(gql, UPSERT_CASHIER, "upsertCashier", {"input": {"id": "K1", "store": "S1", "queueRebate": {
        "lottery": {"mode": "FIXED", "ratios": ["10", "20", "50"]}, "maxPerMemberPerDay": 3}}}))["cashier"]
    assert cashier["queueRebate"]["lottery"] == {"mode": "FIXED", "ratios": ["10", "20", "50"], "min": None, "max": None}
    assert (cashier["store"], cashier["queueRebate"]["maxPerMemberPerDay"], cashier["queueRebate"]["enabled"]) == ("S1", 3, None)
    sp = (await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "SP1", "source": "STORE", "store": "S1", "queueRebate": {"rewardRatio": "110"}}}))["product"]
    assert (sp["source"], sp["store"], sp["queueRebate"]["rewardRatio"], sp["queueRebate"]["cumulativeTiers"]) == ("STORE", "S1", "110", [])
    bad = (await gql.data(UPSERT_CASHIER, {"input": {"id": "K1", "store": "S1", "queueRebate": {"lottery": {"mode": "FIXED", "ratios": ["10", "0"]}}}}))
    assert [(e["code"], e["field"]) for e in bad["upsertCashier"]["errors"]] == [("INVALID_RATIO", "queueRebate.lottery.ratios[1]")]


async def test_qr19_bulk_enable_keeps_the_other_settings_and_leaves_store_products(gql):
    await setup(gql)
    await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": "S1"}})
    for pid, source, store, qr in (("P1", "SELF_OPERATED", None, {"enabled": False, "rewardRatio": "120"}), ("P2", "SUPPLIER", None, None),
                                   ("P3", "SUPPLY_CHAIN", None, {"enabled": False}), ("SP1", "STORE", "S1", {"enabled": False})):
        await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": pid, "source": source, "store": store, "queueRebate": qr}})
    bulk = "mutation($e: Boolean!) { bulkEnableProducts(enabled: $e) { count errors { code } } }"
    assert (await gql.data(bulk, {"e": True}))["bulkEnableProducts"] == {"count": 3, "errors": []}
    rows = {p.id: dict(p.queue_rebate) for p in await Product.all()}
    assert rows == {"P1": {"enabled": True, "reward_ratio": "120.0000"}, "P2": {"enabled": True}, "P3": {"enabled": True}, "SP1": {"enabled": False}}
    assert code(await gql(bulk, {"e": True}, token=member_token("A"))) == "FORBIDDEN"


# --- plugin settings -----------------------------------------------------------------------


async def test_queue_rebate_settings_are_typed_and_readable_by_members(gql):
    fresh = (await gql.data(PLUGIN))["queueRebateSettings"]
    assert (fresh["version"], fresh["enabled"], fresh["modelDisplayName"], fresh["exchangeButtonName"], fresh["showMemberInfo"]) == (0, False, "排队返利", "兑换", True)
    await setup(gql, {**EXCHANGE_ON, **HIDE_ALL, "show_cumulative": True, "model_display_name": "共享链", "exchange_button_name": "换积分",
                      "member_level_ratios": {"gold": "130"}, "lottery": {"mode": "FIXED", "ratios": ["10", "20"]}, "surplus": "CARRY",
                      "reset": {"enabled": True, "schedule": "WEEKLY", "weekday": 7, "time": "03:30"}})
    got = (await gql.data(PLUGIN, token=member_token("A")))["queueRebateSettings"]
    assert got == {
        "version": 1, "enabled": True, "extractionRatio": "10", "rewardRatio": "100", "surplus": "CARRY", "settleOn": "ON_PAY",
        "rewardRule": "QUEUE_ORDER", "mallQueue": True, "deduction": "PARTICIPATE", "paused": False,
        "memberLevelRatios": [{"level": "gold", "ratio": "130"}], "lottery": {"mode": "FIXED", "ratios": ["10", "20"], "min": None, "max": None},
        "exchangeEnabled": True, "exchangeTo": ["POINTS", "LOVE_VALUE"], "exchangeRatio": "150", "loveValueFrozen": False,
        "modelDisplayName": "共享链", "exchangeButtonName": "换积分", "randomReturn": {"enabled": False, "cashCount": 1, "pointsCount": 1},
        "reset": {"enabled": True, "schedule": "WEEKLY", "time": "03:30", "weekday": 7, "day": 1, "at": None},
        "showQueueProgress": False, "showCumulative": True, "showPendingCount": False, "showMemberInfo": False, "showPendingAmount": False,
    }
    assert code(await gql(PLUGIN, token=None)) == "UNAUTHENTICATED"


# --- QR-12 draw, QR-14 exchange -------------------------------------------------------------


async def test_qr12_draw_through_the_mutation_recomputes_the_total(gql, monkeypatch):
    await setup(gql, lottery={"mode": "FIXED", "ratios": ["50", "150", "200"]})
    await pay(gql, ("oA", "A", "100.00"))
    await settle_all()
    before = await entitlement(gql, "A", "oA:0")
    assert (before["total"], before["lotterySource"], before["canDraw"], before["drawnRatio"], before["drawnAt"]) == ("100.00", "product.lottery", True, None, None)
    monkeypatch.setattr(worker, "RANDOM", scripted(1))  # the second of three outcomes: 150 %
    payload = await act(gql, DRAW, "drawLottery", {"input": {"key": "draw:oA:0", "entitlement": "oA:0"}}, token=member_token("A"))
    assert (payload["ticket"]["key"], payload["ticket"]["type"], payload["ticket"]["status"]) == ("draw:oA:0", "entitlement.draw", "PENDING")
    await settle_all()
    after = await entitlement(gql, "A", "oA:0")
    assert (after["total"], after["ratio"], after["ratioSource"], after["drawnRatio"], after["canDraw"]) == ("150.00", "150", "product.lottery", "150", False)
    assert datetime.fromisoformat(after["drawnAt"]).tzinfo is not None
    again = (await gql.data(DRAW, {"input": {"key": "draw:oA:0:again", "entitlement": "oA:0"}}, token=member_token("A")))["drawLottery"]
    assert again["ticket"] is None and [(e["code"], e["field"]) for e in again["errors"]] == [("INVALID_ENTITLEMENT_STATE", "entitlement")]
    replayed = await act(gql, DRAW, "drawLottery", {"input": {"key": "draw:oA:0", "entitlement": "oA:0"}}, token=member_token("A"))
    assert replayed["ticket"]["duplicate"] is True and replayed["ticket"]["id"] == payload["ticket"]["id"]
    await pay(gql, ("oB", "B", "100.00"))  # B's 10 % extraction pays A's recomputed entitlement
    await settle_all()
    paid_a = await entitlement(gql, "A", "oA:0")
    assert (paid_a["received"], paid_a["remaining"]) == ("10.00", "140.00")
    assert (await entitlement(gql, "B", "oB:0"))["canDraw"] is True and await queries.is_zero_sum()


async def test_members_act_only_on_their_own_entitlements_staff_on_any(gql, monkeypatch):
    await setup(gql, EXCHANGE_ON, lottery={"mode": "FIXED", "ratios": ["50", "150"]})
    await pay(gql, ("oA", "A", "100.00"), ("oB", "B", "100.00"))
    await settle_all()
    theirs = (await gql.data(DRAW, {"input": {"key": "d1", "entitlement": "oB:0"}}, token=member_token("A")))["drawLottery"]
    assert theirs == {"ticket": None, "errors": [{"code": "FORBIDDEN", "field": "entitlement", "message": theirs["errors"][0]["message"]}]}
    swap = (await gql.data(EXCHANGE, {"input": {"key": "x1", "entitlement": "oA:0", "to": "POINTS"}}, token=member_token("B")))["exchangeEntitlement"]
    assert swap["ticket"] is None and [(e["code"], e["field"]) for e in swap["errors"]] == [("FORBIDDEN", "entitlement")]
    assert code(await gql(DRAW, {"input": {"key": "d2", "entitlement": "oA:0"}}, token=merchant_token("S1"))) == "FORBIDDEN"
    assert code(await gql(DRAW, {"input": {"key": "d2", "entitlement": "oA:0"}}, token=None)) == "UNAUTHENTICATED"
    missing = (await gql.data(DRAW, {"input": {"key": "d3", "entitlement": "nope:0"}}, token=member_token("A")))["drawLottery"]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("UNKNOWN_ENTITLEMENT", "entitlement")]
    await settle_all()
    assert await statuses(gql, "A", "B") == {"oA:0": "WAITING", "oB:0": "WAITING"}  # nothing was recorded
    monkeypatch.setattr(worker, "RANDOM", scripted(0))
    await act(gql, DRAW, "drawLottery", {"input": {"key": "d4", "entitlement": "oB:0"}}, token=INTEGRATION)  # staff act for anyone
    await settle_all()
    assert (await entitlement(gql, "B", "oB:0"))["total"] == "50.00"


async def test_qr14_exchange_to_points_credits_the_exact_amount(gql):
    await setup(gql, EXCHANGE_ON)
    await pay(gql, ("oA", "A", "100.00"), ("oB", "B", "100.00"))  # A receives 10.00, 90.00 remain
    await settle_all()
    payload = await act(gql, EXCHANGE, "exchangeEntitlement", {"input": {"key": "x:oA:0", "entitlement": "oA:0", "to": "POINTS"}}, token=member_token("A"))
    assert payload["ticket"]["type"] == "entitlement.exchange"
    await act(gql, EXCHANGE, "exchangeEntitlement", {"input": {"key": "x:oB:0", "entitlement": "oB:0", "to": "LOVE_VALUE"}}, token=member_token("B"))
    await settle_all()
    a = await entitlement(gql, "A", "oA:0")
    assert (a["status"], a["received"], a["remaining"], a["exchangedTo"], a["exchangedAmount"], a["canDraw"]) == ("EXCHANGED", "10.00", "0.00", "POINTS", "135.00", False)
    wallets_a = (await gql.data(WALLETS, {"id": "A"}, token=member_token("A")))["member"]["wallets"]
    assert (wallets_a["cash"], wallets_a["points"], wallets_a["loveValueAvailable"]) == ("10.00", "135.00", "0.00")  # 90.00 × 150 %
    wallets_b = (await gql.data(WALLETS, {"id": "B"}))["member"]["wallets"]
    assert (wallets_b["points"], wallets_b["loveValueAvailable"]) == ("0.00", "150.00")
    ticket = (await gql.data("query($id: ID!) { ticket(id: $id) { status transfers { target asset amount } } }", {"id": payload["ticket"]["id"]}))["ticket"]
    assert ticket["status"] == "DONE" and {"target": "member:A:POINTS", "asset": "POINTS", "amount": "135.00"} in ticket["transfers"]
    closed = (await gql.data(EXCHANGE, {"input": {"key": "x2", "entitlement": "oA:0", "to": "POINTS"}}, token=member_token("A")))["exchangeEntitlement"]
    assert [(e["code"], e["field"]) for e in closed["errors"]] == [("INVALID_ENTITLEMENT_STATE", "entitlement")]
    assert await queries.is_zero_sum()


# --- QR-18 display settings ----------------------------------------------------------------

PROFILES = {"A": {"nickname": "Ann", "avatar": "a.png"}, "B": {"nickname": "Bob", "avatar": "b.png"}, "C": {"nickname": "Cy", "avatar": "c.png"}}


async def test_qr18_members_see_nulls_where_the_settings_hide_fields_admins_see_values(gql):
    await setup(gql, {**HIDE_ALL, "model_display_name": "共享链", "exchange_button_name": "换积分"}, PROFILES)
    await pay(gql, ("oA", "A", "100.00"), ("oB", "B", "100.00"), ("oC", "C", "100.00"))  # A receives 20.00
    await settle_all()
    hidden = (await gql.data(PROGRESS, {"q": "qr:MALL"}, token=member_token("B")))["queueProgress"]
    blank = {"key": None, "own": False, "member": None, "memberNickname": None, "memberAvatar": None, "queue": None, "position": None,
             "total": None, "received": None, "remaining": None, "status": "WAITING"}
    assert hidden == {
        "queue": None, "pendingCount": None, "pendingAmount": None, "modelDisplayName": "共享链", "exchangeButtonName": "换积分",
        "waiting": {"items": [blank, {**blank, "key": "oB:0", "own": True, "member": "B", "memberNickname": "Bob", "memberAvatar": "b.png"}, blank]},
    }
    full = (await gql.data(PROGRESS, {"q": "qr:MALL"}))["queueProgress"]
    assert (full["queue"], full["pendingCount"], full["pendingAmount"]) == ({"id": "qr:MALL", "head": 1, "tail": 3}, 3, "280.00")
    assert full["waiting"]["items"][0] == {"key": "oA:0", "own": False, "member": "A", "memberNickname": "Ann", "memberAvatar": "a.png", "queue": "qr:MALL",
                                           "position": 1, "total": "100.00", "received": "20.00", "remaining": "80.00", "status": "WAITING"}

    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {"show_member_info": True, "show_cumulative": True}})
    some = (await gql.data(PROGRESS, {"q": "qr:MALL"}, token=member_token("B")))["queueProgress"]
    first = some["waiting"]["items"][0]
    assert (first["member"], first["memberNickname"], first["memberAvatar"], first["received"]) == ("A", "Ann", "a.png", "20.00")
    assert (first["key"], first["position"], first["remaining"], first["total"], some["pendingAmount"], some["pendingCount"]) == (None, None, None, None, None, None)

    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {k: True for k in HIDE_ALL}})
    shown = (await gql.data(PROGRESS, {"q": "qr:MALL"}, token=member_token("B")))["queueProgress"]
    assert shown["waiting"]["items"][0] == {**full["waiting"]["items"][0], "key": None}  # never another member's order key
    assert (shown["queue"], shown["pendingCount"], shown["pendingAmount"]) == (full["queue"], 3, "280.00")


async def test_qr18_who_may_read_queue_progress(gql):
    await setup(gql, HIDE_ALL)
    await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": "S1"}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "SP1", "source": "STORE", "store": "S1"}})
    line = [{"product": "SP1", "paid": "50.00"}]
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": {"key": "s1", "order": "s1", "member": "A", "channel": "STORE_ONLINE", "store": "S1", "lines": line}})
    await settle_all()
    merchant = (await gql.data(PROGRESS, {"q": "qr:STORE:S1"}, token=merchant_token("S1")))["queueProgress"]
    assert merchant["waiting"]["items"][0]["position"] == 1 and merchant["pendingCount"] == 1  # its own store's queue: everything
    member = (await gql.data(PROGRESS, {"q": "qr:STORE:S1"}, token=member_token("B")))["queueProgress"]
    assert member["waiting"]["items"][0]["position"] is None and member["pendingCount"] is None
    assert code(await gql(PROGRESS, {"q": "uq"}, token=member_token("B"))) == "FORBIDDEN"  # only queue rebate queues
    assert code(await gql(PROGRESS, {"q": "qr:MALL"}, token=None)) == "UNAUTHENTICATED"
    assert (await gql.data(PROGRESS, {"q": "qr:NOPE"}, token=member_token("B")))["queueProgress"] is None


# --- QR-16 reset ----------------------------------------------------------------------------


async def test_qr16_reset_run_clears_waiting_entitlements_once(gql, clock):
    await setup(gql, {"extraction_ratio": "50", "reset": {"enabled": True, "schedule": "DAILY", "time": "00:00"}})  # armed now
    await pay(gql, ("oA", "A", "100.00"), ("oB", "B", "100.00"), ("oC", "C", "100.00"), ("oD", "D", "100.00"))
    await settle_all()  # A completes with 50 + 50; D's 50 goes to B
    assert await statuses(gql, *"ABCD") == {"oA:0": "COMPLETED", "oB:0": "WAITING", "oC:0": "WAITING", "oD:0": "WAITING"}
    assert (await gql.data(RESETS))["runQueueRebateResets"] == {"tickets": [], "errors": []}  # nothing due yet
    assert code(await gql(RESETS, token=INTEGRATION)) == "FORBIDDEN"
    clock(datetime.now(UTC) + timedelta(days=2))
    payload = (await gql.data(RESETS))["runQueueRebateResets"]
    assert payload["errors"] == [] and [(t["type"], t["status"]) for t in payload["tickets"]] == [("queue_rebate.reset", "PENDING")]
    assert payload["tickets"][0]["key"].startswith("queue_rebate.reset:qr:MALL:")
    await settle_all()
    assert await statuses(gql, *"ABCD") == {"oA:0": "COMPLETED", "oB:0": "CLEARED", "oC:0": "CLEARED", "oD:0": "CLEARED"}
    b = await entitlement(gql, "B", "oB:0")
    assert (b["received"], b["remaining"]) == ("50.00", "0.00")
    assert (await gql.data(RESETS))["runQueueRebateResets"] == {"tickets": [], "errors": []}  # this run is done
    assert await queries.is_zero_sum()
