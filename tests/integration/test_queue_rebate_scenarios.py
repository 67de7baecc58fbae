"""Queue rebate end to end through intake and the settlement job, on SQLite and PostgreSQL.

Every scenario also checks the ledger: each asset sums to zero and no balance drifts from its
transfers (C-5).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import DomainError, ErrorCode
from tests.integration.scenario import cash, completed, ent, member, paid, play, product, qr_settings, refunded

pytestmark = pytest.mark.usefixtures("db")
MEMBERS = [member(m) for m in "ABCDEFG"]


async def test_qr1_a_receives_10_from_each_of_b_c_d():
    r = await play(qr_settings(), *MEMBERS, product("P1"), *(paid(f"o{m}", m, ("P1", "100.00")) for m in "ABCD"))
    assert [cash(r, m) for m in "ABCD"] == ["30.00", "0.00", "0.00", "0.00"]
    assert ent(r, "oA:0")["received"] == "30.00" and ent(r, "oA:0")["status"] == "WAITING"
    assert r["pools"] == {"qr:MALL": "0.00"} and r["zero_sum"] is True


async def test_qr1_a_completes_after_ten_then_b_is_paid():
    orders = [paid(f"o{i}", "ABCDEFG"[i % 7], ("P1", "100.00")) for i in range(12)]
    r = await play(qr_settings(), *MEMBERS, product("P1"), *orders)
    assert ent(r, "o0:0")["status"] == "COMPLETED" and ent(r, "o0:0")["received"] == "100.00"
    assert ent(r, "o1:0")["received"] == "10.00"  # the 12th order is the first after A is done
    assert r["zero_sum"]


async def test_qr2_168_at_130_percent_pays_109_20_twice():
    r = await play(qr_settings(mall_queue=False), *MEMBERS, product("P1", extraction_ratio="65", reward_ratio="130"),
                   *(paid(f"o{i}", m, ("P1", "168.00")) for i, m in enumerate("ABC", 1)))
    assert ent(r, "o1:0")["total"] == "218.40" and ent(r, "o1:0")["status"] == "COMPLETED"
    assert cash(r, "A") == "218.40" and cash(r, "B") == "0.00"
    assert ent(r, "o2:0")["queue"] == "qr:PRODUCT:P1" and r["zero_sum"]


async def test_qr3_carry_keeps_the_surplus_for_the_next_line():
    r = await play(qr_settings(surplus="CARRY"), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")))
    assert cash(r, "A") == "20.00" and r["pools"]["qr:MALL"] == "0.00" and r["zero_sum"]


async def test_qr3_carry_pool_is_a_ledger_balance():
    r = await play(qr_settings(surplus="CARRY"), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")))
    assert r["pools"]["qr:MALL"] == "10.00" and r["zero_sum"]


async def test_qr3_a_later_line_of_one_order_pays_an_earlier_line():
    r = await play(qr_settings(), *MEMBERS, product("P1"), paid("o1", "A", ("P1", "100.00"), ("P1", "100.00")))
    assert ent(r, "o1:0")["received"] == "10.00" and ent(r, "o1:1")["received"] == "0.00" and ent(r, "o1:1")["position"] == 2


async def test_qr6_on_complete_extracts_when_the_order_completes():
    r = await play(qr_settings(settle_on="ON_COMPLETE"), *MEMBERS, product("P1"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")))
    assert cash(r, "A") == "0.00"
    r = await play(completed("oB"))
    assert cash(r, "A") == "10.00"
    r = await play(completed("oA"))  # A's extraction skips its own entitlement and pays B
    assert cash(r, "A") == "10.00" and cash(r, "B") == "10.00" and r["zero_sum"]


async def test_qr7_completed_first_skips_uncompleted_but_keeps_position():
    r = await play(qr_settings(reward_rule="COMPLETED_FIRST"), *MEMBERS, product("P1"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")), completed("oB"), paid("oC", "C", ("P1", "100.00")))
    assert (cash(r, "A"), cash(r, "B")) == ("0.00", "10.00")
    r = await play(completed("oA"), paid("oD", "D", ("P1", "100.00")))
    assert (cash(r, "A"), cash(r, "B")) == ("10.00", "10.00") and ent(r, "oA:0")["position"] == 1


async def test_qr7_queue_order_pays_uncompleted_entitlements():
    r = await play(qr_settings(reward_rule="QUEUE_ORDER"), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")))
    assert cash(r, "A") == "10.00"


async def test_qr8_refund_cancels_and_payouts_stay_without_clawback():
    r = await play(qr_settings(), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")),
                   refunded("oA"), paid("oC", "C", ("P1", "100.00")))
    assert ent(r, "oA:0")["status"] == "CANCELLED" and cash(r, "A") == "10.00" and cash(r, "B") == "10.00" and r["zero_sum"]


async def test_qr8_refund_with_clawback_takes_the_payouts_back():
    r = await play(qr_settings(clawback_on_refund=True), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")),
                   paid("oB", "B", ("P1", "100.00")), refunded("oA"))
    assert cash(r, "A") == "0.00" and ent(r, "oA:0")["received"] == "10.00" and r["zero_sum"]


async def test_qr8_a_refunded_completed_entitlement_shows_cancelled_and_keeps_its_100():
    """A 100 (reward 100 %, extraction 10 %); ten orders of 100 pay A 10.00 each → COMPLETED at
    100.00; A's order is refunded: CANCELLED, A keeps 100.00 (no clawback), nothing forfeited."""
    orders = [paid(f"o{i}", "BCDEFG"[i % 6], ("P1", "100.00")) for i in range(10)]
    r = await play(qr_settings(), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), *orders)
    assert ent(r, "oA:0")["status"] == "COMPLETED" and cash(r, "A") == "100.00"
    r = await play(refunded("oA"))
    assert ent(r, "oA:0")["status"] == "CANCELLED" and ent(r, "oA:0")["received"] == "100.00" and cash(r, "A") == "100.00"
    assert ent(r, "o0:0")["received"] == "0.00" and r["zero_sum"]


