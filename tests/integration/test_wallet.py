"""M-6 withdrawals and member transfers, QR-14 exchange to coupons, on SQLite and PostgreSQL;
zero-sum after every scenario."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.wallet import Step
from services import queries, wallet
from services.replay import state
from store.models import Transfer, Withdrawal
from tests.integration.scenario import exchange, member, paid, play, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)


def wallet_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "wallet", "values": values}


def request(key: str, m: str, amount: str) -> dict[str, Any]:
    return {"type": "withdrawal.request", "key": key, "member": m, "amount": amount}


def step(kind: str, w: str, key: str | None = None, **more: Any) -> dict[str, Any]:
    return {"type": f"withdrawal.{kind}", "key": key or f"{w}:{kind}", "withdrawal": w, **more}


# A earns 30.00 of cash (QR-1: B, C, D each pay A 10.00).
EARN = [qr_settings(), product("P1"), *(member(m) for m in "ABCD"), *(paid(f"o{m}", m, ("P1", "100.00")) for m in "ABCD")]


async def test_m6_request_approve_pay_leaves_the_platform_with_its_fee():
    r = await play(*EARN, wallet_settings(withdrawal_fee_ratio="1"), request("w1", "A", "20.00"))
    assert r["members"]["A"]["cash"] == "10.00" and r["members"]["A"]["withdrawing"] == "20.00"
    r = await play(step("approve", "w1"))
    assert r["members"]["A"]["withdrawing"] == "20.00"
    r = await play(step("pay", "w1", reference="BANK-1"))
    assert r["members"]["A"]["cash"] == "10.00" and r["members"]["A"]["withdrawing"] == "0.00" and r["zero_sum"]
    row = await Withdrawal.get(key="w1")
    assert (row.status, row.fee_fen, row.reference, row.paid_by, row.approved_by) == ("PAID", 20, "BANK-1", "replay", "replay")
    assert {t.key: (t.target, t.amount_fen) for t in await Transfer.filter(key__startswith="wd:w1:pay")} == {
        "wd:w1:pay": ("external:withdrawals", 1980), "wd:w1:pay:fee": ("platform:income", 20)}


async def test_m6_reject_returns_the_cash():
    await play(*EARN, request("w1", "A", "30.00"), step("approve", "w1"))
    r = await play(step("reject", "w1"))
    assert r["members"]["A"]["cash"] == "30.00" and r["members"]["A"]["withdrawing"] == "0.00" and r["zero_sum"]


async def test_m6_refusals_write_nothing():
    await play(*EARN, request("w1", "A", "10.00"))
    before = await Transfer.all().count()
    with pytest.raises(DomainError) as over:
        await wallet.withdraw("w2", "A", "20.01", NOW, "test")
    assert over.value.code is ErrorCode.INSUFFICIENT_BALANCE
    await wallet.review("w1", Step.APPROVE, NOW, "admin", "k1")
    with pytest.raises(DomainError) as twice:
        await wallet.review("w1", Step.APPROVE, NOW, "admin", "k2")
    assert twice.value.code is ErrorCode.INVALID_WITHDRAWAL_STATE
    assert (await wallet.review("w1", Step.APPROVE, NOW, "admin", "k1")).status == "APPROVED"  # the same key: idempotent
    await wallet.review("w1", Step.REJECT, NOW, "admin")
    with pytest.raises(DomainError) as rejected:
        await wallet.review("w1", Step.PAY, NOW, "admin", reference="X")
    assert rejected.value.code is ErrorCode.INVALID_WITHDRAWAL_STATE
    with pytest.raises(DomainError) as conflict:
        await wallet.withdraw("w1", "A", "5.00", NOW, "test")
    assert conflict.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert await Transfer.all().count() == before + 2 and await Withdrawal.all().count() == 1 and await queries.is_zero_sum()


async def test_m6_minimum_and_daily_limit():
    await play(*EARN, wallet_settings(withdrawal_minimum="5.00", withdrawal_daily_limit="15.00"), request("w1", "A", "10.00"))
    for key, amount, code in (("w2", "4.99", ErrorCode.INVALID_AMOUNT), ("w3", "5.01", ErrorCode.LIMIT_EXCEEDED)):
        with pytest.raises(DomainError) as refused:
            await wallet.withdraw(key, "A", amount, NOW, "test")
        assert refused.value.code is code
    await wallet.review("w1", Step.REJECT, NOW, "admin")  # a rejected request does not count
    assert (await wallet.withdraw("w4", "A", "15.00", NOW, "test")).status == "REQUESTED"


async def test_m6_concurrent_requests_never_overdraw():
    await play(*EARN)
    outcomes = await asyncio.gather(*(wallet.withdraw(f"c{i}", "A", "7.00", NOW, "test") for i in range(8)), return_exceptions=True)
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(done) == 4 and all(isinstance(o, DomainError) and o.code is ErrorCode.INSUFFICIENT_BALANCE for o in outcomes if o not in done)
    r = await state()
    assert r["members"]["A"]["cash"] == "2.00" and r["members"]["A"]["withdrawing"] == "28.00" and r["zero_sum"]


async def test_transfer_of_points_with_fee_and_switch():
    start = [qr_settings(exchange_enabled=True, exchange_to=["POINTS", "COUPON"], exchange_ratio="100"), product("P1"), member("A"), member("B"),
             paid("oA", "A", ("P1", "100.00"))]
    await play(*start, exchange("x1", "oA:0", "POINTS"))
    with pytest.raises(DomainError) as off:
        await wallet.transfer("t1", "A", "B", "POINTS", "10.00", NOW, "A")
    assert off.value.code is ErrorCode.INVALID_INPUT
    await play(wallet_settings(enabled=True, transfer_fee_ratio="10", transfer_minimum="1.00"))
    gift = await wallet.transfer("t1", "A", "B", "POINTS", "50.00", NOW, "A")
    assert (gift.amount, str(gift.fee)) == (gift.amount, "5.00")
    again = await wallet.transfer("t1", "A", "B", "POINTS", "50.00", NOW, "A")
    assert again == gift
    for args, code in ((("t2", "A", "B", "POINTS", "50.01"), ErrorCode.INSUFFICIENT_BALANCE), (("t3", "A", "B", "POINTS", "0.99"), ErrorCode.INVALID_AMOUNT),
                       (("t4", "A", "A", "POINTS", "1.00"), ErrorCode.INVALID_INPUT), (("t5", "A", "B", "CASH", "1.00"), ErrorCode.INVALID_INPUT)):
        with pytest.raises(DomainError) as refused:
            await wallet.transfer(*args, NOW, "A")
        assert refused.value.code is code
    r = await state()
    assert (r["members"]["A"]["points"], r["members"]["B"]["points"]) == ("50.00", "45.00") and r["zero_sum"]


async def test_qr14_exchange_to_coupon():
    r = await play(qr_settings(exchange_enabled=True, exchange_to=["COUPON"], exchange_ratio="150"), product("P1"), member("A"),
                   paid("oA", "A", ("P1", "100.00")), exchange("x1", "oA:0", "COUPON"))
    assert r["members"]["A"]["coupon"] == "150.00" and r["entitlements"][0]["status"] == "EXCHANGED" and r["zero_sum"]




async def test_concurrent_transfers_both_ways_and_twins():
    await play(qr_settings(exchange_enabled=True, exchange_to=["POINTS"]), product("P1"), member("A"), member("B"),
               paid("oA", "A", ("P1", "100.00")), paid("oB", "B", ("P1", "100.00")), exchange("x1", "oA:0", "POINTS"), exchange("x2", "oB:0", "POINTS"),
               wallet_settings(enabled=True))
    moves = [wallet.transfer(f"ab{i}", "A", "B", "POINTS", "10.00", NOW, "A") for i in range(5)]
    moves += [wallet.transfer(f"ba{i}", "B", "A", "POINTS", "10.00", NOW, "B") for i in range(5)]
    moves += [wallet.transfer("twin", "A", "B", "POINTS", "1.00", NOW, "A") for _ in range(3)]
    done = await asyncio.gather(*moves)
    assert len({g.key for g in done}) == 11
    r = await state()
    assert (r["members"]["A"]["points"], r["members"]["B"]["points"]) == ("89.00", "101.00") and r["zero_sum"]
