"""Order dividend (OD-1..OD-5) and union queue (UQ-1..UQ-4) end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services import intake
from services.replay import Replay, daily_settlement_event, settle_all, state
from store.models import JobRun
from tests.integration.scenario import cash, completed, ent, member, paid, product, qr_settings, refunded

pytestmark = pytest.mark.usefixtures("db")


def od_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "order_dividend", "values": {"enabled": True, "slots": 3, "dividend_ratio": "40", "referral_ratio": "20",
                                                                      "free_ratio": "100", **values}}


def uq_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "union_queue", "values": {"enabled": True, "pool_ratio": "60", "quota_ratio": "110", **values}}


def clock(text: str) -> dict[str, Any]:
    return {"type": "clock", "now": text}


def order(o: str, m: str, amount: str, profit: str | None = None) -> list[dict[str, Any]]:
    return [paid(o, m, ("P1", amount), profit=profit), completed(o)]


RUN_UQ = {"type": "run", "job": "union_queue.daily_settlement"}


async def play(replay: Replay, *events: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    for e in events:
        for one in e if isinstance(e, list) else [e]:
            await replay.apply(one)
    return await state()


SEED_002 = [
    # A, B and C become the first three ACTIVE orders without dividends between them, then the
    # seed's 40 % dividend and 20 % referral apply (OD-5).
    od_settings(dividend_ratio="0", referral_ratio="0"), member("R"), *(member(m, "R") for m in "ABCDEF"), member("G"), product("P1"),
    *order("oA", "A", "1000.00"), *order("oB", "B", "1000.00"), *order("oC", "C", "1000.00"), od_settings(),
]


async def test_od5_d_600_gives_a_b_c_80_each_not_the_seeds_60():
    r = await play(Replay(), *SEED_002, order("oD", "D", "600.00"))
    assert [cash(r, m) for m in "ABC"] == ["80.00"] * 3 and cash(r, "R") == "120.00"
    assert ent(r, "oD")["status"] == "WAITING" and r["pools"]["od"] == "0.00" and r["zero_sum"]


async def test_od5_e_1000_gives_133_33_each_and_0_01_to_the_pool():
    r = await play(Replay(), *SEED_002, order("oD", "D", "600.00"), order("oE", "E", "1000.00"))
    assert [cash(r, m) for m in "ABC"] == ["213.33"] * 3 and r["pools"]["od"] == "0.01"


async def test_od5_f_with_referrer_pays_40_to_the_referrer_and_g_without_shares_60():
    r = await play(Replay(), *SEED_002, order("oD", "D", "600.00"), order("oE", "E", "1000.00"), order("oF", "F", "200.00"))
    assert cash(r, "R") == "360.00"  # 120 (D) + 200 (E) + 40 (F)
    assert [cash(r, m) for m in "ABC"] == ["240.00"] * 3  # 80.00 + 0.01 carried → 26.67 each
    assert r["pools"]["od"] == "0.00"
    r = await play(Replay(), order("oG", "G", "300.00"))
    assert [cash(r, m) for m in "ABC"] == ["300.00"] * 3  # (120 + 60) / 3
    assert cash(r, "R") == "360.00" and cash(r, "G") == "0.00" and r["zero_sum"]


async def test_od1_raising_slots_2_to_3_lets_c_share_the_next_order():
    """A, B ACTIVE and C WAITING under slots 2 (completed at 0 %); slots → 3; D completes 600:
    240 split three ways → 80.00 each to A, B and C, R receives 120.00 (OD-1: ACTIVE at once)."""
    r = await play(Replay(), od_settings(slots=2, dividend_ratio="0", referral_ratio="0"), member("R"), *(member(m, "R") for m in "ABCD"),
                   product("P1"), *order("oA", "A", "1000.00"), *order("oB", "B", "1000.00"), *order("oC", "C", "1000.00"),
                   od_settings(slots=3), order("oD", "D", "600.00"))
    assert [cash(r, m) for m in "ABC"] == ["80.00"] * 3 and cash(r, "R") == "120.00"
    assert [ent(r, o)["status"] for o in ("oA", "oB", "oC", "oD")] == ["ACTIVE", "ACTIVE", "ACTIVE", "WAITING"]
    assert r["pools"]["od"] == "0.00" and r["zero_sum"]


async def test_od3_a_capped_entry_is_done_and_the_next_waiting_becomes_active():
    r = await play(Replay(), od_settings(slots=1, referral_ratio="0"), *(member(m) for m in "ABC"), product("P1"),
                   order("oA", "A", "100.00"), order("oB", "B", "100.00"), order("oC", "C", "200.00"))
    # oA: no ACTIVE → 40 to the pool; oB: A gets 40 + 40 = 80; oC: A gets min(80, 20) = 20 → DONE, 60 to the pool, B promoted
    assert (cash(r, "A"), ent(r, "oA")["status"]) == ("100.00", "DONE")
    assert ent(r, "oB")["status"] == "ACTIVE" and ent(r, "oC")["status"] == "WAITING" and r["pools"]["od"] == "60.00" and r["zero_sum"]


async def test_od_refund_of_a_queued_order_removes_it_and_keeps_what_it_received():
    r = await play(Replay(), od_settings(slots=1, referral_ratio="0"), *(member(m) for m in "ABC"), product("P1"),
                   order("oA", "A", "1000.00"), order("oB", "B", "100.00"), refunded("oA"), order("oC", "C", "100.00"))
    assert ent(r, "oA")["status"] == "CANCELLED" and cash(r, "A") == "440.00"
    assert ent(r, "oB")["status"] == "ACTIVE" and cash(r, "B") == "40.00" and r["zero_sum"]


async def test_uq3_daily_settlement_pays_in_full_in_order_and_stops_at_the_first_it_cannot_pay():
    replay = Replay()
    r = await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(), *(member(m) for m in "ABCD"), product("P1"),
                   order("oA", "A", "1000.00", profit="500.00"), order("oB", "B", "1000.00", profit="500.00"),
                   order("oC", "C", "500.00", profit="2000.00"), RUN_UQ)
    assert ent(r, "oA")["total"] == "1100.00" and ent(r, "oA")["status"] == "COMPLETED" and cash(r, "A") == "1100.00"
    assert ent(r, "oB")["status"] == "WAITING" and ent(r, "oC")["status"] == "WAITING"  # C (550) would fit but waits behind B
    assert r["pools"]["uq"] == "700.00" and r["zero_sum"]
    r = await play(replay, RUN_UQ)  # the same day again pays nothing twice
    assert r["pools"]["uq"] == "700.00" and await JobRun.filter(job="union_queue.daily_settlement").count() == 1
    r = await play(replay, order("oD", "D", "100.00", profit="1000.00"), clock("2026-03-02T10:00:00+08:00"), RUN_UQ)
    assert cash(r, "B") == "1100.00" and cash(r, "C") == "0.00" and r["pools"]["uq"] == "200.00"


async def test_uq4_promotion_acceleration_is_paid_first():
    replay = Replay()
    r = await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(acceleration_ratio="50"), member("A"), member("B"), member("D", "B"),
                   product("P1"), order("oA", "A", "1000.00", profit="100.00"), order("oB", "B", "1000.00", profit="100.00"),
                   order("oD", "D", "100.00", profit="1000.00"), RUN_UQ)
    # pool 60 + 60 + 600 = 720; B's boost 300 is paid first, then A (1100) cannot be paid in full
    assert cash(r, "B") == "300.00" and cash(r, "A") == "0.00" and r["pools"]["uq"] == "420.00" and r["zero_sum"]


async def test_c11_one_order_in_three_models_is_settled_once_by_each():
    events = [qr_settings(), od_settings(referral_ratio="0"), uq_settings(), member("A"), member("B"), product("P1"),
              *order("oA", "A", "100.00", profit="50.00"), *order("oB", "B", "100.00", profit="50.00")]
    replay = Replay()
    r = await play(replay, *events, *events[-4:])  # every order event twice
    models = sorted((e["model"], e["key"]) for e in r["entitlements"])
    assert models == [("order_dividend", "oA"), ("order_dividend", "oB"), ("queue_rebate", "oA:0"), ("queue_rebate", "oB:0"),
                      ("union_queue", "oA"), ("union_queue", "oB")]
    # A: queue rebate 10.00 from B's extraction + order dividend 40.00 + 40.00 of pool from B's completion
    assert cash(r, "A") == "90.00" and r["pools"]["uq"] == "60.00" and r["zero_sum"]


async def test_products_may_opt_out_of_the_per_order_models():
    r = await play(Replay(), od_settings(excluded_products=["P2"]), uq_settings(excluded_products=["P2"]), member("A"), member("B"),
                   product("P1"), product("P2"),
                   paid("oA", "A", ("P1", "100.00"), ("P2", "300.00"), profit="40.00"), completed("oA"),
                   paid("oB", "B", ("P2", "100.00"), profit="10.00"), completed("oB"))
    od_a = next(e for e in r["entitlements"] if e["model"] == "order_dividend")
    uq_a = next(e for e in r["entitlements"] if e["model"] == "union_queue")
    assert (od_a["key"], od_a["total"]) == ("oA", "100.00")  # the cap counts only P1's line
    assert (uq_a["key"], uq_a["total"]) == ("oA", "110.00")
    assert r["pools"]["uq"] == "6.00"  # profit 40 × 100/400 = 10 → 60 %
    assert not [e for e in r["entitlements"] if e["key"] == "oB"] and r["zero_sum"]


async def test_uq3_a_settlement_cut_off_between_chunks_resumes_and_pays_nothing_twice(monkeypatch):
    import services.union_queue
    from services.settlement import settle_batch

    monkeypatch.setattr(services.union_queue, "CHUNK", 2)
    replay = Replay()
    await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(), *(member(m) for m in "ABCDE"), product("P1"),
               *(order(f"o{m}", m, "100.00", profit="100.00") for m in "ABCDE"))  # pool 5 × 60 = 300: pays two of 110 each
    now = datetime(2026, 3, 1, 2, tzinfo=UTC)
    await intake.record(daily_settlement_event(now), now)
    assert await settle_batch("uq") == 1  # one chunk of two entitlements committed, then the worker "dies"
    run = await JobRun.get(job="union_queue.daily_settlement")
    assert (run.status, run.cursor) == ("RUNNING", 2)
    await settle_all()  # the next job resumes the run after its cursor
    await replay.apply({"type": "run", "job": "union_queue.daily_settlement"})  # and a re-run of the day is a no-op
    r = await state()
    assert [cash(r, m) for m in "ABCDE"] == ["110.00", "110.00", "0.00", "0.00", "0.00"] and r["pools"]["uq"] == "80.00" and r["zero_sum"]
    assert (await JobRun.get(job="union_queue.daily_settlement")).status == "DONE"


async def test_uq3_two_days_settled_in_one_batch_pay_each_entitlement_once():
    """A worker that was down over two settlement times finds both days pending: the second day,
    settled in the same batch as the first, sees what the first paid (not yet written) and does
    not pay it again."""
    from store.models import Queue

    replay = Replay()
    await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(pool_ratio="100"), member("A"), member("B"), product("P1"),
               order("oA", "A", "50.00", profit="100.00"), order("oB", "B", "1000.00", profit="100.00"))  # 55 and 1100 waiting, pool 200
    await settle_all()
    for now in (datetime(2026, 3, 1, 2, tzinfo=UTC), datetime(2026, 3, 2, 2, tzinfo=UTC)):
        await intake.record(daily_settlement_event(now), now)
    await settle_all()
    r = await state()
    assert (cash(r, "A"), cash(r, "B"), r["pools"]["uq"]) == ("55.00", "0.00", "145.00") and r["zero_sum"]
    assert (ent(r, "oA")["status"], ent(r, "oB")["status"]) == ("COMPLETED", "WAITING")
    assert [run.status for run in await JobRun.filter(job="union_queue.daily_settlement").order_by("day")] == ["DONE", "DONE"]
    assert (await Queue.get(id="uq")).head == 2  # oB, the first still waiting


async def test_uq3_the_head_moves_to_the_first_entitlement_a_chunked_run_did_not_pay(monkeypatch):
    import services.union_queue

    monkeypatch.setattr(services.union_queue, "CHUNK", 2)
    from store.models import Queue

    replay = Replay()
    await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(), *(member(m) for m in "ABCDEFG"), product("P1"),
               *(order(f"o{m}", m, "100.00", profit="110.00") for m in "ABCDEFG"))  # pool 7 × 66 = 462: pays four of 110
    await settle_all()
    assert (await Queue.get(id="uq")).head == 1
    await replay.apply(RUN_UQ)
    r = await state()
    assert [cash(r, m) for m in "ABCDEFG"] == ["110.00"] * 4 + ["0.00"] * 3 and r["pools"]["uq"] == "22.00" and r["zero_sum"]
    assert (await Queue.get(id="uq")).head == 5  # oE
    assert (await JobRun.get(job="union_queue.daily_settlement")).cursor == 6  # the chunk of oE, oF: stopped at oE


async def _uq_ledger() -> dict[str, Any]:
    """What a settlement wrote, without ids, event ids and times (they differ between two runs)."""
    from tortoise import connections

    from store.sql import fetch

    conn = connections.get("default")
    reads = {
        "transfers": "SELECT key, source, target, asset, amount_fen, memo, queue_id FROM transfer ORDER BY key",
        "balances": "SELECT account, asset, amount_fen FROM balance ORDER BY account, asset",
        "days": "SELECT account, asset, day, inflow_fen, outflow_fen, inflows FROM ledger_day ORDER BY account, asset, day",
        "entitlements": "SELECT key, position, status, total_fen, received_fen, boost_fen FROM entitlement ORDER BY position",
        "queue": "SELECT head, tail, pool_fen FROM queue WHERE id = 'uq'",
        "runs": "SELECT day, status, cursor FROM job_run ORDER BY day",
        "counts": "SELECT queue_id, outstanding FROM liability_count ORDER BY queue_id",
    }
    return {name: [{k: str(v) for k, v in row.items()} for row in await fetch(conn, sql)] for name, sql in reads.items()}


async def _uq_two_days() -> dict[str, Any]:
    """A boost paid in part, a refund between the waiting ones, chunks of two that stop in the
    middle, a second day; then what was written."""
    replay = Replay()
    await play(replay, clock("2026-03-01T10:00:00+08:00"), uq_settings(pool_ratio="100", acceleration_ratio="50"), member("R"),
               *(member(m, "R") for m in "CD"), *(member(m) for m in "ABEFG"), product("P1"),
               order("oA", "A", "100.00", profit="500.00"), order("oB", "B", "50.00", profit="100.00"), order("oR", "R", "200.00"),
               order("oC", "C", "300.00", profit="100.00"), refunded("oC"), order("oD", "D", "100.00", profit="100.00"),
               order("oE", "E", "100.00"), order("oF", "F", "1000.00"), RUN_UQ,
               clock("2026-03-02T10:00:00+08:00"), order("oG", "G", "100.00", profit="1000.00"), RUN_UQ)
    r = await state()
    assert r["zero_sum"] and r["pools"]["uq"] == "95.00" and ent(r, "oG")["status"] == "WAITING"
    assert [cash(r, m) for m in "ABRCDEF"] == ["110.00", "55.00", "220.00", "0.00", "110.00", "110.00", "1100.00"]
    return await _uq_ledger()


async def test_uq3_a_day_paid_in_sql_writes_what_the_domains_postings_write(monkeypatch):
    """PostgreSQL pays a chunk that this batch has not changed in one statement (store.union_queue.
    pay_through); everywhere else, and for a chunk after a boost, the domain's postings are written.
    Both write the same transfers, balances, daily counts, entitlements, head and run state."""
    from tortoise import connections

    import services.union_queue
    import store.union_queue
    from tests.conftest import TABLES

    monkeypatch.setattr(services.union_queue, "CHUNK", 2)
    calls = []
    pay_through = store.union_queue.pay_through

    async def counted(*args: Any) -> Any:
        calls.append(args)
        return await pay_through(*args)

    monkeypatch.setattr(store.union_queue, "pay_through", counted)
    in_sql = await _uq_two_days()
    assert bool(calls) == store.union_queue.pays_in_sql(connections.get("default"))
    for table in TABLES:
        await connections.get("default").execute_script(f"DELETE FROM {table}")
    monkeypatch.setattr(store.union_queue, "pays_in_sql", lambda conn: False)
    assert await _uq_two_days() == in_sql


async def test_uq3_a_payout_writes_no_index_entry_on_postgresql():
    """Neither column a payout changes (status, received_fen) is in an index and the pages keep
    room, so on PostgreSQL every entitlement the day's statement pays is a HOT update."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    import store.union_queue
    from store.sql import dialect, fetch

    if dialect(connections.get("default")) != "postgres":
        pytest.skip("HOT updates are PostgreSQL's")
    await play(Replay(), clock("2026-03-01T10:00:00+08:00"), uq_settings(), *(member(m) for m in "ABC"), product("P1"),
               *(order(f"o{m}", m, "100.00", profit="10.00") for m in "ABC"))
    await settle_all()
    stats = "SELECT n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'entitlement'"
    async with in_transaction() as conn:
        before = (await fetch(conn, stats))[0]
        paid = await store.union_queue.pay_through(conn, "2026-03-01", 0, 3, None, datetime(2026, 3, 1, 2, tzinfo=UTC))
        after = (await fetch(conn, stats))[0]
        await conn.rollback()
    assert len(paid) == 3
    assert after["updated"] - before["updated"] == 3 and after["hot"] - before["hot"] == 3
