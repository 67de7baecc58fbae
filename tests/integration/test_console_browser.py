"""The console in headless Chromium (Playwright driving Debian's chromium) against a real uvicorn
and worker: sign in, see a queue, watch a payout reported through GraphQL appear without reload,
a merchant who cannot see another store, the error state of a bad key, every page rendered.

Each page's screenshot is saved under test-artifacts/console/ (ignored by git);
`./run test tests/integration/test_console_browser.py --update-docs-screenshots` also copies the
main ones to docs/console-*.png, which README shows."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from services.payouts import channel
from services.tokens import Audience, TokenKeys
from tests.api.scenario import ORDER_PAID, QR1_SETTINGS, SET_SETTINGS, UPSERT_MEMBER, UPSERT_PRODUCT, UPSERT_STORE, paid_order
from tests.conftest import shared_redis_url
from tests.integration.browser import ARTIFACTS, CHROMIUM_ARGS, ROOT, chromium_or_skip, served

ADMIN, SECRET = "console-admin-key", "console-test-secret-of-at-least-32-bytes"
COMPLETED = "mutation($input: OrderCompletedInput!) { reportOrderCompleted(input: $input) { ticket { id } errors { code message } } }"
SHOTS = ARTIFACTS / "console"
DOCS = {"queues", "queue", "liabilities", "failed", "team", "appreciation", "compliance", "merchant", "signin-error"}


def merchant(store: str) -> str:
    return TokenKeys.single(SECRET).issue(Audience.MERCHANT, store, 600)


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, query: str, variables: dict[str, Any] | None = None, token: str = ADMIN) -> dict[str, Any]:
        body = httpx.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}}, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        assert "errors" not in body, body
        payload = next(iter(body["data"].values()))
        assert not (isinstance(payload, dict) and payload.get("errors")), payload
        return body["data"]

    def settled(self, ticket: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self('query($id: ID!) { ticket(id: $id) { status } }', {"id": ticket})["ticket"]["status"] == "PENDING":
            assert time.monotonic() < deadline, f"ticket {ticket} was not settled by the worker"
            time.sleep(0.2)


def seed(api: Api) -> None:
    """QR-1's mall queue, a referral tree A → (B, C), B → D (the points dividend on), two stores with
    their own products, the appreciation pool and a compliance limit the queue rebate's 100 % reward
    is beyond."""
    api(SET_SETTINGS, {"model": "queue_rebate", "values": QR1_SETTINGS})
    api(SET_SETTINGS, {"model": "appreciation", "values": {"enabled": True}})
    api(SET_SETTINGS, {"model": "points_dividend", "values": {"enabled": True}})
    api(SET_SETTINGS, {"model": "compliance", "values": {"max_static_return": "90"}})
    for member, referrer in (("A", None), ("B", "A"), ("C", "A"), ("D", "B")):
        api(UPSERT_MEMBER, {"input": {"id": member, "referrer": referrer, "nickname": f"会员{member}"}})
    api(UPSERT_PRODUCT, {"input": {"id": "P1", "source": "SELF_OPERATED", "queueRebate": {"enabled": True}}})
    for store in ("S1", "S2"):
        api(UPSERT_STORE, {"input": {"id": store}})
        api(UPSERT_PRODUCT, {"input": {"id": f"P{store}", "source": "STORE", "store": store}})
    tickets = []
    for order, member in (("o1", "A"), ("o2", "B")):
        tickets.append(api(ORDER_PAID, {"input": paid_order(order, member)})["reportOrderPaid"]["ticket"]["id"])
        tickets.append(api(COMPLETED, {"input": {"key": f"{order}:completed", "order": order}})["reportOrderCompleted"]["ticket"]["id"])
    for store, member in (("S1", "C"), ("S2", "D")):
        tickets.append(api(ORDER_PAID, {"input": paid_order(f"s{store}", member, "50.00", product=f"P{store}", channel="STORE_ONLINE", store=store)})
                       ["reportOrderPaid"]["ticket"]["id"])
    for ticket in tickets:
        api.settled(ticket)


def listening(name: str, timeout: float = 10) -> None:
    r = redis.Redis.from_url(shared_redis_url())
    deadline = time.monotonic() + timeout
    while not dict(r.pubsub_numsub(name)).get(name.encode(), 0):
        assert time.monotonic() < deadline, f"nobody subscribed to {name}"
        time.sleep(0.05)
    r.close()


def fail_one_item(database: Path) -> int:
    """An inbox item as settlement leaves an isolated one (FAILED), written into the server's SQLite file."""
    with sqlite3.connect(database) as conn:
        (item,) = conn.execute("SELECT id FROM inbox_item WHERE queue_id = 'qr:STORE:S2' ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE inbox_item SET status = 'FAILED', error = 'OverflowError: boom', attempts = 3, failed_at = CURRENT_TIMESTAMP WHERE id = ?", (item,))
    return int(item)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    chromium_or_skip()
    tmp = tmp_path_factory.mktemp("console")
    with served(tmp, shared_redis_url(), {"REBATE_API_KEYS": f"{ADMIN}:ADMIN", "REBATE_SECRET": SECRET}, worker=True) as base:
        seed(Api(base))
        yield base, tmp / "api.sqlite3"


