"""积分分红 end to end (PD-1..PD-10, I-7) on SQLite and PostgreSQL: seed 003's worked examples
through an event file, the daily release once per day and resumable, adjustments and the team tree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from services import catalog, intake
from services import points_dividend as pd
from services import points_dividend_views as views
from services.replay import Replay, settle_all, state
from services.settlement import settle_batch
from store import points_dividend as pd_store
from store.models import Event, ModelSettings, TeamNode
from tests.integration.scenario import completed, member, paid, product, refunded

pytestmark = pytest.mark.usefixtures("db")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pd_seed003_points_dividend.jsonl"
DAY = "2026-01-02"


def points(r: dict[str, Any], m: str) -> str:
    return str(r["members"][m]["points"])


def plan(r: dict[str, Any], key: str) -> dict[str, Any]:
    return next(p for p in r["plans"] if p["key"] == key)


def pd_settings(**values: Any) -> dict[str, Any]:
    return {"type": "settings", "model": "points_dividend", "values": {"enabled": True, **values}}


def order(o: str, m: str, amount: str) -> list[dict[str, Any]]:
    return [paid(o, m, ("P1", amount)), completed(o)]


async def play(*events: dict[str, Any] | list[dict[str, Any]], replay: Replay | None = None) -> dict[str, Any]:
    replay = replay or Replay()
    for e in events:
        for one in e if isinstance(e, list) else [e]:
            await replay.apply(one)
    return await state()


async def replay_example() -> dict[str, Any]:
    await Replay().run(EXAMPLE.read_text().splitlines())
    return await state()


EXPECTED_POINTS = {
    "P": "174.00",  # PD-2: 36 + 108 = 144 a day with two plans; PD-7: +50, −20
    "SA": "54.00", "SB": "36.00",  # PD-3: A receives 18 of B's 36
    "LD": "10000.00", "LC": "6036.00", "LB": "6469.84", "LA": "684.96",  # PD-4: C 1000, B 3400 (+15.84), A 600 (+20.16)
    "EC": "9720.00", "EB": "5868.00", "EA": "3265.20",  # PD-5: B 10 % of 9720, A 3 %
}


async def test_pd_seed003_event_file_gives_every_worked_example_exactly():
    r = await replay_example()
    assert {m: points(r, m) for m in EXPECTED_POINTS} == EXPECTED_POINTS
    assert (plan(r, "p1")["total"], plan(r, "p1")["released"]) == ("7500.00", "36.00")  # PD-1: 3000 → 7500, 36 a day
    assert (plan(r, "p2")["total"], plan(r, "p2")["released"]) == ("27000.00", "108.00")
    assert plan(r, "sb")["status"] == "CANCELLED" and plan(r, "sb")["released"] == "36.00"  # PD-10: released points stay
    assert r["team"]["LC"] == {"performance": "833333.33", "tier": "bronze", "distribution_tier": None}  # distribution is off here
    assert r["team"]["LB"]["tier"] == "star" and r["team"]["LA"]["tier"] == "king"
    assert r["team"]["SA"] == {"performance": "0.00", "tier": None, "distribution_tier": None}  # PD-10: the refund takes performance back
    assert r["zero_sum"]


async def test_pd9_a_day_release_breaks_down_per_kind():
    await replay_example()
    c, b, a = [await views.day_release(m, DAY) for m in ("LC", "LB", "LA")]
    assert (c.static, c.share, c.team, c.same_level) == (36, 5000, 1000, 0)
    assert (str(b.share), str(b.team)) == ("3018.00", "3415.84")
    assert (str(a.share), str(a.team)) == ("28.80", "620.16")
    e = await views.day_release("EA", DAY)
    assert (str(e.team), str(e.same_level)) == ("3.60", "291.60")
    totals = await views.day_totals(DAY)
    assert totals is not None and totals["done"] and totals["members"] == 10


async def test_pd9_a_second_run_of_the_day_releases_nothing():
    r = await replay_example()
    again = await play({"type": "clock", "now": f"{DAY}T23:00:00+08:00"}, {"type": "run", "job": "points_dividend.daily_release"},
                       {"type": "points_dividend.daily_release", "key": f"ops:{DAY}", "day": DAY})
    assert {m: points(again, m) for m in EXPECTED_POINTS} == {m: points(r, m) for m in EXPECTED_POINTS} and again["zero_sum"]


async def test_pd9_a_run_cut_between_chunks_resumes_exactly(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pd, "CHUNK", 3)  # 10 members: four chunks, one transaction each
    real = pd_store.releasing_plans
    calls = {"n": 0}

    async def killed_in_third_chunk(conn: Any, members: Any, day: str) -> Any:
        calls["n"] += 1
        if calls["n"] >= 3:  # from the third chunk on, until the "worker" is back
            raise RuntimeError("worker killed")
        return await real(conn, members, day)

    lines = EXAMPLE.read_text().splitlines()
    run_at = next(i for i, text in enumerate(lines) if '"run"' in text)
    replay = Replay()
    await replay.run(lines[:run_at])
    await intake.record(pd.daily_release_event(replay.now), replay.now)
    monkeypatch.setattr(pd_store, "releasing_plans", killed_in_third_chunk)
    while await settle_batch("pd"):  # the failing batch is noted (not yet FAILED) and the queue waits
        pass
    progress = await views.day_totals(DAY)
    assert progress is not None and progress["members"] == 6 and not progress["done"]  # two chunks committed
    monkeypatch.setattr(pd_store, "releasing_plans", real)
    await settle_all()
    await replay.run(lines[run_at:])
    r = await state()
    assert {m: points(r, m) for m in EXPECTED_POINTS} == EXPECTED_POINTS and r["zero_sum"]


async def test_pd2_the_last_day_releases_what_is_left():
    replay = Replay(now=datetime(2026, 1, 1, 2, tzinfo=UTC))
    await play(pd_settings(), product("P1"), member("A"), *order("oA", "A", "3000.00"), replay=replay)
    for day in range(209):
        replay.now = datetime(2026, 1, 2, 2, tzinfo=UTC) + timedelta(days=day)
        await replay.apply({"type": "run", "job": "points_dividend.daily_release"})
    r = await state()
    assert points(r, "A") == "7500.00" and plan(r, "oA")["status"] == "EXHAUSTED" and r["zero_sum"]
    last = await views.day_release("A", (datetime(2026, 1, 2) + timedelta(days=208)).date().isoformat())
    assert str(last.static) == "12.00"  # 7500 = 208 × 36 + 12


async def test_pd1_duplicate_and_concurrent_events_count_once():
    await play(pd_settings(), product("P1"), member("A"), member("B", "A"), paid("oB", "B", ("P1", "3000.00")))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tickets = await asyncio.gather(*(intake.record(completed("oB"), now) for _ in range(4)))
    assert len({t.id for t in tickets}) == 1
    adjust = {"type": "points.adjust", "key": "a1", "member": "A", "amount": "10.00", "reason": "welcome"}
    await asyncio.gather(*(pd.record_adjustment(adjust, now) for _ in range(3)))
    await pd.record_adjustment(adjust, now)
    r = await play(completed("oB"))
    assert len(r["plans"]) == 1 and r["team"]["A"]["performance"] == "3000.00" and points(r, "A") == "10.00" and r["zero_sum"]


async def test_pd7_adjustments_below_zero_or_without_reason_are_refused_and_write_nothing():
    await play(pd_settings(), member("A"))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    before = await Event.all().count()
    cases = [({"amount": "-0.01", "reason": "x"}, ErrorCode.INSUFFICIENT_POINTS), ({"amount": "5.00", "reason": " "}, ErrorCode.INVALID_INPUT),
             ({"amount": "0", "reason": "x"}, ErrorCode.INVALID_AMOUNT), ({"amount": "1.001", "reason": "x"}, ErrorCode.INVALID_AMOUNT),
             ({"amount": "1.00", "reason": "x", "member": "nobody"}, ErrorCode.UNKNOWN_MEMBER)]
    for i, (fields, code) in enumerate(cases):
        with pytest.raises(DomainError) as refused:
            await pd.record_adjustment({"type": "points.adjust", "key": f"k{i}", "member": "A", **fields}, now)
        assert refused.value.code is code
    assert await Event.all().count() == before
    r = await play({"type": "points.adjust", "key": "ok", "member": "A", "amount": "5.00", "reason": "gift"},
                   {"type": "points.adjust", "key": "ok2", "member": "A", "amount": "-5.00", "reason": "taken back"})
    assert points(r, "A") == "0.00" and r["zero_sum"]


@pytest.mark.parametrize(("values", "code"), [
    ({"tiers": [{"name": "a", "threshold": "9000", "multiplier": "3"}, {"name": "b", "threshold": "3000", "multiplier": "2.5"}]}, ErrorCode.INVALID_SETTINGS),
    ({"release_ratio": "0"}, ErrorCode.INVALID_RATIO),
    ({"share_ratios": ["50", "130"]}, ErrorCode.INVALID_RATIO),  # generations beyond the guard: the compliance tests (enforce on)
    ({"release_time": "25:00"}, ErrorCode.INVALID_SETTINGS),
])
async def test_pd7_bad_settings_are_refused_and_write_nothing(values: dict[str, Any], code: ErrorCode):
    await play(pd_settings())
    stored = (await ModelSettings.get(model="points_dividend")).values
    with pytest.raises(DomainError) as refused:
        await catalog.set_settings("points_dividend", values)
    assert refused.value.code.value in (code.value, ErrorCode.INVALID_SETTINGS.value, ErrorCode.INVALID_RATIO.value)
    assert (await ModelSettings.get(model="points_dividend")).values == stored


async def test_team_tree_depth_jump_and_refused_reparenting():
    await play(*(member(f"m{i}", f"m{i - 1}" if i else None) for i in range(12)), member("x"))
    nodes = {n.member_id: n for n in await TeamNode.all()}
    assert nodes["m11"].depth == 11 and nodes["x"].depth == 0
    with pytest.raises(DomainError) as refused:
        await catalog.upsert_member("m5", referrer="x")
    assert refused.value.code is ErrorCode.REFERRER_LOCKED
    await catalog.upsert_member("m11", referrer="x")  # a member without a team may still move
    r = await play(pd_settings(), product("P1"), *order("o", "m11", "100.00"))
    assert r["team"]["x"]["performance"] == "100.00" and r["team"]["m10"]["performance"] == "0.00"
    view = await views.team("m0")
    assert view is not None and view.size == 10


async def test_pd10_refund_cancels_the_plan_and_team_performance_drops():
    r = await play(pd_settings(), product("P1"), member("A"), member("B", "A"), *order("oB", "B", "60000.00"))
    assert r["team"]["A"] == {"performance": "60000.00", "tier": "bronze", "distribution_tier": None}
    r = await play(refunded("oB"))
    assert plan(r, "oB")["status"] == "CANCELLED" and r["team"]["A"]["performance"] == "0.00" and r["zero_sum"]


async def test_pd9_releases_are_published_as_payouts_of_each_member():
    await play(pd_settings(), product("P1"), member("A"), member("B", "A"), *order("oA", "A", "3000.00"), *order("oB", "B", "3000.00"))
    now = datetime(2026, 1, 2, 2, tzinfo=UTC)
    await intake.record(pd.daily_release_event(now), now)
    published: list[tuple[str, list[dict[str, Any]], int]] = []

    async def publish(queue: str, payouts: list[dict[str, Any]], version: int, events: list[int] | None = None) -> None:
        published.append((queue, payouts, version))

    while await settle_batch("pd", publish):
        pass
    [(queue, payouts, _)] = published
    assert queue == "pd" and sorted((p["member"], p["amount"]) for p in payouts) == [("A", "54.00"), ("B", "36.00")]
