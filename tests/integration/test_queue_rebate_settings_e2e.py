"""Queue rebate operator settings end to end (QR-10..QR-19): settings and catalog events, member
actions as events, settled by the worker, read back from the `replay --json` state, on SQLite and
PostgreSQL. Amounts are hand-checked; every scenario also checks the zero-sum ledger (C-5).

Random sources are scripted (C-10): `services.queue_rebate.RANDOM` is replaced by `scripted(...)`,
which hands out the listed values in order and checks each is below the asked bound.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

import services.queue_rebate as worker
from domain.errors import DomainError, ErrorCode
from services import actions, catalog, intake, queries
from services.replay import Replay, settle_all
from store.ledger import balances
from store.models import JobRun, Product
from store.sql import fetch
from tests.integration.scenario import (
    cash,
    cashier,
    clock,
    completed,
    draw,
    ent,
    exchange,
    member,
    paid,
    play,
    play_on,
    product,
    qr_settings,
    refunded,
    run,
    store,
    wallet,
)
from workers.main import queue_rebate_reset

pytestmark = pytest.mark.usefixtures("db")
RESET = run("queue_rebate.reset")


def qr_update(**values: Any) -> dict[str, Any]:
    """A partial settings update: only the named fields change."""
    return {"type": "settings", "model": "queue_rebate", "values": values}


def scripted(*values: int) -> Callable[[int], int]:
    it = iter(values)

    def rand(n: int) -> int:
        v = next(it)
        assert 0 <= v < n, (v, n)
        return v

    return rand


@pytest.fixture
def rand(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`rand(2, 0)`: the next random draws of the worker return 2, then 0."""
    return lambda *values: monkeypatch.setattr(worker, "RANDOM", scripted(*values))


async def refused(*events: dict[str, Any], replay: Replay | None = None) -> DomainError:
    with pytest.raises(DomainError) as info:
        await play_on(replay or Replay(), *events)
    return info.value


async def column(name: str) -> dict[str, Any]:
    rows = await fetch(connections.get("default"), f"SELECT key, {name} AS value FROM entitlement WHERE model = 'queue_rebate'")
    return {r["key"]: r["value"] for r in rows}


async def balance(account: str, asset: str) -> str:
    found = await balances(connections.get("default"), [account])
    return str(found.get((account, asset), Decimal("0.00")))


def totals(r: dict[str, Any]) -> dict[str, str]:
    return {e["key"]: e["total"] for e in r["entitlements"]}


SPEND = product("X", enabled=False)  # a mall product outside the queue rebate: orders of it only count as spend (QR-11)


def spend(order: str, who: str, amount: str) -> list[dict[str, Any]]:
    return [paid(order, who, ("X", amount)), completed(order)]


# --- QR-10 reward-ratio priority ------------------------------------------------------------

async def test_qr10_mall_chain_member_level_then_tiers_then_lottery_then_own_then_default(rand):
    rand(0, 0)
    r = await play(
        qr_settings(extraction_ratio="0", member_level_ratios={"gold": "140", "silver": "130"}, lottery={"mode": "FIXED", "ratios": ["10"]}),
        member("G", level="gold"), member("S", level="silver"), member("T"), member("N"), member("B", level="bronze"), SPEND,
        product("P1", member_level_ratios={"gold": "150"}, cumulative_tiers=[{"window_days": 30, "threshold": "500.00", "ratio": "90"}],
                lottery={"mode": "FIXED", "ratios": ["50"]}, reward_ratio="120"),
        product("P2", reward_ratio="120"), product("P3"),
        *spend("xT", "T", "500.00"),
        paid("g1", "G", ("P1", "100.00")), paid("s1", "S", ("P1", "100.00")), paid("t1", "T", ("P1", "100.00")),
        paid("n1", "N", ("P1", "100.00")), paid("b1", "B", ("P2", "100.00")), paid("b2", "B", ("P3", "100.00")), paid("g2", "G", ("P3", "100.00")),
    )
    assert totals(r) == {"g1:0": "150.00", "s1:0": "130.00", "t1:0": "90.00", "n1:0": "120.00", "b1:0": "120.00", "b2:0": "100.00", "g2:0": "140.00"}
    assert await column("ratio_source") == {
        "g1:0": "product.member_level", "s1:0": "plugin.member_level", "t1:0": "product.cumulative", "n1:0": "product.reward_ratio",
        "b1:0": "product.reward_ratio", "b2:0": "plugin.reward_ratio", "g2:0": "plugin.member_level",
    }
    assert (await column("lottery_source"))["n1:0"] == "product.lottery" and (await column("lottery_source"))["t1:0"] == ""
    r = await play(draw("d1", "n1:0", member="N"), draw("d2", "b1:0"))  # the product lottery beats its own ratio, the plugin's too
    assert (ent(r, "n1:0")["total"], ent(r, "n1:0")["drawn_ratio"]) == ("50.00", "50.0000")
    assert (ent(r, "b1:0")["total"], ent(r, "b1:0")["drawn_ratio"]) == ("10.00", "10.0000")
    assert (await column("ratio_source"))["b1:0"] == "plugin.lottery"
    error = await refused(draw("d3", "t1:0"))  # a cumulative tier outranks every lottery: nothing to draw
    assert error.code is ErrorCode.INVALID_ENTITLEMENT_STATE and r["zero_sum"]


STORE_ONLINE = {"channel": "STORE_ONLINE", "store": "S1"}


