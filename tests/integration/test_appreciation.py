"""Consumption appreciation 消费增值 end to end (CA-1..CA-7, I-7), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from services import appreciation, intake, queries
from services.payouts import payout_channels
from services.replay import Replay, settle_all
from services.settlement import settle_batch
from store import appreciation as ca_store
from store import db
from store.sql import fetch
from tests.integration.scenario import completed, member, paid, play_on, product, refunded

pytestmark = pytest.mark.usefixtures("db")
SEED = Path(__file__).resolve().parents[2] / "examples" / "ca_seed004_appreciation.jsonl"
NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def ca_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "appreciation", "values": {"enabled": True, **values}}


def sell(key: str, m: str, points: str) -> dict[str, Any]:
    return {"type": "points.sell", "key": key, "member": m, "points": points}


def subsidy(key: str, amount: str) -> dict[str, Any]:
    return {"type": "appreciation.subsidy", "key": key, "amount": amount}


def order(o: str, m: str, amount: str = "1000.00") -> list[dict[str, Any]]:
    return [paid(o, m, ("P1", amount)), completed(o)]


def points(r: dict[str, Any], m: str) -> str:
    return str(r["members"][m]["appreciation_points"])


def cash(r: dict[str, Any], m: str) -> str:
    return str(r["members"][m]["cash"])


def pool(r: dict[str, Any]) -> tuple[str, str, str]:
    a = r["appreciation"]
    return a["pool"], a["circulating"], a["price"]


async def play(replay: Replay, *events: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    flat = [one for e in events for one in (e if isinstance(e, list) else [e])]
    r = await play_on(replay, *flat)
    assert r["zero_sum"], "every asset sums to zero"
    assert await _circulating_is_held(), "circulating = Σ holdings = −issued"
    return r


async def _circulating_is_held() -> bool:
    conn = db.default()
    held = await fetch(conn, "SELECT COALESCE(SUM(points_fen), 0) AS s FROM appreciation_holder")
    wallets = await fetch(conn, "SELECT COALESCE(SUM(amount_fen), 0) AS s FROM balance WHERE asset = 'APPRECIATION_POINTS' AND account LIKE 'member:%'")
    view = await appreciation.pool_view()
    return int(held[0]["s"]) == int(wallets[0]["s"]) == int(view.circulating * 100)


BASE = [ca_settings(), *(member(m) for m in "ABCD"), product("P1")]


async def test_ca_seed004_event_file_mints_exits_and_re_enters():
    lines = [json.loads(t) for t in SEED.read_text().splitlines() if t.strip()]
    replay = Replay()
    at = {e.get("key"): i for i, e in enumerate(lines)}
    r = await play(replay, *lines[: at["oA:completed"] + 1])
    assert (points(r, "A"), pool(r)) == ("210.00", ("300.00", "210.00", "1.43"))
    r = await play(replay, *lines[at["oA:completed"] + 1: at["oB:completed"] + 1])
    assert (points(r, "B"), pool(r)) == ("147.00", ("600.00", "357.00", "1.68"))
    r = await play(replay, *lines[at["oB:completed"] + 1: at["oC:completed"] + 1])
    assert (points(r, "C"), pool(r)) == ("124.95", ("900.00", "481.95", "1.87"))
    near = [(h.member, str(h.exit_price)) for h in await appreciation.near_exit(5)]  # the console's list: lowest exit price first
    assert near == [("A", "14.29"), ("B", "20.41"), ("C", "24.01")]
    r = await play(replay, lines[at["f1"]])  # 0.01 short of A's 3×: the price shows 14.29, A stays
    assert (points(r, "A"), cash(r, "A"), pool(r)[2]) == ("210.00", "0.00", "14.29")
    r = await play(replay, lines[at["f2"]])  # exactly 3 × 1000: A exits, paid 2400.00, 600.00 stays
    assert (points(r, "A"), cash(r, "A"), pool(r)) == ("0.00", "2400.00", ("4485.00", "271.95", "16.49"))
    assert [h.member for h in await appreciation.near_exit(5)] == ["B", "C"]  # A holds no points any more
    r = await play(replay, *lines[at["f2"] + 1: at["f3"] + 1])  # B at 20.41, then C in the same cascade
    assert (cash(r, "B"), cash(r, "C"), pool(r)) == ("2400.00", "2520.00", ("630.00", "0.00", "25.21"))
    r = await play(replay, *lines[at["f3"] + 1:])  # nothing circulates: D mints at the frozen 25.21
    assert (points(r, "D"), pool(r)) == ("8.33", ("930.00", "8.33", "111.64"))
    holding = await appreciation.holding("A")
    assert (holding.points, holding.spend, holding.exit_price) == (D("0.00"), D("0.00"), None)  # 复投: a later order starts again


async def test_ca4_a_price_range_below_every_stored_cost_key_needs_no_holder_query():
    await play(Replay(), *BASE, order("oA", "A"))  # A: 210.00 points for 1000.00, 4.7619047… per point
    lowest = await ca_store.lowest_key(db.default())
    assert lowest == 4_761_904
    assert ca_store.below_every_key(lowest, Fraction(4_761_903, 1_000_000))
    assert not ca_store.below_every_key(lowest, Fraction(4_761_904, 1_000_000))  # A's own key: the range query runs
    assert not ca_store.below_every_key(lowest, Fraction(5))
    assert ca_store.below_every_key(None, Fraction(10**6))  # nobody holds points


async def test_ca3_sale_at_2000_over_210_pays_1600_and_keeps_400_on_its_ticket():
    replay = Replay()
    r = await play(replay, *BASE, order("oA", "A"), subsidy("f1", "1700.00"))
    assert pool(r) == ("2000.00", "210.00", "9.52")
    r = await play(replay, sell("s1", "A", "210.00"))
    assert (points(r, "A"), cash(r, "A"), pool(r)) == ("0.00", "1600.00", ("400.00", "0.00", "9.52"))
    ticket = replay.tickets[-1]
    assert await appreciation.sale_result(ticket.id) == [
        {"member": "A", "points": D("210.00"), "price": D("9.52"), "value": D("2000.00"), "paid": D("1600.00"), "forced": False}]
    r = await play(replay, order("oB", "B"))  # CA-6: minted at the frozen 2000 / 210
    assert points(r, "B") == "22.05" and pool(r)[2] == "31.75"


async def test_ca_partial_sale_keeps_the_spend_and_history_records_every_change():
    replay = Replay()
    await play(replay, *BASE, order("oA", "A"), order("oB", "B"))
    r = await play(replay, sell("s1", "A", "10.00"))
    assert points(r, "A") == "200.00" and cash(r, "A") == "13.45"  # 10 × 600 / 357 = 16.81, 80 %
    h = await appreciation.holding("A")
    assert h.spend == D("1000.00") and h.exit_price == D("15.00")
    history = await appreciation.price_history(0, 10)
    assert [(x["cause"], str(x["price"])) for x in history] == [("MINT", "1.43"), ("MINT", "1.68"), ("SALE", "1.69")]
    assert [x["id"] for x in await appreciation.price_history(history[1]["id"], 10)] == [history[2]["id"]]


async def test_ca_local_life_16_percent_mints_112_then_78_40():
    replay = Replay()
    r = await play(replay, ca_settings(contribution_ratio="16"), *BASE[1:], order("oA", "A"), order("oB", "B"))
    assert (points(r, "A"), points(r, "B"), pool(r)) == ("112.00", "78.40", ("320.00", "190.40", "1.68"))


async def test_ca_excluded_products_take_no_part_and_channels_all_count():
    replay = Replay()
    r = await play(replay, ca_settings(excluded_products=["P2"]), *BASE[1:], product("P2"),
                   paid("o1", "A", ("P1", "500.00"), ("P2", "500.00")), completed("o1"), paid("o2", "B", ("P2", "800.00")), completed("o2"))
    assert (points(r, "A"), points(r, "B"), pool(r)[0]) == ("105.00", "0.00", "150.00")
    assert (await appreciation.holding("A")).spend == D("500.00")


async def test_ca_refund_claws_back_the_minted_points_and_the_spend():
    """SPEC is silent: the spend drops, the points the order minted come back (up to what is held),
    the contribution stays in the pool (the price never falls)."""
    replay = Replay()
    await play(replay, *BASE, order("oA", "A"), order("oB", "B"))
    r = await play(replay, sell("s1", "B", "47.00"), refunded("oB"))
    assert points(r, "B") == "0.00" and pool(r)[1] == "210.00"  # B's 100 left of 147 minted come back
    hb = await appreciation.holding("B")
    assert (hb.points, hb.spend) == (D("0.00"), D("0.00"))
    r = await play(replay, paid("oC", "C", ("P1", "600.00"), ("P1", "400.00")), completed("oC"), refunded("oC", 1))
    hc = await appreciation.holding("C")
    assert hc.spend == D("600.00") and hc.points == D(points(r, "C"))
    history = await appreciation.price_history(0, 100)
    assert [x["cause"] for x in history].count("REFUND") == 2
    assert all(b["price"] >= a["price"] for a, b in itertools.pairwise(history))


async def test_ca_refund_after_an_exit_takes_nothing_back():
    replay = Replay()
    r = await play(replay, *BASE, order("oA", "A"), subsidy("f1", "6000.00"))
    assert cash(r, "A") != "0.00" and points(r, "A") == "0.00"
    r = await play(replay, order("oB", "B"), order("oA2", "A", "100.00"))
    r = await play(replay, refunded("oA"))
    assert points(r, "A") == "0.09"
    assert (await appreciation.holding("A")).spend == D("100.00")


@pytest.mark.parametrize(("points_text", "code"), [
    ("211.00", ErrorCode.INSUFFICIENT_POINTS), ("0", ErrorCode.INVALID_AMOUNT), ("-1.00", ErrorCode.INVALID_AMOUNT),
    ("1.001", ErrorCode.INVALID_AMOUNT), ("abc", ErrorCode.INVALID_AMOUNT), ("1e3", ErrorCode.INVALID_AMOUNT),
])
async def test_ca3_bad_sales_are_refused_and_nothing_is_written(points_text: str, code: ErrorCode):
    replay = Replay()
    await play(replay, *BASE, order("oA", "A"))
    before = await fetch(db.default(), "SELECT COUNT(*) AS n FROM event")
    with pytest.raises(DomainError) as caught:
        await appreciation.record(sell("bad", "A", points_text), NOW)
    assert caught.value.code is code
    assert await fetch(db.default(), "SELECT COUNT(*) AS n FROM event") == before


@pytest.mark.parametrize("amount", ["0", "-5.00", "0.001", "x", "0.00"])
async def test_ca5_a_subsidy_of_zero_or_less_or_malformed_is_refused(amount: str):
    with pytest.raises(DomainError) as caught:
        await appreciation.record(subsidy("bad", amount), NOW)
    assert caught.value.code is ErrorCode.INVALID_AMOUNT
    assert await fetch(db.default(), "SELECT COUNT(*) AS n FROM event") == [{"n": 0}]


async def test_ca_a_sale_that_no_longer_fits_when_settled_fails_and_writes_nothing():
    replay = Replay()
    await play(replay, *BASE, order("oA", "A"))
    first = await appreciation.record(sell("s1", "A", "200.00"), NOW)
    second = await appreciation.record(sell("s2", "A", "200.00"), NOW)  # both fit when recorded
    await settle_all()
    ticket = await queries.ticket(second.id)
    assert ticket is not None and ticket["status"] == "FAILED" and "INSUFFICIENT_POINTS" in ticket["errors"][0]
    assert (await queries.ticket(first.id) or {})["status"] == "DONE"
    assert (await appreciation.holding("A")).points == D("10.00") and await queries.is_zero_sum()


async def test_ca_concurrent_sales_and_orders_on_one_pool_are_exact():
    """Many intake calls at once, then settlement racing itself: every sale sees the price its
    predecessors left, the totals are exact and zero-sum holds."""
    replay = Replay()
    holders = [f"H{i}" for i in range(12)]
    await play(replay, *BASE[:1], *(member(m) for m in holders), product("P1"), *(order(f"o{m}", m, "100.00") for m in holders))
    before = await appreciation.pool_view()
    events = [sell(f"s{m}", m, "5.00") for m in holders] + [e for i in range(12) for e in order(f"n{i}", holders[i], "50.00")]
    paid_events = [e for e in events if e["type"] == "order.paid"]
    await asyncio.gather(*(intake.record(e, NOW) for e in paid_events))
    others = [e for e in events if e["type"] != "order.paid"]
    tickets = await asyncio.gather(*(appreciation.record(e, NOW) if e["type"] == "points.sell" else intake.record(e, NOW) for e in others))
    await asyncio.gather(*(settle_batch("ca", size=5) for _ in range(6)))
    await settle_all()
    assert [(await queries.ticket(t.id) or {})["status"] for t in tickets] == ["DONE"] * len(tickets)
    after = await appreciation.pool_view()
    sold = await fetch(db.default(), "SELECT COALESCE(SUM(points_fen), 0) AS p, COALESCE(SUM(paid_fen), 0) AS c FROM appreciation_sale")
    minted = await fetch(db.default(), "SELECT COALESCE(SUM(amount_fen), 0) AS n FROM transfer WHERE memo = 'mint'")
    assert int(sold[0]["p"]) == 12 * 500
    assert after.pool == D("360.00") + D("180.00") - D(int(sold[0]["c"])) / 100 and before.pool == D("360.00")
    assert after.circulating == D(int(minted[0]["n"])) / 100 - D("60.00")
    assert await queries.is_zero_sum() and await _circulating_is_held()
    history = await appreciation.price_history(0, 1000)
    assert all(b["price"] >= a["price"] for a, b in itertools.pairwise(history))


@pytest.mark.parametrize(("values", "code"), [
    ({"mint_ratio": "0"}, ErrorCode.INVALID_RATIO), ({"mint_ratio": "100.01"}, ErrorCode.INVALID_RATIO),
    ({"retention_ratio": "100"}, ErrorCode.INVALID_RATIO), ({"retention_ratio": "-1"}, ErrorCode.INVALID_RATIO),
    ({"exit_multiple": "1"}, ErrorCode.INVALID_RATIO), ({"initial_price": "0"}, ErrorCode.INVALID_AMOUNT),
])
async def test_ca_settings_out_of_range_are_refused_and_nothing_is_stored(values: dict[str, str], code: ErrorCode):
    with pytest.raises(DomainError) as caught:
        await Replay().apply(ca_settings(**values))
    assert caught.value.code is code
    assert await fetch(db.default(), "SELECT COUNT(*) AS n FROM model_settings WHERE model = 'appreciation'") == [{"n": 0}]


async def test_ca_sales_and_exits_are_published_as_payouts_of_the_queue_ca():
    replay = Replay()
    await play(replay, *BASE, order("oA", "A"), order("oB", "B"))
    await appreciation.record(sell("s1", "B", "10.00"), NOW)
    await appreciation.record(subsidy("f1", "6000.00"), NOW)  # A (and then B) reach 3×
    published: list[tuple[str, list[dict[str, Any]], int]] = []

    async def publish(queue: str, payouts: list[dict[str, Any]], version: int, events: list[int] | None = None) -> None:
        published.append((queue, payouts, version))

    assert await settle_batch("ca", publish) == 2
    [(queue, payouts, _)] = published
    assert queue == "ca" and [(p["member"], p["kind"]) for p in payouts] == [("B", "sale"), ("A", "exit"), ("B", "exit")]
    assert payout_channels("ca", "A") == ["rebate:payouts:queue:ca", "rebate:payouts:member:A"]
