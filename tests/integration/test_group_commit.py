"""Group commit of single reports (services/group_commit.py) on SQLite, PostgreSQL and MariaDB:
concurrent callers share one transaction, yet each is answered as if it had reported alone
(C-6 replays, C-8 refusals writing nothing), only once its event is committed; a group that fails
answers every caller with the error and writes nothing; a queue keeps the order of the reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from domain.errors import DomainError, ErrorCode
from services import intake
from services.group_commit import GroupCommit, Options, enabled, options
from services.intake import Ticket
from services.replay import Replay, settle_all
from store import intake as intake_rows
from store.sql import fetch
from tests.integration.scenario import completed, member, paid, product, qr_settings

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 1, 1, 2, tzinfo=UTC)


async def catalog() -> None:
    replay = Replay()
    for e in (qr_settings(), *(member(f"M{i}") for i in range(4)), product("P1")):
        await replay.apply(e)


class Enqueued:
    """The batcher's enqueue: records each call and what was committed when it came."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.committed_then: list[list[str]] = []

    async def __call__(self, queues: list[str]) -> None:
        self.calls.append(queues)
        self.committed_then.append(await event_keys())


async def event_keys() -> list[str]:
    """The committed events' keys, read outside any transaction of the batcher's."""
    return [r["key"] for r in await fetch(connections.get("default"), "SELECT key FROM event ORDER BY id")]


async def gathered(group: GroupCommit, events: list[dict[str, Any]], nows: list[datetime] | None = None) -> list[Ticket | BaseException]:
    """Every event submitted at once (in list order), the answers in the same order."""
    nows = nows or [NOW] * len(events)
    return await asyncio.gather(*(group.submit(e, t) for e, t in zip(events, nows, strict=True)), return_exceptions=True)


async def test_c6_c8_a_duplicate_and_a_refused_report_in_one_group_are_answered_to_their_callers_only():
    await catalog()
    enqueued = Enqueued()
    group = GroupCommit(enqueued)
    first = paid("o1", "M1", ("P1", "100.00"))
    events = [first, paid("o2", "nobody", ("P1", "100.00")), dict(first), paid("o3", "M2", ("P1", "50.00")),
              {**paid("o1", "M1", ("P1", "99.00"))}, completed("o9")]
    results = await gathered(group, events)
    await group.close()
    assert group.groups == 1  # all six shared one transaction
    ok, nobody, again, other, conflict, unknown = results
    assert isinstance(ok, Ticket) and isinstance(other, Ticket) and isinstance(again, Ticket)
    assert (ok.duplicate, ok.queues, other.duplicate, other.queues) == (False, ["qr:MALL"], False, ["qr:MALL"])
    assert (again.duplicate, again.id, again.queues) == (True, ok.id, [])  # the replay returns the first ticket
    assert isinstance(nobody, DomainError) and (nobody.code, nobody.field) == (ErrorCode.UNKNOWN_MEMBER, "member")
    assert isinstance(conflict, DomainError) and conflict.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert isinstance(unknown, DomainError) and unknown.code is ErrorCode.UNKNOWN_ORDER
    conn = connections.get("default")
    assert await event_keys() == ["o1:paid", "o3:paid"]  # nothing of the refused ones
    assert [r["id"] for r in await fetch(conn, 'SELECT id FROM "order" ORDER BY id')] == ["o1", "o3"]
    assert [(r["queue_id"], r["event_id"]) for r in await fetch(conn, "SELECT queue_id, event_id FROM inbox_item ORDER BY id")] == [
        ("qr:MALL", ok.id), ("qr:MALL", other.id)]
    assert enqueued.calls == [["qr:MALL"]]  # one enqueue for the group
    await settle_all()
    rows = await fetch(conn, "SELECT member_id, total_fen FROM entitlement ORDER BY position")
    assert [(r["member_id"], int(r["total_fen"])) for r in rows] == [("M1", 10000), ("M2", 5000)]  # o1 then o3, each entitled to what it paid (reward ratio 100 %)


async def test_each_caller_is_answered_after_its_event_is_committed_and_its_queues_enqueued():
    await catalog()
    enqueued = Enqueued()
    group = GroupCommit(enqueued)
    answered_with: list[list[str]] = []

    async def report(event: dict[str, Any]) -> None:
        await group.submit(event, NOW)
        answered_with.append(await event_keys())

    await asyncio.gather(*(report(paid(f"o{i}", "M1", ("P1", "10.00"))) for i in range(5)))
    await group.close()
    assert enqueued.committed_then == [[f"o{i}:paid" for i in range(5)]]  # committed before the enqueue
    assert answered_with == [[f"o{i}:paid" for i in range(5)]] * 5