@pytest.fixture(scope="module")
def browser(server: tuple[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's chromium, never a browser Playwright would download
        launched = playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: tuple[str, Path], request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in m.text and "401" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    page.base = server[0]
    yield page
    context.close()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def shot(page: Any, name: str, request: pytest.FixtureRequest) -> Path:
    """The page's screenshot under test-artifacts/console/ (and docs/ with --update-docs-screenshots)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, path  # a rendered page, not a blank one
    if name in DOCS and request.config.getoption("--update-docs-screenshots"):
        shutil.copyfile(path, ROOT / "docs" / path.name)
    return path


def sign_in(page: Any, credential: str) -> None:
    page.goto(f"{page.base}/console")
    page.get_by_label("管理员密钥或商户令牌 · Admin API key or merchant token").fill(credential)
    page.get_by_role("button", name="登录 · Sign in").click()


def test_a_bad_key_shows_the_error_and_stays_on_the_sign_in_form(page, request):
    sign_in(page, "not-a-key")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "登录失败 · Sign-in failed" in alert.inner_text() and "authentication required" in alert.inner_text()
    assert page.evaluate("sessionStorage.getItem('rebate.console.credential')") is None
    assert page.get_by_label("管理员密钥或商户令牌 · Admin API key or merchant token").is_visible()
    shot(page, "signin-error", request)


def test_the_admin_sees_every_queue_with_its_figures(page, request):
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    assert page.evaluate("sessionStorage.getItem('rebate.console.credential')") == ADMIN
    rows = {r.get_attribute("data-queue"): [c.inner_text() for c in r.query_selector_all("th, td")] for r in page.query_selector_all("tr[data-queue]")}
    assert set(rows) >= {"qr:MALL", "qr:STORE:S1", "qr:STORE:S2", "ca"}
    # queue, model, head, tail, waiting, unpaid, pool, state: A got B's 10.00, B waits whole
    assert rows["qr:MALL"] == ["qr:MALL", "排队返利 · Queue rebate", "1", "2", "2", "¥190.00", "¥0.00", "运行 · Running"]
    assert rows["qr:STORE:S1"][4:6] == ["1", "¥50.00"]
    assert page.get_by_role("link", name="队列 · Queues").get_attribute("aria-current") == "page"
    shot(page, "queues", request)


def test_a_payout_reported_through_graphql_appears_on_the_open_page(page, server, request):
    api = Api(server[0])
    sign_in(page, ADMIN)
    page.get_by_role("link", name="qr:MALL").click()
    page.wait_for_selector("tr[data-entitlement]")
    assert page.get_by_test_id("pending-amount").inner_text() == "¥190.00"
    assert page.locator("li[data-payout]").count() == 0
    page.wait_for_function("() => document.querySelector('.live.live') !== null")  # the WebSocket is acknowledged
    listening(channel("queue", "qr:MALL"))  # pub/sub is at-most-once: publish only once the server listens
    api("mutation($m: MemberInput!) { upsertMember(input: $m) { errors { code } } }", {"m": {"id": "E"}})
    api(ORDER_PAID, {"input": paid_order("o3", "E", "200.00")})
    payout = page.locator("li[data-payout]").first
    payout.wait_for(timeout=30_000)  # no reload: the payouts subscription brought it
    assert payout.inner_text().startswith("¥20.00 → A")
    page.wait_for_function("() => document.querySelector('[data-testid=pending-amount]').textContent === '¥370.00'")  # 190 − 20 + 200
    assert page.locator("tr[data-entitlement]").count() == 3
    shot(page, "queue", request)


def test_a_merchant_sees_its_store_and_not_another(page, request):
    sign_in(page, merchant("S1"))
    page.wait_for_selector("tr[data-queue]")
    assert [r.get_attribute("data-queue") for r in page.query_selector_all("tr[data-queue]")] == ["qr:STORE:S1"]
    assert page.get_by_role("link", name="负债报表 · Liabilities").count() == 0  # staff pages are not offered
    assert "商户 · Merchant S1" in page.locator("header").inner_text()
    shot(page, "merchant", request)
    page.goto(f"{page.base}/console#/queue/qr%3ASTORE%3AS2")
    alert = page.get_by_role("alert").first
    alert.wait_for()
    assert "not allowed for this caller" in alert.inner_text()
    assert page.locator("tr[data-entitlement]").count() == 0


def yuan(amount: str) -> str:
    whole, fraction = amount.split(".")
    return f"¥{int(whole):,}.{fraction}"


def test_the_liability_report_charts_inflow_and_payouts(page, server, request):
    report = {r["queue"]: r for r in Api(server[0])("{ liabilities { queue outstanding unpaid pool } }")["liabilities"]}
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    page.get_by_role("link", name="负债报表 · Liabilities").click()
    page.wait_for_selector(".chart canvas")
    mall = report["qr:MALL"]
    assert mall["unpaid"] in ("190.00", "370.00")  # before / after the live-payout test's order
    cells = page.locator("tbody tr", has_text="qr:MALL").locator("td").all_inner_texts()
    assert cells[:3] == [str(mall["outstanding"]), yuan(mall["unpaid"]), yuan(mall["pool"])]
    assert "Inflow vs payouts" in page.locator(".chart").get_attribute("aria-label")
    shot(page, "liabilities", request)


def test_a_failed_item_is_retried_from_its_page(page, server, request):
    item = fail_one_item(server[1])
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    page.get_by_role("link", name="失败项 · Failed items").click()
    row = page.locator("tbody tr", has_text="qr:STORE:S2")
    row.wait_for()
    assert "OverflowError: boom" in row.inner_text()
    assert re.search(r"\b20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC\b", row.inner_text()), row.inner_text()  # when it failed, in UTC
    shot(page, "failed", request)
    page.get_by_role("button", name=f"重试 {item} · Retry item {item}").click()
    page.get_by_role("status").filter(has_text=f"Retried item {item}").wait_for()
    page.get_by_text("没有失败项 · No FAILED items").wait_for()


def test_the_team_tree_expands_direct_referrals(page, request):
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    page.get_by_role("link", name="积分分红团队 · Points dividend teams").click()
    page.get_by_label("会员编号 · Member id").fill("A")
    page.get_by_role("button", name="查看团队 · Show team").click()
    tree = page.get_by_test_id("chosen-team")
    expand = tree.get_by_role("button", name="展开 A · expand direct referrals")
    expand.click()
    tree.locator("li[data-level='2']").first.wait_for()
    assert tree.get_by_role("button", name="收起 A · collapse direct referrals").get_attribute("aria-expanded") == "true"
    assert sorted(li.get_attribute("data-member") for li in tree.locator("li[data-level='2']").all()) == ["B", "C"]
    tree.get_by_role("button", name="展开 B · expand direct referrals").focus()
    page.keyboard.press("Enter")  # the keyboard works as the mouse does
    tree.locator("li[data-level='3']").first.wait_for()
    assert [li.get_attribute("data-member") for li in tree.locator("li[data-level='3']").all()] == ["D"]
    team = Api(page.base)('{ team(member: "A") { member { teamSize teamPerformance } } }')["team"]["member"]
    assert team == {"teamSize": 3, "teamPerformance": "100.00"}  # B, C and D; B's completed order
    node = tree.locator("li[data-level='1'] > .node").inner_text()
    assert f"团队 · team {team['teamSize']}" in node and f"业绩 · performance {yuan(team['teamPerformance'])}" in node
    shot(page, "team", request)


def test_the_appreciation_page_charts_the_price_and_lists_holders_near_exit(page, request):
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    page.get_by_role("link", name="消费增值价格 · Appreciation price").click()
    page.wait_for_selector(".chart canvas")
    api = Api(page.base)("{ appreciationPool { price } appreciationNearExit { member points value spend exitPrice } }")
    near = [[h["member"], h["points"], yuan(h["value"]), yuan(h["spend"]), yuan(h["exitPrice"])] for h in api["appreciationNearExit"]]
    assert [h[0] for h in near] == ["A", "B"]  # A's exit price is the lower: it bought at the lower price
    assert [r.split("\t") for r in page.get_by_test_id("near-exit").locator("tbody tr").all_inner_texts()] == near
    assert page.locator("dl.summary dd").nth(2).inner_text() == yuan(api["appreciationPool"]["price"])
    shot(page, "appreciation", request)


def test_the_compliance_report_lists_the_setting_beyond_its_limit(page, request):
    sign_in(page, ADMIN)
    page.wait_for_selector("tr[data-queue]")
    page.get_by_role("link", name="合规报告 · Compliance").click()
    row = page.locator("tbody tr").first
    row.wait_for()
    assert "排队返利 · Queue rebate" in row.inner_text() and "WARN" in row.inner_text()
    shot(page, "compliance", request)
