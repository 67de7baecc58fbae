"""Set-based bulk intake (`record_many`) on SQLite and PostgreSQL: each event of a call is accepted
or refused exactly as if the events were recorded one after another (C-6, C-8, M-5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import connections

from domain.errors import DomainError, ErrorCode
from services import intake, queries
from services.replay import Replay, settle_all
from store.sql import fetch
from tests.integration.scenario import completed, member, paid, product, qr_settings, refunded

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)
MEMBERS = [f"M{i}" for i in range(6)]
SETTLED = ["job_run", "member_spend_day", "balance", "transfer", "entitlement", "order_line", '"order"', "queue", "inbox_item", "event"]
CATALOG = [
    qr_settings(), *(member(m) for m in MEMBERS), product("P1"), product("P2", source="SUPPLIER"),
    {"type": "store", "id": "S1", "recruiter": None}, {"type": "store", "id": "S2", "recruiter": None},
    {"type": "cashier", "id": "K1", "store": "S1"}, {"type": "cashier", "id": "K3", "store": "S2"},
    product("SP1", source="STORE", store="S1"),
    {"type": "settings", "model": "order_dividend", "values": {"enabled": True, "slots": 2, "dividend_ratio": "40", "referral_ratio": "0", "free_ratio": "100"}},
    {"type": "settings", "model": "union_queue", "values": {"enabled": True, "pool_ratio": "60", "quota_ratio": "110"}},
]


async def catalog() -> None:
    replay = Replay()
    for e in CATALOG:
        await replay.apply(e)


async def wipe_settlement() -> None:
    """Back to the catalog alone (members, products, stores, settings stay)."""
    conn = connections.get("default")
    for table in SETTLED:
        await conn.execute_script(f"DELETE FROM {table}")


def outcome(result: intake.Ticket | DomainError, first_ids: dict[str, int]) -> tuple[Any, ...]:
    """A result without its database id; a replay names the key whose first ticket it returned."""
    if isinstance(result, DomainError):
        return ("refused", result.code, result.message, result.field)
    if result.duplicate:
        return ("replay", result.key, result.type, result.queues, first_ids.get(result.key) == result.id)
    first_ids.setdefault(result.key, result.id)
    return ("ticket", result.key, result.type, result.queues)


async def stored() -> dict[str, Any]:
    """What intake wrote, ids replaced by event keys so two runs compare."""
    conn = connections.get("default")
    keys = {r["id"]: r["key"] for r in await fetch(conn, "SELECT id, key FROM event")}
    return {
        "events": sorted((r["key"], r["type"], r["digest"]) for r in await fetch(conn, "SELECT key, type, digest FROM event")),
        "inbox": [(r["queue_id"], keys[r["event_id"]], r["status"]) for r in await fetch(conn, "SELECT queue_id, event_id, status FROM inbox_item ORDER BY id")],
        "orders": await fetch(conn, 'SELECT id, member_id, channel, store_id, cashier_id, profit_fen, amount_fen, status, completed_at IS NULL AS open, '
                              'refunded_at IS NULL AS whole FROM "order" ORDER BY id'),
        "lines": await fetch(conn, 'SELECT order_id, "index", product_id, quantity, paid_fen, deduction_fen, queue_id, refunded FROM order_line ORDER BY order_id, "index"'),
        "queues": await fetch(conn, "SELECT id, model FROM queue ORDER BY id"),
        # a row that came back to zero is no spend (one by one writes it, a bulk call nets it out)
        "spend": await fetch(conn, "SELECT member_id, scope, day, amount_fen FROM member_spend_day WHERE amount_fen <> 0 ORDER BY member_id, scope, day"),
    }


async def one_by_one(events: list[dict[str, Any]]) -> list[intake.Ticket | DomainError]:
    out: list[intake.Ticket | DomainError] = []
    for e in events:
        try:
            out.append(await intake.record(e, NOW))
        except DomainError as exc:
            out.append(exc)
    return out


async def assert_like_one_by_one(events: list[dict[str, Any]]) -> list[intake.Ticket | DomainError]:
    """record_many gives the results and rows that recording the events one by one gives."""
    single = await one_by_one(events)
    single_rows = await stored()
    await wipe_settlement()
    bulk = await intake.record_many(events, NOW)
    first_single: dict[str, int] = {}
    first_bulk: dict[str, int] = {}
    assert [outcome(r, first_bulk) for r in bulk] == [outcome(r, first_single) for r in single]
    assert await stored() == single_rows
    return bulk


def codes(results: list[intake.Ticket | DomainError]) -> list[str]:
    return [r.code.value if isinstance(r, DomainError) else ("dup" if r.duplicate else "ok") for r in results]


async def test_c8_a_refused_event_in_the_middle_writes_nothing_and_the_others_count():
    await catalog()
    events = [
        paid("o1", "M1", ("P1", "100.00")),
        paid("o2", "M2", ("P1", "100.00"), ("NOPE", "50.00")),  # its second line names an unknown product
        paid("o3", "M3", ("P1", "100.00")),
        paid("o4", "nobody", ("P1", "100.00")),
        paid("o5", "M4", ("P2", "100.00")),
    ]
    results = await intake.record_many(events, NOW)
    assert codes(results) == ["ok", "UNKNOWN_PRODUCT", "ok", "UNKNOWN_MEMBER", "ok"]
    assert results[1].field == "lines.1.product"
    assert [r.key for r in results if isinstance(r, intake.Ticket)] == ["o1:paid", "o3:paid", "o5:paid"]
    ids = [r.id for r in results if isinstance(r, intake.Ticket)]
    assert ids == sorted(ids) and all(r.queues == ["qr:MALL"] for r in results if isinstance(r, intake.Ticket))
    rows = await stored()
    assert [o["id"] for o in rows["orders"]] == ["o1", "o3", "o5"]
    assert [(ln["order_id"], ln["index"]) for ln in rows["lines"]] == [("o1", 0), ("o3", 0), ("o5", 0)]
    assert [key for _, key, _ in rows["inbox"]] == ["o1:paid", "o3:paid", "o5:paid"]
    assert [e[0] for e in rows["events"]] == ["o1:paid", "o3:paid", "o5:paid"]
    await settle_all()
    assert (await queries.wallets(["M1"]))["M1"]["cash"] == 20  # o3 and o5 each pay o1 10 %
    assert await queries.is_zero_sum()


async def test_c6_duplicates_inside_one_batch_return_the_first_ticket():
    await catalog()
    event = paid("o1", "M1", ("P1", "100.00"))
    results = await intake.record_many([event, dict(event), completed("o1"), paid("o2", "M2", ("P1", "10.00")), completed("o1"), dict(event)], NOW)
    assert codes(results) == ["ok", "dup", "ok", "ok", "dup", "dup"]
    first, again, done, _, done_again, third = results
    assert again.id == third.id == first.id and again.queues == third.queues == []
    assert done_again.id == done.id and done.type == "order.completed" and done.queues == ["qr:MALL", "od", "uq"]
    assert len({first.id, done.id, results[3].id}) == 3
    rows = await stored()
    assert [(q, key) for q, key, _ in rows["inbox"]] == [("qr:MALL", "o1:paid"), ("qr:MALL", "o1:completed"), ("od", "o1:completed"),
                                                        ("uq", "o1:completed"), ("qr:MALL", "o2:paid")]
    replayed = await intake.record_many([completed("o1"), event], NOW)  # a later call: the committed tickets
    assert [(r.id, r.duplicate) for r in replayed] == [(done.id, True), (first.id, True)]


async def test_c6_a_refused_event_does_not_take_its_key():
    await catalog()
    bad = paid("o1", "nobody", ("P1", "100.00"))
    good = paid("o1", "M1", ("P1", "100.00"))
    results = await intake.record_many([bad, good, bad], NOW)
    assert codes(results) == ["UNKNOWN_MEMBER", "ok", "IDEMPOTENCY_CONFLICT"]


async def test_c6_same_key_other_content_is_a_conflict_in_the_batch_and_after_it():
    await catalog()
    results = await intake.record_many([paid("o1", "M1", ("P1", "100.00")), paid("o1", "M1", ("P1", "90.00")), paid("o2", "M2", ("P1", "10.00"))], NOW)
    assert codes(results) == ["ok", "IDEMPOTENCY_CONFLICT", "ok"]
    assert results[1].field == "key"
    later = await intake.record_many([paid("o2", "M2", ("P1", "11.00")), paid("o2", "M2", ("P1", "10.00"))], NOW)
    assert codes(later) == ["IDEMPOTENCY_CONFLICT", "dup"] and later[1].id == results[2].id
    with pytest.raises(DomainError) as err:
        await intake.record(paid("o1", "M1", ("P1", "1.00")), NOW)
    assert err.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    rows = await stored()
    assert [o["amount_fen"] for o in rows["orders"]] == [10000, 1000]


async def test_m5_paid_completed_and_refunded_of_one_order_in_one_batch():
    await catalog()
    results = await intake.record_many([
        paid("o1", "M1", ("P1", "100.00"), ("P2", "50.00")),
        completed("o1"),
        refunded("o1", line=1),
        refunded("o1", line=1) | {"key": "o1:refunded:1:again"},  # that line is refunded already
        paid("o2", "M2", ("P1", "100.00")),
        refunded("o2"),
        completed("o2"),  # a refunded order cannot complete
        refunded("o1"),  # the rest of o1
        refunded("o1") | {"key": "o1:refunded:again"},
    ], NOW)
    assert codes(results) == ["ok", "ok", "ok", "INVALID_INPUT", "ok", "ok", "INVALID_ORDER_STATE", "ok", "INVALID_ORDER_STATE"]
    assert results[1].queues == ["qr:MALL", "od", "uq"] and results[2].queues == ["qr:MALL", "od", "uq"]
    assert results[5].queues == ["qr:MALL"]  # o2 never completed: no per-order model takes its refund
    rows = await stored()
    assert [(o["id"], o["status"], bool(o["open"]), bool(o["whole"])) for o in rows["orders"]] == [("o1", "REFUNDED", False, False), ("o2", "REFUNDED", True, False)]
    assert [bool(ln["refunded"]) for ln in rows["lines"]] == [True, True, True]
    await settle_all()
    ents = {(e.model, e.key): e.status for e in await queries.entitlements()}
    assert ents[("queue_rebate", "o1:0")] == "CANCELLED" and ents[("queue_rebate", "o2:0")] == "CANCELLED"
    assert await queries.is_zero_sum()


async def test_m5_an_order_paid_in_an_earlier_call_completes_and_refunds_in_a_batch():
    await catalog()
    await intake.record_many([paid("o1", "M1", ("P1", "100.00"), ("P1", "20.00")), paid("o2", "M2", ("P1", "100.00"))], NOW)
    results = await intake.record_many([refunded("o1", line=0), completed("o1"), completed("o2"), refunded("o1", line=0) | {"key": "x"}, refunded("o1")], NOW)
    assert codes(results) == ["ok", "ok", "ok", "INVALID_INPUT", "ok"]
    assert results[0].queues == ["qr:MALL"] and results[4].queues == ["qr:MALL", "od", "uq"]
    rows = await stored()
    assert [(o["id"], o["status"], bool(o["open"]), bool(o["whole"])) for o in rows["orders"]] == [("o1", "REFUNDED", False, False), ("o2", "COMPLETED", False, True)]
    assert [bool(ln["refunded"]) for ln in rows["lines"]] == [True, True, False]


async def test_every_refusal_and_dependency_matches_one_by_one():
    await catalog()
    events: list[dict[str, Any]] = [
        paid("o1", "M1", ("P1", "100.00"), ("P2", "20.00", "5.00"), profit="30.00"),
        paid("o1", "M1", ("P1", "100.00")) | {"key": "o1:paid:again"},  # the order exists (paid under another key)
        paid("s1", "M2", ("SP1", "80.00"), channel="STORE_ONLINE", store="S1"),
        paid("k1", "M3", (None, "60.00"), channel="CASHIER", store="S1", cashier="K1"),
        paid("k2", "M3", (None, "60.00"), channel="CASHIER", store="S1", cashier="K3"),  # K3 is S2's
        paid("k3", "M3", (None, "60.00"), channel="CASHIER", store="S1"),  # no cashier
        paid("k4", "M3", (None, "60.00"), channel="STORE_ONLINE"),  # no store
        paid("k5", "M3", ("SP1", "60.00"), channel="STORE_ONLINE", store="S9"),
        paid("b1", "M4", ("P1", "1.001")),
        paid("b2", "M4", ("P1", "-1.00")),
        paid("b3", "M4", ("P1", "abc")),
        paid("b4", "M4", ("P1", "1.00")) | {"channel": "PHONE"},
        paid("b5", "M4") | {"lines": []},
        paid("b6", "M4", ("P1", "1.00")) | {"lines": [{"product": "P1", "paid": "1.00", "quantity": 0}]},
        paid("b7", "M4", ("P1", "1.00")) | {"lines": ["P1"]},
        paid("b8", "M4", (None, "1.00")),  # a mall line without its product
        paid("b9", "M4", ("P1", "1.00")) | {"profit": "1.5.0"},
        paid("b10", "M4", ("P1", "1.00")) | {"order": ""},
        {"type": "order.shipped", "key": "x1", "order": "o1"},
        {"type": "order.paid", "order": "o9"},
        completed("nope"),
        completed("o1"),
        completed("o1") | {"key": "o1:completed:again"},
        refunded("s1", line=3),
        refunded("s1", line=True),  # type: ignore[arg-type]
        refunded("s1", line=0),
        paid("o1", "M1", ("P1", "100.00"), ("P2", "20.00", "5.00"), profit="30.00"),  # replay of the first
        refunded("b1"),  # its payment was refused
        {"type": "union_queue.daily_settlement", "key": "d1", "day": "2026-13-01"},
        {"type": "union_queue.daily_settlement", "key": "d2", "day": "2026-01-01"},
        {"type": "union_queue.daily_settlement", "key": "d2", "day": "2026-01-01"},
        paid("o6", "M5", ("P1", "40.00")),
        completed("o6"),
        refunded("o6"),
    ]
    results = await assert_like_one_by_one(events)
    assert codes(results) == [
        "ok", "INVALID_ORDER_STATE", "ok", "ok", "UNKNOWN_CASHIER", "INVALID_INPUT", "INVALID_INPUT", "UNKNOWN_STORE",
        "INVALID_AMOUNT", "NEGATIVE_AMOUNT", "MALFORMED_DECIMAL", "INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT",
        "MALFORMED_DECIMAL", "INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT", "UNKNOWN_ORDER", "ok", "INVALID_ORDER_STATE",
        "INVALID_INPUT", "INVALID_INPUT", "ok", "dup", "UNKNOWN_ORDER", "INVALID_INPUT", "ok", "dup", "ok", "ok", "ok",
    ]
    assert results[2].queues == ["qr:STORE:S1"] and results[3].queues == ["qr:CASHIER:S1"]


async def test_settling_a_bulk_report_pays_what_one_by_one_reports_pay():
    """Queue rebate, order dividend and union queue settle a bulk report to the same wallets,
    entitlements and pools as the same events recorded one by one."""
    await catalog()
    events: list[dict[str, Any]] = []
    for i in range(40):
        m = MEMBERS[i % len(MEMBERS)]
        events.append(paid(f"o{i}", m, ("P1", f"{100 + i}.00"), *([("P2", "30.00", "5.00")] if i % 3 == 0 else []), profit=f"{20 + i}.00"))
        if i % 4 == 1:
            events.append(completed(f"o{i - 1}"))
        if i % 7 == 6:
            events.append(refunded(f"o{i - 3}", line=0))
        if i % 5 == 0:
            events.append(events[-1])  # a duplicate report
    events += [completed(f"o{i}") for i in range(30, 40)]

    async def settled() -> dict[str, Any]:
        await settle_all()
        return {
            "wallets": await queries.wallets(MEMBERS),
            "entitlements": [(e.model, e.key, e.queue, e.position, e.total, e.received, e.status) for e in await queries.entitlements()],
            "pools": await queries.pools(),
            "zero_sum": await queries.is_zero_sum(),
        }

    single = await one_by_one(events)
    one_by_one_state = await settled()
    await wipe_settlement()
    bulk = []
    for start in range(0, len(events), 17):
        bulk += await intake.record_many(events[start:start + 17], NOW)
    assert codes(bulk) == codes(single)
    bulk_state = await settled()
    assert bulk_state == one_by_one_state
    assert bulk_state["zero_sum"] and any(w["cash"] > 0 for w in bulk_state["wallets"].values())
    assert {e[0] for e in bulk_state["entitlements"]} == {"queue_rebate", "order_dividend", "union_queue"}


async def test_a_large_batch_is_chunked():
    await catalog()
    events = [paid(f"o{i}", MEMBERS[i % 6], ("P1", "10.00")) for i in range(1200)]
    results = await intake.record_many(events, NOW)
    assert codes(results) == ["ok"] * 1200 and len({r.id for r in results}) == 1200
    again = await intake.record_many([*events[:600], completed("o1199")], NOW)
    assert codes(again) == ["dup"] * 600 + ["ok"]
    assert [r.id for r in again[:600]] == [r.id for r in results[:600]]


async def test_c6_concurrent_overlapping_batches_record_each_event_once():
    """Clients that re-send overlapping batches at once (in other orders): every key is written
    once and every call returns its ticket (a key race or a deadlock reruns the loser's call)."""
    await catalog()
    pays = [paid(f"o{i}", MEMBERS[i % 6], ("P1", "10.00")) for i in range(12)]
    completions = [completed(f"o{i}") for i in range(0, 12, 2)]
    batches = [pays + completions, pays[::-1] + completions[::-1], pays[4:] + pays[:4] + completions, pays + completions]
    results = await asyncio.gather(*(intake.record_many(b, NOW) for b in batches))
    by_key: dict[str, set[int]] = {}
    for batch in results:
        assert all(isinstance(r, intake.Ticket) for r in batch), codes(batch)
        for r in batch:
            by_key.setdefault(r.key, set()).add(r.id)
    assert len(by_key) == 18 and all(len(ids) == 1 for ids in by_key.values())
    assert sum(not r.duplicate for batch in results for r in batch) == 18
    rows = await stored()
    assert len(rows["events"]) == 18 and len(rows["inbox"]) == 12 + 6 * 3
    assert [o["status"] for o in rows["orders"]].count("COMPLETED") == 6
    await settle_all()
    assert await queries.is_zero_sum()