async def test_qr10_store_online_chain(rand):
    rand(0)
    tiers = [{"window_days": 30, "threshold": "300.00", "ratio": "95"}]
    r = await play(
        qr_settings(extraction_ratio="0", member_level_ratios={"gold": "125"}, lottery={"mode": "FIXED", "ratios": ["10"]}),
        member("V", level="silver"), member("G", level="gold"), member("N"), member("T"),
        store("S1", member_level_ratios={"silver": "160"}, cumulative_tiers=tiers, lottery={"mode": "FIXED", "ratios": ["70"]}, reward_ratio="110"),
        store("S2", cumulative_tiers=tiers), cashier("K1", "S1", enabled=False),
        product("SP1", source="STORE", store="S1", member_level_ratios={"silver": "170"}, reward_ratio="130"),
        product("SP2", source="STORE", store="S1"), product("SP3", source="STORE", store="S2"),
        paid("tk", "T", (None, "300.00"), channel="CASHIER", store="S1", cashier="K1"), completed("tk"),
        paid("v1", "V", ("SP1", "100.00"), **STORE_ONLINE), paid("v2", "V", ("SP2", "100.00"), **STORE_ONLINE),
        paid("g1", "G", ("SP2", "100.00"), **STORE_ONLINE), paid("t1", "T", ("SP2", "100.00"), **STORE_ONLINE),
        paid("t2", "T", ("SP3", "100.00"), channel="STORE_ONLINE", store="S2"),
        paid("n1", "N", ("SP1", "100.00"), **STORE_ONLINE), paid("n2", "N", ("SP2", "100.00"), **STORE_ONLINE),
        draw("d1", "n1:0"),
    )
    assert totals(r) == {"v1:0": "170.00", "v2:0": "160.00", "g1:0": "125.00", "t1:0": "95.00", "t2:0": "100.00", "n1:0": "70.00", "n2:0": "110.00"}
    assert await column("ratio_source") == {
        "v1:0": "store_product.member_level", "v2:0": "store.member_level", "g1:0": "plugin.member_level", "t1:0": "store.cumulative",
        "t2:0": "plugin.reward_ratio", "n1:0": "store.lottery", "n2:0": "store.reward_ratio",
    }  # T's 300 spent at S1's cashier counts for S1's tiers, not S2's
    assert r["zero_sum"]


