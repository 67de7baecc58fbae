"""会员等级 member levels (M-2) end to end: the configured list, and the level at order time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise import connections

from domain.errors import DomainError, ErrorCode
from services import catalog, intake
from services.replay import settle_all, state
from store.sql import fetch
from tests.integration.scenario import ent, member, paid, play, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
LEVELS = {"type": "settings", "model": "member_levels", "values": {"enabled": True, "levels": [{"name": "bronze", "rank": 10}, {"name": "gold", "rank": 20}]}}
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


async def test_m2_a_level_change_between_payment_and_settlement_keeps_the_level_at_order_time():
    """Gold earns 150 %, others the default 100 %. A (gold) pays 100; before the worker settles
    it A becomes bronze: A's entitlement is still 100 × 150 % = 150.00 (plugin.member_level).
    A's next order, paid as bronze, earns 100.00; B's line (10 %) pays A 10.00."""
    await play(LEVELS, qr_settings(member_level_ratios={"gold": "150"}), member("A", level="gold"), member("B"), product("P1"))
    await intake.record(paid("o1", "A", ("P1", "100.00")), now=NOW)
    await catalog.upsert_member("A", level="bronze")
    await settle_all()
    await intake.record(paid("o2", "A", ("P1", "100.00")), now=NOW)
    await settle_all()
    r = await state()
    assert (ent(r, "o1:0")["total"], ent(r, "o2:0")["total"]) == ("150.00", "100.00")
    sources = await fetch(connections.get("default"), "SELECT key, ratio_source FROM entitlement WHERE model = 'queue_rebate' ORDER BY key")
    assert [(s["key"], s["ratio_source"]) for s in sources] == [("o1:0", "plugin.member_level"), ("o2:0", "plugin.reward_ratio")]
    assert ent(r, "o1:0")["received"] == "10.00" and r["zero_sum"]


async def test_m2_a_members_level_must_be_one_of_the_configured_levels():
    await play(LEVELS, member("A", level="gold"))
    with pytest.raises(DomainError) as err:
        await catalog.upsert_member("B", level="platinum")
    assert (err.value.code, err.value.field) == (ErrorCode.UNKNOWN_MEMBER_LEVEL, "level")
    assert "B" not in {m for m in (await state())["members"]}


async def test_qr10_member_level_ratios_must_name_configured_levels():
    await play(LEVELS)
    with pytest.raises(DomainError) as err:
        await catalog.set_settings("queue_rebate", {"member_level_ratios": {"gold": "150", "vip": "200"}})
    assert (err.value.code, err.value.field) == (ErrorCode.UNKNOWN_MEMBER_LEVEL, "member_level_ratios.vip")
    with pytest.raises(DomainError) as err:
        await catalog.upsert_product("P1", "SELF_OPERATED", queue_rebate={"member_level_ratios": {"vip": "200"}})
    assert (err.value.code, err.value.field) == (ErrorCode.UNKNOWN_MEMBER_LEVEL, "queue_rebate.member_level_ratios.vip")
    await catalog.set_settings("queue_rebate", {"member_level_ratios": {"gold": "150"}})
    assert (await catalog.upsert_store("S1", queue_rebate={"member_level_ratios": {"bronze": "110"}})).id == "S1"
