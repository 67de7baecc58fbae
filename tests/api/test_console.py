"""The console at /console: its page, assets and vendored libraries, and the queries it reads
(queueOverview, liabilityDays, appreciationNearExit) with their numbers and scopes. The page in a
real browser: tests/integration/test_console_browser.py."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.console import ASSETS, CSP, IMPORT_MAP, IMPORTS, STATIC
from services.replay import settle_all
from tests.api.conftest import merchant_token
from tests.api.scenario import ORDER_PAID, QR1_SETTINGS, SET_SETTINGS, UPSERT_PRODUCT, UPSERT_STORE, ok, paid_order, seed_qr1
from tests.api.test_appreciation_api import seed as seed_appreciation
from tests.api.test_graphiql import Assets

VENDOR = STATIC / "vendor"
OVERVIEW = "query($after: String, $first: Int) { queueOverview(after: $after, first: $first) { items { id model head tail waiting unpaid pool paused listed } " \
           "pageInfo { endCursor hasNextPage } } }"


async def test_the_page_loads_only_its_own_assets_under_a_csp_that_allows_its_import_map(http):
    page = await http.get("/console")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["content-security-policy"] == CSP
    digest = "sha256-" + base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()
    assert f"script-src 'self' '{digest}'" in CSP and "default-src 'none'" in CSP and "connect-src 'self'" in CSP
    assert re.search(r"https?://", CSP) is None  # no other origin
    assert f'<script type="importmap">{IMPORT_MAP}</script>' in page.text
    assets = Assets()
    assets.feed(page.text)
    assert assets.urls == [f"{ASSETS}/vendor/uPlot.min.css", f"{ASSETS}/console.css", f"{ASSETS}/app.js"]
    for url in [*assets.urls, *IMPORTS.values(), f"{ASSETS}/api.js", f"{ASSETS}/chart.js", f"{ASSETS}/vendor/graphql-ws/common-CGW11Fyb.js"]:
        served = await http.get(url)
        assert served.status_code == 200 and served.content, url
        assert served.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript", "text/css"), url


def test_the_vendored_files_are_the_pinned_ones_with_their_licenses():
    readme = (VENDOR / "README.md").read_text()
    listed = re.findall(r"^\| `([^`]+)` \| `([a-z-]+)@([0-9.]+)`.*\| `([0-9a-f]{64})` \|$", readme, re.M)
    assert {name for name, *_ in listed} == {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file() and p.parent.name != "licenses"} - {"README.md"}
    for name, package, _version, sha256 in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name
        assert (VENDOR / "licenses" / f"{package}.LICENSE").stat().st_size > 500, package
    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor_console.sh"
    pinned = set(re.findall(r"^([a-z-]+@[0-9.]+) \S+ (\S+)$", script.read_text(), re.M))
    assert pinned == {(f"{package}@{version}", name) for name, package, version, _ in listed}
    assert set(re.findall(r"^(\S+) ([0-9a-f]{64})$", script.read_text(), re.M)) == {(name, sha) for name, _, _, sha in listed}


async def _product_queues(gql) -> None:
    """Each product its own queue (mall_queue off): P1 stays listed, P2 is delisted after its order."""
    await seed_qr1(gql)
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {**QR1_SETTINGS, "mall_queue": False}})
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P2", "source": "SELF_OPERATED", "queueRebate": {"enabled": True}}})
    for order, member, product in (("o1", "A", "P1"), ("o2", "B", "P1"), ("o3", "C", "P2")):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, member, product=product)})
    await settle_all()
    await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": "P2", "source": "SELF_OPERATED", "listed": False, "queueRebate": {"enabled": True}}})


async def test_queue_overview_counts_what_waits_and_is_owed_and_the_listed_and_paused_states(gql):
    await _product_queues(gql)
    page = (await gql.data(OVERVIEW))["queueOverview"]
    rows = {q["id"]: q for q in page["items"]}
    # P1: A's 100.00 got the 10.00 extracted from B's order (its own went to the platform: nobody
    # waited before it); B's waits whole. P2: C's waits whole.
    assert rows["qr:PRODUCT:P1"] == {"id": "qr:PRODUCT:P1", "model": "queue_rebate", "head": 1, "tail": 2, "waiting": 2, "unpaid": "190.00", "pool": "0.00",
                                     "paused": False, "listed": True}
    assert rows["qr:PRODUCT:P2"] == {"id": "qr:PRODUCT:P2", "model": "queue_rebate", "head": 1, "tail": 1, "waiting": 1, "unpaid": "100.00",
                                     "pool": "0.00", "paused": False, "listed": False}
    assert page["pageInfo"] == {"endCursor": page["items"][-1]["id"], "hasNextPage": False}
    await ok(gql, SET_SETTINGS, "setSettings", {"model": "queue_rebate", "values": {**QR1_SETTINGS, "mall_queue": False, "paused": True}})
    assert {q["id"]: q["paused"] for q in (await gql.data(OVERVIEW))["queueOverview"]["items"]} == {"qr:PRODUCT:P1": True, "qr:PRODUCT:P2": True}


async def test_queue_overview_pages_by_queue_id(gql):
    await _product_queues(gql)
    first = (await gql.data(OVERVIEW, {"first": 1}))["queueOverview"]
    assert [q["id"] for q in first["items"]] == ["qr:PRODUCT:P1"] and first["pageInfo"] == {"endCursor": "qr:PRODUCT:P1", "hasNextPage": True}
    second = (await gql.data(OVERVIEW, {"first": 1, "after": "qr:PRODUCT:P1"}))["queueOverview"]
    assert [q["id"] for q in second["items"]] == ["qr:PRODUCT:P2"] and second["pageInfo"]["hasNextPage"] is False
    assert (await gql.data(OVERVIEW, {"after": "qr:PRODUCT:P2"}))["queueOverview"] == {"items": [], "pageInfo": {"endCursor": None, "hasNextPage": False}}


async def test_a_merchant_sees_only_its_stores_queues(gql):
    await seed_qr1(gql)
    for store in ("S1", "S2"):
        await ok(gql, UPSERT_STORE, "upsertStore", {"input": {"id": store}})
        await ok(gql, UPSERT_PRODUCT, "upsertProduct", {"input": {"id": f"P{store}", "source": "STORE", "store": store}})
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(f"s{store}", "A", "50.00", product=f"P{store}", channel="STORE_ONLINE", store=store)})
    await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order("m1", "B")})
    await settle_all()
    assert [q["id"] for q in (await gql.data(OVERVIEW))["queueOverview"]["items"]] == ["qr:MALL", "qr:STORE:S1", "qr:STORE:S2"]
    mine = (await gql.data(OVERVIEW, token=merchant_token("S1")))["queueOverview"]["items"]
    assert [(q["id"], q["waiting"], q["unpaid"], q["listed"]) for q in mine] == [("qr:STORE:S1", 1, "50.00", None)]
    assert (await gql.data(OVERVIEW, token=merchant_token("S3")))["queueOverview"]["items"] == []


async def test_liability_days_give_each_day_oldest_first_with_todays_flows(gql):
    await seed_qr1(gql)
    for order, member in (("o1", "A"), ("o2", "B")):
        await ok(gql, ORDER_PAID, "reportOrderPaid", {"input": paid_order(order, member)})
    await settle_all()
    query = "query($d: Int!, $q: String) { liabilityDays(days: $d, queue: $q) { day flow { promised paid poolInflow poolPayout } } }"
    days = (await gql.data(query, {"d": 3}))["liabilityDays"]
    today = datetime.now(UTC).date()
    assert [d["day"] for d in days] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    zero = {"promised": "0.00", "paid": "0.00", "poolInflow": "0.00", "poolPayout": "0.00"}
    assert [d["flow"] for d in days[:2]] == [zero, zero]
    # two entitlements of 100.00 promised; 2 × 10.00 extracted into the pool: B's paid to A, A's own
    # to the platform (nobody waited before it)
    assert days[2]["flow"] == {"promised": "200.00", "paid": "10.00", "poolInflow": "20.00", "poolPayout": "20.00"}
    assert (await gql.data(query, {"d": 1, "q": "qr:MALL"}))["liabilityDays"][0]["flow"] == days[2]["flow"]
    assert (await gql.data(query, {"d": 1, "q": "qr:STORE:S9"}))["liabilityDays"][0]["flow"] == zero
    refused = await gql(query, {"d": 0})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_near_exit_lists_holders_lowest_exit_price_first(gql):
    await seed_appreciation(gql)
    near = (await gql.data("{ appreciationNearExit(first: 5) { member points value spend exitPrice } }"))["appreciationNearExit"]
    holding = (await gql.data('{ appreciationHolding(member: "A") { member points value spend exitPrice } }'))["appreciationHolding"]
    assert near[0] == holding == {"member": "A", "points": "210.00", "value": "352.94", "spend": "1000.00", "exitPrice": "14.29"}
    assert [h["member"] for h in near] == ["A", "B"]
    assert [h["exitPrice"] for h in near] == sorted((h["exitPrice"] for h in near), key=lambda p: tuple(map(int, p.split("."))))
    assert len((await gql.data("{ appreciationNearExit(first: 1) { member } }"))["appreciationNearExit"]) == 1
