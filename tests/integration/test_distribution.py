"""分销 distribution rewards (DR-1..DR-8) and the compliance guard (DR-7) end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Posting
from services import distribution_roles
from services.replay import Replay, settle_all, state
from store import db
from store.ledger import write_postings
from tests.integration.scenario import completed, member, paid, product, refunded

pytestmark = pytest.mark.usefixtures("db")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OFF = {"DISTRICT": "0", "CITY": "0", "PROVINCE": "0"}


def dr_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "distribution", "values": {"enabled": True, **values}}


async def play(replay: Replay, *events: dict[str, Any]) -> dict[str, Any]:
    for e in events:
        await replay.apply(e)
    return await state()


def cash(r: dict[str, Any], *members: str) -> list[str]:
    return [r["members"][m]["cash"] for m in members]


async def test_dr_example_file_every_rule_hand_checked():
    replay = Replay()
    await replay.run((EXAMPLES / "dr_distribution.jsonl").read_text(encoding="utf-8").splitlines())
    r = await state()
    # o1 (D, 10 000): C 0.3 % + bronze 10 %, B 0.2 % + star 44 − 10 %, A king 50 − 44 %; agents 0.1 % each (DR-1, DR-2, DR-5)
    assert cash(r, "C", "B", "A", "X1", "X2") == ["1030.00", "3420.00", "600.00", "10.00", "10.00"]
    # o2 (H at cashier K1 of S1, 1 000): province only → 0.3 %; R's 0.5 % recruitment reversed by the refund (DR-4, DR-8)
    assert cash(r, "X3", "R") == ["10.00", "0.00"]
    # DR-6: 1 % of January's 20 000 = 200.00 → 66.66 each, 0.02 carried; the second run of 2026-01 pays nothing
    assert cash(r, "Y1", "Y2", "Y3") == ["66.66"] * 3 and r["pools"]["dr:shareholder"] == "0.02"
    assert cash(r, "D", "E", "H") == ["0.00"] * 3
    assert r["zero_sum"] is True
    # after o1 C's team holds D's 10 000 too: 11 000 ≥ king's 9 000
    assert {m: r["team"][m]["distribution_tier"] for m in "CDG"} == {"C": "king", "D": None, "G": None}
    assert r["compliance"] == []
    january = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert await distribution_roles.earnings("B", *january) == {"REFERRAL": D("20.00"), "TEAM": D("3400.00")}
    totals = await distribution_roles.earnings()
    assert totals == {"AGENT": D("30.00"), "REFERRAL": D("50.00"), "SHAREHOLDER": D("199.98"), "TEAM": D("5000.00")}


async def test_dr1_duplicate_completion_events_pay_once():
    replay = Replay()
    r = await play(replay, dr_settings(recruit_ratio="0", agent_ratios=OFF), member("A"), member("B", "A"), member("C", "B"), product("P1"),
                   paid("o1", "C", ("P1", "1000.00")), completed("o1"), completed("o1"))
    assert cash(r, "B", "A") == ["3.00", "2.00"] and r["zero_sum"]
    with pytest.raises(DomainError) as caught:  # the same order completed under another key
        await replay.apply({"type": "order.completed", "key": "o1:again", "order": "o1"})
    assert caught.value.code is ErrorCode.INVALID_ORDER_STATE
    assert cash(await state(), "B", "A") == ["3.00", "2.00"]


async def test_dr8_refund_takes_the_cash_left_and_books_a_receivable():
    replay = Replay()
    await play(replay, dr_settings(recruit_ratio="0", agent_ratios=OFF), member("A"), member("B", "A"), product("P1"), paid("o1", "B", ("P1", "1000.00")), completed("o1"))
    async with db.writing() as conn:  # A pays out 2.00 of its 3.00 (a withdrawal)
        await write_postings(conn, [(Posting("w1", "member:A:CASH", "platform:withdrawn", Asset.CNY, D("2.00")), None)], "test", datetime.now(UTC))
    r = await play(replay, refunded("o1"))
    assert r["members"]["A"]["cash"] == "0.00" and r["members"]["A"]["receivable"] == "-2.00" and r["zero_sum"]


async def test_excluded_products_are_left_out_of_the_amount():
    r = await play(Replay(), dr_settings(recruit_ratio="0", agent_ratios=OFF, excluded_products=["P2"]), member("A"), member("B", "A"),
                   product("P1"), product("P2"), paid("o1", "B", ("P1", "1000.00"), ("P2", "9000.00")), completed("o1"))
    assert cash(r, "A") == ["3.00"]


async def test_bad_distribution_settings_are_refused_with_typed_errors():
    replay = Replay()
    for values, code in (({"referral_ratios": ["x"]}, ErrorCode.MALFORMED_DECIMAL), ({"shareholder_period": "YEARLY"}, ErrorCode.INVALID_SETTINGS),
                         ({"agent_ratios": {"DISTRICT": "1", "CITY": "0.5"}}, ErrorCode.INVALID_SETTINGS)):
        with pytest.raises(DomainError) as caught:
            await replay.apply(dr_settings(**values))
        assert caught.value.code is code
    for event, code in (({"type": "agent", "member": "nobody", "level": "CITY", "region": "广东/东莞"}, ErrorCode.UNKNOWN_MEMBER),
                        ({"type": "agent", "member": None, "level": "CITY", "region": "广东"}, ErrorCode.INVALID_INPUT),
                        ({"type": "shareholder", "member": "nobody", "weight": "-1"}, ErrorCode.INVALID_RATIO)):
        with pytest.raises(DomainError) as caught:
            await replay.apply(event)
        assert caught.value.code is code


@pytest.mark.parametrize("name", ["od5_seed002_order_dividend.jsonl", "uq3_union_queue_daily.jsonl", "qr1_seed000_queue.jsonl"])
async def test_dr7_report_lists_the_seed_examples_settings_with_enforce_off(name):
    await Replay().run((EXAMPLES / name).read_text(encoding="utf-8").splitlines())
    report = (await state())["compliance"]
    if name.startswith("uq3"):
        assert report == [{"model": "union_queue", "setting": "quota_ratio", "value": "110", "limit": "100", "status": "WARN"}]
    else:
        assert report == []


async def test_dr7_enforce_refuses_and_override_passes():
    replay = Replay()
    await play(replay, {"type": "settings", "model": "compliance", "values": {"enforce": True}})
    with pytest.raises(DomainError) as caught:
        await replay.apply({"type": "settings", "model": "union_queue", "values": {"enabled": True, "quota_ratio": "110"}})
    assert caught.value.code is ErrorCode.COMPLIANCE_LIMIT and caught.value.field == "quota_ratio"
    await replay.apply({"type": "settings", "model": "union_queue", "values": {"enabled": False, "quota_ratio": "110"}})  # off: nothing to refuse
    with pytest.raises(DomainError) as caught:
        await replay.apply(dr_settings(referral_ratios=["1", "1", "1", "1"]))
    assert caught.value.code is ErrorCode.COMPLIANCE_LIMIT
    with pytest.raises(DomainError) as caught:
        await replay.apply(product("P9", reward_ratio="150"))
    assert caught.value.code is ErrorCode.COMPLIANCE_LIMIT
    r = await play(replay, {"type": "settings", "model": "union_queue", "values": {"enabled": True, "quota_ratio": "110", "compliance_override": True}})
    assert r["compliance"] == [{"model": "union_queue", "setting": "quota_ratio", "value": "110", "limit": "100", "status": "OVERRIDDEN"}]
    await settle_all()


async def test_dr6_the_cron_records_the_period_that_ended_in_the_platform_zone():
    assert await distribution_roles.due_dividend_event(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) is None  # off
    await play(Replay(), dr_settings(shareholder_period="MONTHLY"))
    event = await distribution_roles.due_dividend_event(datetime(2026, 1, 31, 16, 30, tzinfo=UTC))  # 2026-02-01 00:30 in Shanghai
    assert event == {"type": "distribution.shareholder_dividend", "key": "distribution.shareholder_dividend:2026-01", "period": "2026-01"}
    assert await distribution_roles.due_dividend_event(datetime(2026, 2, 1, 16, 30, tzinfo=UTC)) is None
    await play(Replay(), dr_settings(shareholder_period="WEEKLY"))
    event = await distribution_roles.due_dividend_event(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))  # a Monday
    assert event is not None and event["period"] == "2026-W01"