async def test_qr10_cashier_chain(rand):
    rand(0)
    r = await play(
        qr_settings(extraction_ratio="0", member_level_ratios={"gold": "125"}, lottery={"mode": "FIXED", "ratios": ["10"]}),
        member("V", level="silver"), member("G", level="gold"), member("N"), member("T"), store("S1"),
        cashier("K1", "S1", member_level_ratios={"silver": "140"}, cumulative_tiers=[{"window_days": 30, "threshold": "200.00", "ratio": "115"}], reward_ratio="90"),
        cashier("K2", "S1"),
        *(paid(o, m, (None, "100.00"), channel="CASHIER", store="S1", cashier=k) for o, m, k in [("v1", "V", "K1"), ("g1", "G", "K1"), ("n1", "N", "K1"), ("n2", "N", "K2")]),
        paid("tk", "T", (None, "200.00"), channel="CASHIER", store="S1", cashier="K2"), completed("tk"),
        paid("t1", "T", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1"),
        draw("d1", "n1:0"),
    )
    assert totals(r) == {"v1:0": "140.00", "g1:0": "125.00", "n1:0": "10.00", "n2:0": "100.00", "tk:0": "200.00", "t1:0": "115.00"}
    assert (await column("ratio_source"))["n1:0"] == "plugin.lottery" and (await column("ratio_source"))["t1:0"] == "cashier.cumulative"
    assert {e["queue"] for e in r["entitlements"]} == {"qr:CASHIER:S1"} and r["zero_sum"]


# --- QR-11 cumulative-spend tiers -----------------------------------------------------------

QR11_TIERS = [
    {"window_days": 30, "threshold": "2000.00", "ratio": "50"},
    {"window_days": 30, "threshold": "5000.00", "ratio": "60"},
    {"window_days": 60, "threshold": "10000.00", "ratio": "100"},
]


async def test_qr11_spec_tiers_over_completed_orders_in_the_window():
    replay = Replay()
    at = lambda day: clock(f"{day}T10:00:00+08:00")  # noqa: E731
    await play_on(replay, qr_settings(extraction_ratio="0"), member("A"), SPEND, product("P1", cumulative_tiers=QR11_TIERS, reward_ratio="20"),
                  at("2026-01-01"), *spend("x1", "A", "3000.00"),
                  paid("x2", "A", ("X", "5000.00")),  # paid, never completed: does not count
                  *spend("x3", "A", "3000.00"), refunded("x3"))  # refunded: does not count
    r = await play_on(replay, at("2026-01-02"), paid("p1", "A", ("P1", "100.00")))
    assert ent(r, "p1:0")["total"] == "50.00"  # 30 d: 3000 ≥ 2000
    r = await play_on(replay, at("2026-01-03"), *spend("x4", "A", "2000.00"), paid("p2", "A", ("P1", "100.00")))
    assert ent(r, "p2:0")["total"] == "60.00"  # 30 d: 5000 ≥ 5000
    r = await play_on(replay, at("2026-01-21"), *spend("x5", "A", "5000.00"), paid("p3", "A", ("P1", "100.00")))
    assert ent(r, "p3:0")["total"] == "100.00"  # 60 d: 10000 ≥ 10000
    r = await play_on(replay, at("2026-02-15"), paid("p4", "A", ("P1", "100.00")))
    assert ent(r, "p4:0")["total"] == "100.00"  # 30 d (from 01-16): 5000 → 60 %; 60 d (from 12-17): 10000 → 100 %; the largest wins
    r = await play_on(replay, at("2026-03-10"), paid("p5", "A", ("P1", "100.00")))
    assert ent(r, "p5:0")["total"] == "20.00"  # 30 d: 0; 60 d (from 01-09): 5000 → no tier, the product's own 20 %
    assert r["zero_sum"]


async def test_qr11_a_refunded_line_of_a_completed_order_stops_counting():
    replay = Replay()
    r = await play_on(replay, qr_settings(extraction_ratio="0"), member("A"), SPEND, product("P1", cumulative_tiers=QR11_TIERS[:1], reward_ratio="20"),
                      paid("x1", "A", ("X", "1500.00"), ("X", "500.00")), completed("x1"), paid("p1", "A", ("P1", "100.00")),
                      refunded("x1", line=1), paid("p2", "A", ("P1", "100.00")))
    assert (ent(r, "p1:0")["total"], ent(r, "p2:0")["total"]) == ("50.00", "20.00") and r["zero_sum"]


async def test_qr11_mall_tiers_count_self_operated_and_supplier_lines_only():
    chain = product("XC", source="SUPPLY_CHAIN", enabled=False)
    supplier = product("XS", source="SUPPLIER", enabled=False)
    r = await play(qr_settings(extraction_ratio="0"), member("A"), chain, supplier, product("P1", cumulative_tiers=QR11_TIERS[:1], reward_ratio="20"),
                   paid("x1", "A", ("XC", "5000.00")), completed("x1"), paid("p1", "A", ("P1", "100.00")),
                   paid("x2", "A", ("XS", "2000.00")), completed("x2"), paid("p2", "A", ("P1", "100.00")))
    # seed 000: 商城自营+供应商 — the supply-chain order does not count, the supplier one does
    assert (ent(r, "p1:0")["total"], ent(r, "p2:0")["total"]) == ("20.00", "50.00") and r["zero_sum"]


async def spend_days() -> list[tuple[str, str, str, int]]:
    rows = await fetch(connections.get("default"), "SELECT member_id, scope, day, amount_fen FROM member_spend_day ORDER BY member_id, scope, day")
    return [(r["member_id"], r["scope"], r["day"], int(r["amount_fen"])) for r in rows]


async def test_qr11_orders_completed_the_same_local_day_share_one_bucket_row():
    replay = Replay()
    await play_on(replay, qr_settings(extraction_ratio="0"), member("A"), SPEND, store("S1"), cashier("K1", "S1"),
                  clock("2026-01-01T01:00:00+08:00"), *spend("x1", "A", "300.00"),  # 2025-12-31 in UTC, 01-01 locally
                  paid("k1", "A", (None, "40.00"), channel="CASHIER", store="S1", cashier="K1"), completed("k1"),
                  clock("2026-01-01T23:00:00+08:00"), *spend("x2", "A", "200.00"),
                  clock("2026-01-02T09:00:00+08:00"), paid("x3", "A", ("X", "70.00"), ("X", "30.00")),
                  refunded("x3", line=1), completed("x3"), refunded("x2"))
    # x1 and x2 on 01-01: one mall row, less x2 refunded the next day; x3 completes without its refunded line
    assert await spend_days() == [("A", "mall", "2026-01-01", 30000), ("A", "mall", "2026-01-02", 7000), ("A", "store:S1", "2026-01-01", 4000)]
    when = datetime(2026, 1, 2, 2, tzinfo=UTC)  # one bulk call: paid, completed, then a line refunded, into 01-02
    events = [paid("y1", "A", ("X", "11.00"), ("X", "22.00")), completed("y1"), refunded("y1", line=0),
              paid("y2", "A", ("X", "5.00")), completed("y2"), paid("y3", "A", ("X", "9.00")), refunded("y3")]
    assert not [t for t in await intake.record_many(events, when) if isinstance(t, DomainError)]
    assert await spend_days() == [("A", "mall", "2026-01-01", 30000), ("A", "mall", "2026-01-02", 9700), ("A", "store:S1", "2026-01-01", 4000)]


async def test_qr10_qr11_qr12_combined_on_one_product(rand):
    """P1: gold 200 %, 30 d ≥ 1000 → 150 %, lottery 50 / 80, own 120 %; plugin silver 110 %; extraction 10 %."""
    rand(1)
    r = await play(
        qr_settings(member_level_ratios={"silver": "110"}), SPEND,
        member("G", level="gold"), member("S", level="silver"), member("T"), member("N"), member("B", level="bronze"),
        product("P1", member_level_ratios={"gold": "200"}, cumulative_tiers=[{"window_days": 30, "threshold": "1000.00", "ratio": "150"}],
                lottery={"mode": "FIXED", "ratios": ["50", "80"]}, reward_ratio="120"),
        *spend("xT", "T", "1000.00"), *spend("xG", "G", "1000.00"),
        paid("g", "G", ("P1", "100.00")), paid("s", "S", ("P1", "100.00")), paid("t", "T", ("P1", "100.00")),
        paid("n", "N", ("P1", "100.00")), draw("dn", "n:0", member="N"), paid("b", "B", ("P1", "100.00")),
    )
    # gold beats G's own tier; silver has no product ratio → plugin's; T's tier beats the lottery; N drew 80; B's level has no ratio
    assert totals(r) == {"g:0": "200.00", "s:0": "110.00", "t:0": "150.00", "n:0": "80.00", "b:0": "120.00"}
    assert (cash(r, "G"), ent(r, "g:0")["received"]) == ("40.00", "40.00")  # four later lines × 10.00
    assert await balance("liability:qr:MALL", "ENTITLEMENT") == "620.00"  # 160 + 110 + 150 + 80 + 120 outstanding
    assert (await refused(draw("dt", "t:0"))).code is ErrorCode.INVALID_ENTITLEMENT_STATE
    assert r["zero_sum"]


# --- QR-12 lottery --------------------------------------------------------------------------

async def test_qr12_fixed_and_range_draws_recompute_the_total(rand):
    rand(537, 1)
    replay = Replay()
    r = await play_on(replay, qr_settings(), *(member(m) for m in "ABCD"),
                      product("PF", lottery={"mode": "FIXED", "ratios": ["10", "20", "50"]}),
                      product("PR", lottery={"mode": "RANGE", "min": "10", "max": "20"}, reward_ratio="150"),
                      paid("a", "A", ("PF", "200.00")), paid("b", "B", ("PR", "200.00")))
    assert (ent(r, "a:0")["total"], ent(r, "a:0")["received"], ent(r, "b:0")["total"]) == ("200.00", "20.00", "300.00")
    error = await refused(draw("da", "a:0"), replay=replay)  # A has received 20.00: too late to draw
    assert error.code is ErrorCode.INVALID_ENTITLEMENT_STATE and "received" in error.message
    r = await play_on(replay, draw("db", "b:0"))  # RANGE 10..20 in 0.01 steps: outcome 537 → 15.37 %
    assert (ent(r, "b:0")["total"], ent(r, "b:0")["drawn_ratio"]) == ("30.74", "15.3700")  # 200 × 15.37 % = 30.74
    assert ent(r, "b:0")["drawn_at"] == "2026-01-01T00:00:00+00:00"
    r = await play_on(replay, paid("c", "C", ("PF", "100.00")), draw("dc", "c:0"))  # FIXED: outcome 1 → 20 %
    assert (ent(r, "c:0")["total"], ent(r, "a:0")["received"]) == ("20.00", "30.00")
    r = await play_on(replay, completed("b"))  # b:0 written again by a batch that draws nothing: when it was drawn stays
    (row,) = await fetch(connections.get("default"), "SELECT order_completed FROM entitlement WHERE key = 'b:0'")
    assert bool(row["order_completed"]) and ent(r, "b:0")["drawn_at"] == "2026-01-01T00:00:00+00:00"
    assert (await refused(draw("db2", "b:0"), replay=replay)).code is ErrorCode.INVALID_ENTITLEMENT_STATE  # once per entitlement
    r = await play_on(replay, draw("db", "b:0"))  # the same event again: nothing changes, nothing drawn
    assert ent(r, "b:0")["total"] == "30.74"
    assert await balance("liability:qr:MALL", "ENTITLEMENT") == "220.74"  # 170.00 + 30.74 + 20.00
    assert r["zero_sum"]


async def test_qr12_a_draw_queued_behind_a_payout_fails_when_it_settles(rand):
    rand()  # nothing may be drawn
    replay = Replay()
    await play_on(replay, qr_settings(), member("A"), member("B"), product("PF", lottery={"mode": "FIXED", "ratios": ["50"]}), paid("a", "A", ("PF", "100.00")))
    await intake.record(paid("b", "B", ("PF", "100.00")), replay.now)
    ticket = await actions.record_action(draw("da", "a:0", member="A"), replay.now)  # accepted: A has received nothing yet
    await settle_all()
    result = await queries.ticket(ticket.id)
    assert result is not None and result["status"] == "FAILED" and result["errors"][0].startswith("INVALID_ENTITLEMENT_STATE")
    r = await play_on(replay)
    assert (ent(r, "a:0")["total"], ent(r, "a:0")["received"], "drawn_ratio" in ent(r, "a:0")) == ("100.00", "10.00", False)
    assert r["zero_sum"]


async def test_c10_replays_draw_from_a_seeded_source(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(worker, "RANDOM", None)
    monkeypatch.setattr(worker, "_SEEDED", {})
    monkeypatch.setenv("REBATE_RANDOM_SEED", "20260101")
    expected = random.Random("20260101").randrange(1001)
    r = await play(qr_settings(), member("A"), product("PR", lottery={"mode": "RANGE", "min": "10", "max": "20"}),
                   paid("a", "A", ("PR", "100.00")), draw("da", "a:0"))
    assert ent(r, "a:0")["drawn_ratio"] == str(Decimal("10.0000") + Decimal("0.01") * expected) and r["zero_sum"]


# --- QR-13 reward periods and limits --------------------------------------------------------

async def test_qr13_reward_periods_use_the_platform_local_time():
    replay = Replay()
    r = await play_on(replay, qr_settings(), *(member(m) for m in "ABC"), product("P1", reward_periods=[{"start": "09:00", "end": "12:00"}]),
                      clock("2026-01-01T02:30:00+00:00"), paid("a", "A", ("P1", "100.00")),  # 10:30 in Shanghai: inside
                      clock("2026-01-01T13:00:00+08:00"), paid("b", "B", ("P1", "100.00")),  # 13:00: outside, still extracts
                      clock("2026-01-01T09:30:00+00:00"), paid("c", "C", ("P1", "100.00")))  # 17:30 local (09:30 UTC): outside
    assert [e["key"] for e in r["entitlements"]] == ["a:0"] and cash(r, "A") == "20.00" and r["zero_sum"]


async def test_qr13_limits_per_local_day_and_in_total_per_product():
    replay = Replay()
    r = await play_on(replay, qr_settings(), member("A"), member("B"), product("P1", max_per_member_per_day=2, max_per_member_total=3), product("P2"),
                      clock("2026-01-01T10:00:00+08:00"),
                      paid("a1", "A", ("P1", "100.00"), ("P1", "100.00"), ("P1", "100.00")),  # the third line is over today's 2
                      paid("a2", "A", ("P2", "100.00")),  # P2 has no limits
                      clock("2026-01-01T23:30:00+08:00"), paid("a3", "A", ("P1", "100.00")),  # still the same local day
                      clock("2026-01-02T00:30:00+08:00"), paid("a4", "A", ("P1", "100.00")),  # a new local day (the same UTC day): the 3rd
                      clock("2026-01-02T01:00:00+08:00"), paid("a5", "A", ("P1", "100.00")),  # over the total of 3
                      paid("b1", "B", ("P1", "100.00")))  # B counts apart
    assert [e["key"] for e in r["entitlements"]] == ["a1:0", "a1:1", "a2:0", "a4:0", "b1:0"]
    assert cash(r, "A") == "70.00"  # every line after a1:0 still extracted 10.00 and paid it
    assert set((await column("scope_key")).values()) == {"product:P1", "product:P2"} and r["zero_sum"]


async def test_qr13_store_store_product_and_cashier_limits():
    r = await play(qr_settings(), member("A"), store("S1", max_per_member_per_day=1), store("S2"), cashier("K1", "S1", max_per_member_total=1),
                   product("SP1", source="STORE", store="S1"), product("SP2", source="STORE", store="S1"),
                   product("SP3", source="STORE", store="S2", max_per_member_total=1), product("SP4", source="STORE", store="S2"),
                   paid("o1", "A", ("SP1", "100.00"), **STORE_ONLINE), paid("o2", "A", ("SP2", "100.00"), **STORE_ONLINE),  # store: 1 a day
                   *(paid(o, "A", (p, "100.00"), channel="STORE_ONLINE", store="S2") for o, p in [("o3", "SP3"), ("o4", "SP3"), ("o5", "SP4")]),
                   *(paid(o, "A", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1") for o in ("k1", "k2")))
    assert [e["key"] for e in r["entitlements"]] == ["k1:0", "o1:0", "o3:0", "o5:0"]
    assert await column("scope_key") == {"o1:0": "store:S1", "o3:0": "store:S2", "o5:0": "store:S2", "k1:0": "cashier:S1"}
    assert cash(r, "A") == "40.00" and r["zero_sum"]  # o2, o4, o5 and k2 each paid A 10.00 in their queue


# --- QR-14 exchange -------------------------------------------------------------------------

EXCHANGE_ON = {"exchange_enabled": True, "exchange_to": ["POINTS", "LOVE_VALUE"], "exchange_ratio": "150"}


async def test_qr14_exchange_to_points_and_love_value_available_or_frozen():
    replay = Replay()
    r = await play_on(replay, qr_settings(**EXCHANGE_ON), *(member(m) for m in "ABCD"), product("P1"),
                      paid("a", "A", ("P1", "100.00")), paid("b", "B", ("P1", "100.00")),
                      exchange("x1", "a:0", "POINTS", member="A"),  # remainder 90.00 × 150 % → 135.00 points
                      paid("c", "C", ("P1", "100.00")),  # pays B: A has left the queue
                      exchange("x2", "b:0", "LOVE_VALUE"))
    assert (ent(r, "a:0")["status"], ent(r, "a:0")["exchanged_to"], ent(r, "a:0")["exchanged"]) == ("EXCHANGED", "POINTS", "135.00")
    assert (wallet(r, "A", "points"), cash(r, "A"), cash(r, "B"), wallet(r, "B", "love_value_available")) == ("135.00", "10.00", "10.00", "135.00")
    r = await play_on(replay, qr_settings(love_value_frozen=True), exchange("x3", "c:0", "LOVE_VALUE"), paid("d", "D", ("P1", "100.00")))
    assert (wallet(r, "C", "love_value_frozen"), wallet(r, "C", "love_value_available"), cash(r, "C")) == ("150.00", "0.00", "0.00")
    assert await balance("liability:qr:MALL", "ENTITLEMENT") == "100.00"  # only D's entitlement is outstanding
    assert await balance("platform:expense:points", "POINTS") == "-135.00" and r["zero_sum"]


async def test_qr14_exchange_refusals_and_idempotency():
    replay = Replay()
    await play_on(replay, qr_settings(**EXCHANGE_ON), member("A"), member("B"), product("P1"), paid("a", "A", ("P1", "100.00")),
                  paid("b", "B", ("P1", "100.00")), exchange("x1", "a:0", "POINTS"))
    cases = [
        (exchange("x2", "a:0", "POINTS"), ErrorCode.INVALID_ENTITLEMENT_STATE, "entitlement"),  # already EXCHANGED
        (exchange("x3", "b:0", "COUPON"), ErrorCode.INVALID_INPUT, "to"),
        (exchange("x4", "b:0", "POINTS", member="A"), ErrorCode.FORBIDDEN, "member"),
        (exchange("x5", "nope:0", "POINTS"), ErrorCode.UNKNOWN_ENTITLEMENT, "entitlement"),
        (exchange("x1", "b:0", "POINTS"), ErrorCode.IDEMPOTENCY_CONFLICT, "key"),
        ({**exchange("x6", "b:0", "POINTS"), "ratio": "200"}, ErrorCode.INVALID_INPUT, "ratio"),
    ]
    for event, code, field in cases:
        error = await refused(event, replay=replay)
        assert (error.code, error.field) == (code, field), event
    again = await actions.record_action(exchange("x1", "a:0", "POINTS"), replay.now)
    assert again.duplicate
    error = await refused(qr_settings(exchange_enabled=False), exchange("x7", "b:0", "POINTS"), replay=replay)
    assert (error.code, error.field) == (ErrorCode.INVALID_INPUT, "to")
    r = await play_on(replay)
    assert (wallet(r, "A", "points"), ent(r, "b:0")["status"]) == ("135.00", "WAITING") and r["zero_sum"]


# --- QR-15 random return --------------------------------------------------------------------

async def test_qr15_groups_of_one_cash_one_points(rand):
    rand(1, 0)  # group 1 (A, B): offset 1 converts; group 2 (C, D): offset 0 converts
    r = await play(qr_settings(random_return={"enabled": True, "cash_count": 1, "points_count": 1}), *(member(m) for m in "ABCD"), product("P1"),
                   *(paid(f"o{m}", m, ("P1", "100.00")) for m in "ABCD"))
    assert [(e["key"], e["status"]) for e in r["entitlements"]] == [("oA:0", "WAITING"), ("oB:0", "CONVERTED"), ("oC:0", "CONVERTED"), ("oD:0", "WAITING")]
    assert (cash(r, "A"), wallet(r, "B", "points"), wallet(r, "C", "points"), cash(r, "D")) == ("30.00", "100.00", "100.00", "0.00")
    assert (ent(r, "oB:0")["exchanged_to"], ent(r, "oB:0")["exchanged"]) == ("POINTS", "100.00")
    state = (await fetch(connections.get("default"), "SELECT state FROM queue WHERE id = 'qr:MALL'"))[0]["state"]
    assert '"random_return_n":4' in state.replace(" ", "") and '"chosen":[0]' in state.replace(" ", "")
    assert await balance("liability:qr:MALL", "ENTITLEMENT") == "170.00" and r["zero_sum"]  # A's 70 + D's 100


async def test_qr15_store_and_cashier_settings_turn_it_on_and_off_independently(rand):
    rand(0, 0)
    on = {"enabled": True, "cash_count": 1, "points_count": 1}
    r = await play(qr_settings(), *(member(m) for m in "ABCD"),
                   store("S1", random_return=on), store("S2"), cashier("K1", "S1"), cashier("K3", "S2", random_return=on),
                   product("SP1", source="STORE", store="S1"), product("SP2", source="STORE", store="S2"),
                   paid("a", "A", ("SP1", "100.00"), **STORE_ONLINE), paid("b", "B", ("SP2", "100.00"), channel="STORE_ONLINE", store="S2"),
                   paid("c", "C", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1"),
                   paid("d", "D", (None, "100.00"), channel="CASHIER", store="S2", cashier="K3"))
    assert [(e["key"], e["status"]) for e in r["entitlements"]] == [("c:0", "WAITING"), ("d:0", "CONVERTED"), ("a:0", "CONVERTED"), ("b:0", "WAITING")]
    assert (wallet(r, "A", "points"), wallet(r, "D", "points")) == ("100.00", "100.00") and r["zero_sum"]


# --- QR-16 reset ----------------------------------------------------------------------------

async def test_qr16_daily_reset_clears_waiting_and_forfeits_to_platform_income():
    replay = Replay()
    await play_on(replay, clock("2026-01-01T10:00:00+08:00"), qr_settings(reset={"enabled": True}), *(member(m) for m in "ABCD"), product("P1"),
                  paid("a", "A", ("P1", "100.00")), paid("b", "B", ("P1", "100.00")))
    r = await play_on(replay, clock("2026-01-01T23:59:00+08:00"), RESET)
    assert [e["status"] for e in r["entitlements"]] == ["WAITING", "WAITING"]  # 00:00 is not due yet
    r = await play_on(replay, clock("2026-01-02T00:00:10+08:00"), paid("c", "C", ("P1", "100.00")),  # after the due instant
                      clock("2026-01-02T00:01:00+08:00"), RESET, paid("d", "D", ("P1", "100.00")), RESET)
    assert [(e["key"], e["status"], e["received"]) for e in r["entitlements"]] == [
        ("a:0", "CLEARED", "20.00"), ("b:0", "CLEARED", "0.00"), ("c:0", "WAITING", "10.00"), ("d:0", "WAITING", "0.00")]
    assert (cash(r, "A"), cash(r, "C")) == ("20.00", "10.00")  # what was received stays
    assert await balance("platform:income", "ENTITLEMENT") == "180.00"  # 80.00 + 100.00 forfeited
    assert await balance("liability:qr:MALL", "ENTITLEMENT") == "190.00"  # C's 90 + D's 100
    runs = await JobRun.filter(job="queue_rebate.reset").order_by("day").values_list("day", "status")
    assert runs == [("2026-01-01T10:00:00", "ARMED"), ("2026-01-02T00:00:00", "RECORDED")] and r["zero_sum"]


async def test_qr16_a_large_reset_streams_in_chunks_before_later_events(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(worker, "RESET_CHUNK", 2)
    replay = Replay()
    await play_on(replay, clock("2026-01-01T10:00:00+08:00"), qr_settings(reset={"enabled": True, "time": "03:00"}), *(member(m) for m in "ABCDEF"),
                  product("P1"), *(paid(f"o{m}", m, ("P1", "100.00")) for m in "ABCDE"), clock("2026-01-02T03:00:00+08:00"))
    tickets = await actions.run_due_resets(replay.now)
    assert [t.key for t in tickets] == ["queue_rebate.reset:qr:MALL:2026-01-02T03:00:00"]
    await intake.record(paid("oF", "F", ("P1", "100.00")), replay.now)  # settles after the reset, in inbox order
    assert await actions.run_due_resets(replay.now) == []
    await settle_all()
    r = await play_on(replay)
    assert [e["status"] for e in r["entitlements"]] == ["CLEARED"] * 5 + ["WAITING"]
    assert (cash(r, "A"), ent(r, "oF:0")["received"]) == ("40.00", "0.00")  # F's extraction found nobody waiting
    assert await balance("platform:income", "ENTITLEMENT") == "460.00"  # 60 + 4 × 100
    queue = (await fetch(connections.get("default"), "SELECT head, tail, state FROM queue WHERE id = 'qr:MALL'"))[0]
    assert (queue["head"], queue["tail"], '"reset":null' in queue["state"].replace(" ", "")) == (6, 6, True) and r["zero_sum"]


async def test_qr16_the_cron_job_records_the_due_reset_and_enqueues_its_queue():
    """`cron(queue_rebate_reset, second=0)` (workers.main) runs on the wall clock: armed in 2020, a run is due."""
    replay = Replay()
    await play_on(replay, clock("2020-01-01T10:00:00+08:00"), qr_settings(reset={"enabled": True}), member("A"), product("P1"), paid("a", "A", ("P1", "100.00")))

    class Redis:
        jobs: list[tuple[Any, ...]] = []

        async def enqueue_job(self, *args: Any, **kwargs: Any) -> None:
            self.jobs.append((*args, kwargs.get("_job_id")))

        async def eval(self, script: str, keys: int, *args: Any) -> list[Any]:
            return list(args[keys:])  # enqueue_drains marks the queues ready: none was marked yet

    redis = Redis()
    assert await queue_rebate_reset({"redis": redis}) == 1
    assert redis.jobs == [("drain_queue", "qr:MALL", "drain:qr:MALL")]
    assert await queue_rebate_reset({"redis": redis}) == 0  # the same due run is recorded once
    await settle_all()
    r = await play_on(replay)
    assert ent(r, "a:0")["status"] == "CLEARED" and r["zero_sum"]


# --- QR-17 pause ----------------------------------------------------------------------------

async def test_qr17_paused_lines_join_but_never_extract_on_pay():
    replay = Replay()
    r = await play_on(replay, qr_settings(**EXCHANGE_ON), *(member(m) for m in "ABC"), product("P1"), paid("a", "A", ("P1", "100.00")),
                      qr_settings(paused=True), paid("b", "B", ("P1", "100.00")), completed("b"))
    assert (cash(r, "A"), ent(r, "b:0")["status"], r["pools"]["qr:MALL"]) == ("0.00", "WAITING", "0.00")
    error = await refused(exchange("x1", "a:0", "POINTS"), replay=replay)  # nothing is paid while paused
    assert error.code is ErrorCode.INVALID_INPUT
    r = await play_on(replay, qr_settings(paused=False), paid("c", "C", ("P1", "100.00")))
    assert (cash(r, "A"), ent(r, "a:0")["received"]) == ("10.00", "10.00")  # only C's extraction: B's never runs
    extracted = await fetch(connections.get("default"), "SELECT order_id, extraction_fen, extracted FROM order_line ORDER BY order_id")
    assert [(x["order_id"], int(x["extraction_fen"])) for x in extracted] == [("a", 1000), ("b", 0), ("c", 1000)]
    assert r["zero_sum"]


async def test_qr17_on_complete_extraction_is_taken_when_the_order_completes_unpaused():
    replay = Replay()
    r = await play_on(replay, qr_settings(settle_on="ON_COMPLETE"), *(member(m) for m in "ABC"), product("P1"),
                      paid("a", "A", ("P1", "100.00")), paid("b", "B", ("P1", "100.00")), qr_update(paused=True),
                      paid("c", "C", ("P1", "100.00")), completed("a"),  # A's extraction would pay B: paused, so never
                      qr_update(paused=False), completed("c"), completed("b"))  # C's and B's extractions pay A
    assert (cash(r, "A"), cash(r, "B"), cash(r, "C")) == ("20.00", "0.00", "0.00") and r["zero_sum"]


# --- QR-18 display settings, QR-19 switches -------------------------------------------------

async def test_qr18_display_settings_are_stored_and_parsed():
    await play(qr_settings(show_queue_progress=False, show_pending_amount=False, show_member_info=False,
                           model_display_name="共享链", exchange_button_name="换积分"))
    s = await catalog.load_settings("queue_rebate")
    assert (s.show_queue_progress, s.show_cumulative, s.show_pending_count, s.show_member_info, s.show_pending_amount) == (False, True, True, False, False)
    assert (s.model_display_name, s.exchange_button_name) == ("共享链", "换积分")


def bare_product(id: str, source: str = "SELF_OPERATED", store_id: str | None = None, **qr: Any) -> dict[str, Any]:
    """A product event without its own `enabled`: a new mall product gets 商品排队返利 as its own switch."""
    return {"type": "product", "id": id, "source": source, "store": store_id, "listed": True, "queue_rebate": qr}


async def test_qr19_master_switch_and_new_products_default():
    """P1 is saved while 商品排队返利 is on: it stores `enabled: true` and stays in when the
    platform switch goes off; P3, saved while it is off, stays out when it goes on again.
    Lines of 100 at 10 % / 100 %: b (P1) and c (P2) earn, b's line pays nothing (nobody ahead),
    c pays b 10.00; d (P1) pays b 10.00 more; e (P3) earns nothing and extracts nothing."""
    replay = Replay()
    r = await play_on(replay, qr_settings(enabled=False), *(member(m) for m in "ABCDE"), bare_product("P1"), product("P2"),
                      paid("a", "A", ("P1", "100.00")), qr_settings(enabled=True, new_products_default_on=False), bare_product("P3"),
                      paid("b", "B", ("P1", "100.00")), paid("c", "C", ("P2", "100.00")))
    assert [e["key"] for e in r["entitlements"]] == ["b:0", "c:0"] and cash(r, "B") == "10.00"  # a: master switch off
    assert {p.id: p.queue_rebate.get("enabled") for p in await Product.all()} == {"P1": True, "P2": True, "P3": False}
    r = await play_on(replay, qr_settings(new_products_default_on=True), bare_product("P1", reward_ratio="100"),
                      paid("d", "D", ("P1", "100.00")), paid("e", "E", ("P3", "100.00")))
    assert [e["key"] for e in r["entitlements"]] == ["b:0", "c:0", "d:0"] and cash(r, "B") == "20.00" and cash(r, "C") == "0.00"
    assert (await Product.get(id="P1")).queue_rebate["enabled"] is True  # a re-save without it keeps its switch
    assert r["zero_sum"]


async def test_qr19_bulk_enable_switches_on_every_mall_product_only():
    r = await play(qr_settings(new_products_default_on=False), *(member(m) for m in "ABC"), store("S1"),
                   bare_product("P1"), bare_product("P2", "SUPPLIER", enabled=False, reward_ratio="150"), bare_product("P3", "SUPPLY_CHAIN"),
                   bare_product("SP1", "STORE", "S1"),
                   {"type": "queue_rebate.bulk_enable", "enabled": True},
                   paid("a", "A", ("P1", "100.00")), paid("b", "B", ("P2", "100.00")), paid("c", "C", ("SP1", "100.00"), **STORE_ONLINE))
    assert totals(r) == {"a:0": "100.00", "b:0": "150.00"} and cash(r, "A") == "10.00"  # P2 keeps its 150 %; SP1 stays off
    assert {p.id: p.queue_rebate.get("enabled") for p in await Product.all()} == {"P1": True, "P2": True, "P3": True, "SP1": None}
    assert r["zero_sum"]


# --- C-8 bad settings -----------------------------------------------------------------------

async def test_c8_bad_settings_are_refused_with_typed_errors_and_the_old_ones_kept():
    replay = Replay()
    await play_on(replay, qr_settings(lottery={"mode": "FIXED", "ratios": ["10"]}), member("A"), member("B"), store("S1", reward_ratio="110"),
                  cashier("K1", "S1", max_per_member_total=2), product("P1", reward_ratio="130"))
    cases = [
        (qr_settings(lottery={"mode": "RANGE", "min": "20", "max": "10"}), ErrorCode.INVALID_SETTINGS, "lottery.min"),
        (qr_settings(lottery={"mode": "RANGE", "min": "10.001", "max": "20"}), ErrorCode.INVALID_RATIO, "lottery.min"),
        (qr_settings(exchange_enabled=True, exchange_to=[]), ErrorCode.INVALID_SETTINGS, "exchange_to"),
        (qr_settings(reset={"enabled": True, "schedule": "AT"}), ErrorCode.INVALID_SETTINGS, "reset.at"),
        (qr_settings(random_return={"enabled": True, "points_count": 0}), ErrorCode.INVALID_SETTINGS, "random_return.points_count"),
        (qr_settings(member_level_ratios={"gold": "-1"}), ErrorCode.INVALID_RATIO, "member_level_ratios.gold"),
        (product("P1", cumulative_tiers=[{"window_days": 60, "threshold": "1", "ratio": "1"}, {"window_days": 30, "threshold": "1", "ratio": "1"}]),
         ErrorCode.INVALID_SETTINGS, "queue_rebate.cumulative_tiers[1]"),
        (product("P1", reward_periods=[{"start": "12:00", "end": "09:00"}]), ErrorCode.INVALID_SETTINGS, "queue_rebate.reward_periods[0].end"),
        (store("S1", lottery={"mode": "DICE"}), ErrorCode.INVALID_SETTINGS, "queue_rebate.lottery.mode"),
        (cashier("K1", "S1", max_per_member_per_day=0), ErrorCode.INVALID_SETTINGS, "queue_rebate.max_per_member_per_day"),
        (product("P1", unknown_field=True), ErrorCode.INVALID_SETTINGS, None),
    ]
    for event, code, field in cases:
        error = await refused(event, replay=replay)
        assert error.code is code and (field is None or error.field == field), (event, error)
    plugin = await catalog.load_settings("queue_rebate")
    assert plugin.lottery is not None and plugin.lottery.ratios == (Decimal("10.0000"),) and not plugin.exchange_enabled and not plugin.reset.enabled
    assert (await Product.get(id="P1")).queue_rebate == {"enabled": True, "reward_ratio": "130.0000"}
    r = await play_on(replay, paid("a", "A", ("P1", "100.00")), paid("k", "B", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1"))
    assert totals(r) == {"a:0": "130.00", "k:0": "100.00"} and r["zero_sum"]  # a cashier line follows its cashier, not its store


# --- I-6 the example file through the console script ----------------------------------------

async def test_i6_lottery_exchange_reset_example_replays_with_a_seeded_source():
    """`REBATE_RANDOM_SEED=qr12 rebate replay …`: Random("qr12").randrange(2) = 1 → B draws 80 %."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"REBATE_RANDOM_SEED": "qr12"}
    done = subprocess.run([str(Path(sys.executable).parent / "rebate"), "replay", "examples/qr12_qr14_qr16_lottery_exchange_reset.jsonl", "--json"],
                          capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert (wallet(r, "A", "points"), cash(r, "A"), cash(r, "B")) == ("135.00", "10.00", "10.00")
    assert [(e["key"], e["status"], e["total"]) for e in r["entitlements"]] == [("oA:0", "EXCHANGED", "100.00"), ("oB:0", "CLEARED", "80.00"), ("oC:0", "CLEARED", "100.00")]
    assert (ent(r, "oA:0")["exchanged"], ent(r, "oB:0")["drawn_ratio"]) == ("135.00", "80.0000") and r["zero_sum"]