async def test_a_failing_write_answers_every_caller_of_the_group_with_its_error_and_writes_nothing(monkeypatch: pytest.MonkeyPatch):
    await catalog()
    enqueued = Enqueued()
    group = GroupCommit(enqueued)
    real = intake_rows.add_inbox_items

    async def broken(conn: Any, items: Any) -> None:
        await real(conn, items)  # the group's other rows are written, then the transaction fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(intake_rows, "add_inbox_items", broken)
    results = await gathered(group, [paid(f"o{i}", "M1", ("P1", "10.00")) for i in range(4)] + [paid("o9", "nobody", ("P1", "1.00"))])
    assert group.groups == 1
    assert all(isinstance(r, RuntimeError) and str(r) == "disk full" for r in results)
    assert enqueued.calls == []
    conn = connections.get("default")
    for table in ("event", '"order"', "order_line", "inbox_item"):
        assert (await fetch(conn, f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"] == 0, table
    monkeypatch.setattr(intake_rows, "add_inbox_items", real)
    again = await gathered(group, [paid("o1", "M1", ("P1", "10.00"))])  # the batcher goes on; the report can be retried
    await group.close()
    assert isinstance(again[0], Ticket) and not again[0].duplicate and await event_keys() == ["o1:paid"]


async def test_an_unexpected_error_validating_one_report_fails_that_caller_only(monkeypatch: pytest.MonkeyPatch):
    await catalog()
    group = GroupCommit(Enqueued())

    def bug(v: Any, p: Any) -> Any:
        raise KeyError("a bug in one handler")

    monkeypatch.setitem(intake._HANDLERS, "order.completed", bug)
    results = await gathered(group, [paid("o1", "M1", ("P1", "10.00")), completed("o1"), paid("o2", "M2", ("P1", "10.00"))])
    await group.close()
    assert group.groups == 1
    assert isinstance(results[0], Ticket) and isinstance(results[2], Ticket) and isinstance(results[1], KeyError)
    assert await event_keys() == ["o1:paid", "o2:paid"]


async def test_c7_a_queue_keeps_the_order_of_the_reports_across_groups():
    await catalog()
    group = GroupCommit(Enqueued(), max_group=3)
    events = [paid(f"o{i:02}", f"M{i % 4}", ("P1", "10.00")) for i in range(10)]
    results = await gathered(group, events)
    more = await gathered(group, [paid(f"o{i:02}", "M0", ("P1", "10.00")) for i in range(10, 13)])
    await group.close()
    assert group.groups == 5  # 3 + 3 + 3 + 1, then 3
    tickets = [r for r in results + more if isinstance(r, Ticket)]
    assert len(tickets) == 13
    rows = await fetch(connections.get("default"), "SELECT event_id FROM inbox_item WHERE queue_id = 'qr:MALL' ORDER BY id")
    assert [r["event_id"] for r in rows] == [t.id for t in tickets]  # the queue's order is the reports' order
    await settle_all()
    positions = await fetch(connections.get("default"), "SELECT order_id FROM entitlement ORDER BY position")
    assert [r["order_id"] for r in positions] == [f"o{i:02}" for i in range(13)]


async def test_each_report_keeps_its_own_time():
    await catalog()
    group = GroupCommit(Enqueued())
    later = NOW + timedelta(minutes=5)
    results = await gathered(group, [paid("o1", "M1", ("P1", "10.00")), paid("o2", "M2", ("P1", "10.00"))], [NOW, later])
    await group.close()
    assert group.groups == 1 and all(isinstance(r, Ticket) for r in results)
    rows = await fetch(connections.get("default"), 'SELECT id, paid_at FROM "order" ORDER BY id')
    paid_at = [r["paid_at"] if isinstance(r["paid_at"], datetime) else datetime.fromisoformat(str(r["paid_at"])) for r in rows]
    assert [t.replace(tzinfo=t.tzinfo or UTC) for t in paid_at] == [NOW, later]


async def test_a_closed_batcher_refuses_new_reports_and_the_setting_reads_on_or_off():
    group = GroupCommit(Enqueued())
    await group.close()
    with pytest.raises(RuntimeError, match="shutting down"):
        await group.submit(paid("o1", "M1", ("P1", "10.00")), NOW)
    assert enabled({}) and enabled({"REBATE_GROUP_COMMIT": "ON"}) and not enabled({"REBATE_GROUP_COMMIT": "off"})
    with pytest.raises(ValueError, match="on or off"):
        enabled({"REBATE_GROUP_COMMIT": "yes"})
    assert GroupCommit.from_env(Enqueued(), {"REBATE_GROUP_COMMIT": "off"}) is None
    tuned = GroupCommit.from_env(Enqueued(), {"REBATE_GROUP_COMMIT_MAX": "8", "REBATE_GROUP_COMMIT_WAIT_MS": "2"})
    assert tuned is not None and (tuned.max_group, tuned.max_wait) == (8, 0.002)
    assert options({}) == Options(256, 0.0) and options({"REBATE_GROUP_COMMIT_MAX": " 1 ", "REBATE_GROUP_COMMIT_WAIT_MS": "0.5"}) == Options(1, 0.0005)
    for name, bad in [("REBATE_GROUP_COMMIT_MAX", "0"), ("REBATE_GROUP_COMMIT_MAX", "-3"), ("REBATE_GROUP_COMMIT_MAX", "1e3"), ("REBATE_GROUP_COMMIT_MAX", "２"),
                      ("REBATE_GROUP_COMMIT_WAIT_MS", "-1"), ("REBATE_GROUP_COMMIT_WAIT_MS", "nan"), ("REBATE_GROUP_COMMIT_WAIT_MS", "inf"),
                      ("REBATE_GROUP_COMMIT_WAIT_MS", "2ms")]:
        with pytest.raises(ValueError, match=name):
            options({name: bad})
    assert options({"REBATE_GROUP_COMMIT": "off", "REBATE_GROUP_COMMIT_MAX": "0"}) is None  # off: the tuning is not read