async def test_qr8_a_refunded_completed_entitlement_with_clawback_returns_its_100():
    orders = [paid(f"o{i}", "BCDEFG"[i % 6], ("P1", "100.00")) for i in range(10)]
    r = await play(qr_settings(clawback_on_refund=True), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), *orders, refunded("oA"))
    assert ent(r, "oA:0")["status"] == "CANCELLED" and cash(r, "A") == "0.00" and r["zero_sum"]


async def test_qr8_refunded_line_never_extracts_under_on_complete():
    r = await play(qr_settings(settle_on="ON_COMPLETE"), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")),
                   paid("oB", "B", ("P1", "100.00")), refunded("oB"))
    assert cash(r, "A") == "0.00" and ent(r, "oB:0")["status"] == "CANCELLED"
    with pytest.raises(DomainError) as err:
        await play(completed("oB"))
    assert err.value.code is ErrorCode.INVALID_ORDER_STATE


async def test_qr8_refund_of_one_line_cancels_only_that_entitlement():
    r = await play(qr_settings(), *MEMBERS, product("P1"), paid("o1", "A", ("P1", "100.00"), ("P1", "50.00")), refunded("o1", line=1))
    assert ent(r, "o1:0")["status"] == "WAITING" and ent(r, "o1:1")["status"] == "CANCELLED" and r["zero_sum"]


async def test_qr9_exclude_earns_nothing_but_still_extracts():
    r = await play(qr_settings(deduction="EXCLUDE"), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")),
                   paid("oB", "B", ("P1", "80.00", "20.00")), paid("oC", "C", ("P1", "100.00")))
    assert [e["key"] for e in r["entitlements"]] == ["oA:0", "oC:0"]
    assert cash(r, "A") == "18.00"  # 8.00 from B's actually paid 80 + 10.00 from C


async def test_qr9_participate_earns_on_deduction_lines():
    r = await play(qr_settings(deduction="PARTICIPATE"), *MEMBERS, product("P1"), paid("oB", "B", ("P1", "80.00", "20.00")))
    assert ent(r, "oB:0")["total"] == "80.00"


async def test_qr5_mall_queue_shares_self_operated_and_supplier():
    r = await play(qr_settings(), *MEMBERS, product("P1"), product("P2", source="SUPPLIER"), product("P3", source="SUPPLY_CHAIN"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P2", "100.00")), paid("oC", "C", ("P3", "100.00")))
    assert cash(r, "A") == "20.00" and {e["queue"] for e in r["entitlements"]} == {"qr:MALL"}


async def test_qr5_product_queues_when_the_mall_queue_is_off():
    r = await play(qr_settings(mall_queue=False), *MEMBERS, product("P1"), product("P2", source="SUPPLIER"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P2", "100.00")), paid("oC", "C", ("P1", "100.00")))
    assert cash(r, "A") == "10.00" and ent(r, "oB:0")["queue"] == "qr:PRODUCT:P2"


async def test_qr5_before_the_delisting_a_completion_pays_the_product_queue():
    """Product queues, ON_COMPLETE, 10 %: A and B buy P1 for 100; B's order completes: its 10.00
    extraction pays A (the case below delists P1 before that completion)."""
    before = await play(qr_settings(mall_queue=False, settle_on="ON_COMPLETE"), *MEMBERS, product("P1"),
                        paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")), completed("oB"))
    assert cash(before, "A") == "10.00"


async def test_qr5_after_the_delisting_a_completion_extracts_nothing():
    """As above, but P1 is delisted before B's order completes: its 10.00 extraction is not taken,
    A stays at 0.00 (seed 001 五: 下架了则后续永远不会再奖励)."""
    r = await play(qr_settings(mall_queue=False, settle_on="ON_COMPLETE"), *MEMBERS, product("P1"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")), product("P1", listed=False), completed("oB"))
    assert cash(r, "A") == "0.00" and ent(r, "oA:0")["received"] == "0.00" and ent(r, "oA:0")["status"] == "WAITING"
    assert r["pools"].get("qr:PRODUCT:P1", "0.00") == "0.00" and r["zero_sum"]
    r = await play(completed("oA"))  # nor does A's own extraction pay B
    assert cash(r, "B") == "0.00" and r["zero_sum"]


async def test_qr5_a_delisted_product_in_the_mall_queue_still_extracts_on_complete():
    """The MALL queue is not the product's own queue: it goes on paying (QR-5 names PRODUCT queues)."""
    r = await play(qr_settings(settle_on="ON_COMPLETE"), *MEMBERS, product("P1"), product("P2"),
                   paid("oA", "A", ("P2", "100.00")), paid("oB", "B", ("P1", "100.00")), product("P1", listed=False), completed("oB"))
    assert cash(r, "A") == "10.00" and r["zero_sum"]


STORES = [{"type": "store", "id": "S1", "recruiter": None}, {"type": "store", "id": "S2", "recruiter": None},
          {"type": "cashier", "id": "K1", "store": "S1"}, {"type": "cashier", "id": "K2", "store": "S1"}, {"type": "cashier", "id": "K3", "store": "S2"},
          product("SP1", source="STORE", store="S1"), product("SP2", source="STORE", store="S2")]


async def test_qr5_each_store_has_its_own_online_queue():
    r = await play(qr_settings(), *MEMBERS, *STORES, paid("oA", "A", ("SP1", "100.00"), channel="STORE_ONLINE", store="S1"),
                   paid("oB", "B", ("SP2", "100.00"), channel="STORE_ONLINE", store="S2"))
    assert cash(r, "A") == "0.00" and ent(r, "oA:0")["queue"] == "qr:STORE:S1" and ent(r, "oB:0")["queue"] == "qr:STORE:S2"


async def test_qr5_all_stores_queue_joins_the_stores():
    r = await play(qr_settings(all_stores_queue=True), *MEMBERS, *STORES, paid("oA", "A", ("SP1", "100.00"), channel="STORE_ONLINE", store="S1"),
                   paid("oB", "B", ("SP2", "100.00"), channel="STORE_ONLINE", store="S2"))
    assert cash(r, "A") == "10.00" and ent(r, "oB:0")["queue"] == "qr:ALL_STORES"


async def test_qr5_a_stores_cashiers_share_one_queue_apart_from_its_online_sales():
    r = await play(qr_settings(), *MEMBERS, *STORES,
                   paid("oA", "A", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1"),
                   paid("oB", "B", (None, "100.00"), channel="CASHIER", store="S1", cashier="K2"),
                   paid("oC", "C", ("SP1", "100.00"), channel="STORE_ONLINE", store="S1"),
                   paid("oD", "D", (None, "100.00"), channel="CASHIER", store="S2", cashier="K3"))
    assert cash(r, "A") == "10.00" and ent(r, "oC:0")["queue"] == "qr:STORE:S1" and ent(r, "oD:0")["queue"] == "qr:CASHIER:S2"


async def test_qr5_all_cashiers_queue():
    r = await play(qr_settings(all_cashiers_queue=True), *MEMBERS, *STORES,
                   paid("oA", "A", (None, "100.00"), channel="CASHIER", store="S1", cashier="K1"),
                   paid("oB", "B", (None, "100.00"), channel="CASHIER", store="S2", cashier="K3"))
    assert cash(r, "A") == "10.00" and ent(r, "oB:0")["queue"] == "qr:ALL_CASHIERS"


async def test_qr5_a_delisted_products_queue_takes_and_pays_nothing():
    r = await play(qr_settings(mall_queue=False), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")),
                   product("P1", listed=False), paid("oB", "B", ("P1", "100.00")))
    assert cash(r, "A") == "0.00" and [e["key"] for e in r["entitlements"]] == ["oA:0"]


async def test_qr20_product_extraction_and_reward_override_the_plugin():
    r = await play(qr_settings(), *MEMBERS, product("P1", extraction_ratio="20", reward_ratio="50"),
                   paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")))
    assert ent(r, "oA:0")["total"] == "50.00" and cash(r, "A") == "20.00"


async def test_c11_a_disabled_model_settles_nothing():
    r = await play(qr_settings(enabled=False), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")))
    assert r["entitlements"] == [] and cash(r, "A") == "0.00"


async def test_c6_the_same_event_twice_changes_nothing():
    event = paid("oB", "B", ("P1", "100.00"))
    r = await play(qr_settings(), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), event, event, event)
    assert cash(r, "A") == "10.00" and len(r["entitlements"]) == 2


async def test_c6_same_key_other_content_is_refused():
    with pytest.raises(DomainError) as err:
        await play(qr_settings(), *MEMBERS, product("P1"), paid("oA", "A", ("P1", "100.00")), paid("oA", "A", ("P1", "90.00")))
    assert err.value.code is ErrorCode.IDEMPOTENCY_CONFLICT


async def test_one_large_payment_pays_a_queue_longer_than_its_batchs_first_chunk():
    """A batch reads a short first chunk of its window (services.queue_rebate_world.first_chunk:
    18 entitlements for one event) and loads more when the extraction reaches past it."""
    small = [paid(f"s{i}", "ABCDEFG"[i % 7], ("P1", "1.00")) for i in range(40)]
    r = await play(qr_settings(), *MEMBERS, product("P1"), *small)
    owed = sum(Decimal(ent(r, f"s{i}:0")["total"]) - Decimal(ent(r, f"s{i}:0")["received"]) for i in range(40))
    assert owed == Decimal("36.10")  # 40 × 1.00 promised, 39 × 0.10 paid (the first line's 0.10 had nobody ahead of it)
    r = await play(paid("big", "A", ("P1", "1000.00")))  # 100.00 extracted: pays all 40, the rest is surplus
    assert all(ent(r, f"s{i}:0")["status"] == "COMPLETED" and ent(r, f"s{i}:0")["received"] == "1.00" for i in range(40))
    assert ent(r, "big:0")["status"] == "WAITING" and ent(r, "big:0")["received"] == "0.00"
    assert sum(Decimal(cash(r, m)) for m in "ABCDEFG") == Decimal("40.00") and r["zero_sum"]
