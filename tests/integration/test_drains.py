"""How queues are drained (docs/architecture.md, Settlement): a batch tells whether more is
pending, ready marks spare the jobs of queues already waiting, one drain job takes the other
marked queues, settings are parsed again when they change, a query's reads share one connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis
from tortoise import connections
from tortoise.exceptions import OperationalError

from services import catalog, intake, queries, settlement
from services.model_settings import load_settings
from services.replay import Replay
from services.settlement import READY, Settled, enqueue_drains, pending_queues, settle_group, settle_next
from store import reads
from store.models import InboxItem
from store.sql import execute_many, fetch
from tests.integration.scenario import member, paid, product, qr_settings
from tests.integration.test_worker import NOW, assert_settled_exactly, report, setup_queue
from workers import main as workers_main
from workers.locks import QueueLocks, lock_key
from workers.main import drain_queue, sweep

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """The test Redis, flushed before and after (the marks and locks of these tests)."""
    async with Redis.from_url(redis_url) as client:
        await client.flushdb()
        yield client
        await client.flushdb()


class Jobs:
    """The arq pool as enqueue_drains uses it, on a real Redis, with the jobs it was asked for."""

    def __init__(self, redis: Redis) -> None:
        self.redis, self.jobs = redis, []

    async def eval(self, *args: Any) -> Any:
        return await self.redis.eval(*args)  # type: ignore[misc]

    async def enqueue_job(self, function: str, *args: Any, _job_id: str | None = None) -> None:
        self.jobs.append((function, *args, _job_id))


async def test_a_batch_tells_whether_more_is_pending_so_a_drain_needs_no_empty_batch():
    await setup_queue()
    await report(5)
    first = await settle_next("qr:MALL", size=3)
    assert (first.count, first.more) == (3, True)
    last = await settle_next("qr:MALL", size=3)
    assert (last.count, last.more) == (2, False)  # exactly what was left: the drain stops here
    assert await pending_queues() == []
    assert await settle_next("qr:MALL") == Settled(0, False)
    await assert_settled_exactly(5)


async def test_a_batch_of_exactly_its_size_knows_the_queue_is_empty():
    await setup_queue()
    await report(4)
    done = await settle_next("qr:MALL", size=4)
    assert (done.count, done.more) == (4, False)


async def test_marked_queues_get_no_second_job_until_their_mark_is_taken(redis):
    jobs = Jobs(redis)
    await enqueue_drains(jobs, ["qr:A", "qr:B"])
    await enqueue_drains(jobs, ["qr:B", "qr:C"])  # B is already waiting for its job
    assert jobs.jobs == [("drain_queue", "qr:A", "drain:qr:A"), ("drain_queue", "qr:B", "drain:qr:B"), ("drain_queue", "qr:C", "drain:qr:C")]
    assert sorted(await redis.smembers(READY)) == [b"qr:A", b"qr:B", b"qr:C"]
    await redis.srem(READY, "qr:A")  # A's drain took its mark: a new report needs a job again
    await enqueue_drains(jobs, ["qr:A", "qr:B"])
    assert jobs.jobs[3:] == [("drain_queue", "qr:A", "drain:qr:A")]


async def test_the_sweeper_enqueues_every_queue_it_names_whatever_the_marks(redis):
    jobs = Jobs(redis)
    await enqueue_drains(jobs, ["qr:A"])
    await enqueue_drains(jobs, ["qr:A", "qr:B"], tick="7")
    assert jobs.jobs[1:] == [("drain_queue", "qr:A", "drain:qr:A:sweep:7"), ("drain_queue", "qr:B", "drain:qr:B:sweep:7")]


async def test_one_drain_job_settles_its_queue_and_the_other_marked_ones(redis):
    queues = await five_product_queues(40)
    assert len(queues) == 5
    await enqueue_drains(Jobs(redis), queues)
    assert await drain_queue({"redis": redis}, queues[0]) == 40  # the job of one queue drained all five
    assert await pending_queues() == [] and await redis.smembers(READY) == set()
    assert await queries.is_zero_sum()


async def five_product_queues(orders: int) -> list[str]:
    replay = Replay()
    for e in (qr_settings(mall_queue=False), *(member(f"M{i}") for i in range(10)), *(product(f"P{p}") for p in range(5))):
        await replay.apply(e)
    tickets = [await intake.record(paid(f"o{i}", f"M{i % 10}", (f"P{i % 5}", "100.00")), NOW) for i in range(orders)]
    return sorted({q for t in tickets for q in t.queues})


async def test_a_group_settles_several_queues_in_one_transaction_as_queue_by_queue_would():
    queues = await five_product_queues(40)
    first = await settle_group(queues, size=3)
    assert first == {q: Settled(3, True) for q in queues}
    rest = await settle_group(queues)
    assert rest == {q: Settled(5, False) for q in queues}
    assert await settle_group(queues) == {q: Settled(0, False) for q in queues}
    assert await pending_queues() == [] and await queries.is_zero_sum()
    for q in queues:  # each queue as alone: its 8 entitlements in order, paid what 7 extractions pay (as in test_poison)
        ents = await queries.entitlements(queue=q, limit=100)
        assert [e.position for e in ents] == list(range(1, 9))
        assert sum((e.received for e in ents), Decimal(0)) == Decimal(10 * 7)


async def test_a_failing_queue_of_a_group_is_settled_alone_and_the_others_settle(monkeypatch):
    queues = await five_product_queues(40)
    settle, bad = settlement.HANDLERS["qr"], queues[2]

    async def failing(batch: Any) -> None:
        if batch.queue_id == bad:
            raise RuntimeError("no such thing")
        await settle(batch)

    monkeypatch.setitem(settlement.HANDLERS, "qr", failing)
    done = await settle_group(queues)
    assert done == {q: Settled(0, False) if q == bad else Settled(8, False) for q in queues}
    assert await pending_queues() == [bad]
    head = await InboxItem.filter(queue_id=bad, status="PENDING").order_by("id").first()
    assert head is not None and head.error == "RuntimeError: no such thing"  # noted as settle_next notes it
    monkeypatch.setitem(settlement.HANDLERS, "qr", settle)
    while (await settle_group(queues))[bad].count:
        pass
    assert await pending_queues() == [] and await queries.is_zero_sum()
    assert await InboxItem.filter(status="DONE").count() == 40


async def test_a_drain_leaves_a_queue_held_by_another_marked_for_later(redis):
    await setup_queue()
    await report(3)
    await redis.sadd(READY, "qr:MALL")
    lock = redis.lock("rebate:lock:qr:MALL", timeout=10)
    assert await lock.acquire(blocking=False)
    try:
        await redis.sadd(READY, "qr:MALL")
        assert await drain_queue({"redis": redis}, "qr:OTHER") == 0
        assert await redis.smembers(READY) == {b"qr:MALL"}  # its holder, the next job or the sweeper takes it
    finally:
        await lock.release()
    assert await drain_queue({"redis": redis}, "qr:MALL") == 3
    await assert_settled_exactly(3)


async def test_changed_settings_are_parsed_again_and_unchanged_ones_are_not():
    await catalog.set_settings("queue_rebate", {"enabled": True, "extraction_ratio": "10", "reward_ratio": "100"})
    first = await load_settings("queue_rebate")
    assert await load_settings("queue_rebate") is first
    await catalog.set_settings("queue_rebate", {"extraction_ratio": "20"})
    changed = await load_settings("queue_rebate")
    assert changed.extraction_ratio == Decimal("20") and first.extraction_ratio == Decimal("10")


async def test_a_query_scope_reads_on_one_connection_given_back_at_its_end(database):
    await Replay().apply(member("M1"))
    async with queries.read_scope():
        pinned = reads.reads()
        found = await asyncio.gather(*(queries.members(["M1"]) for _ in range(5)), queries.wallets(["M1"]), queries.members_with_wallets(["M1"]))
        assert reads.reads() is pinned
        with pytest.raises(OperationalError):  # the driver's error as tortoise's, as outside a scope
            await fetch(pinned, "SELECT id FROM no_such_table")
        assert (await queries.members(["M1"]))["M1"].id == "M1"  # the connection still serves
    assert all("M1" in f for f in found[:5]) and found[5]["M1"]["cash"] == Decimal("0.00")
    assert found[6][0]["M1"].id == "M1" and found[6][1]["M1"]["cash"] == Decimal("0.00")
    if database.startswith("postgres"):
        assert pinned is not reads.reads() and pinned._connection is None  # released
    else:
        assert pinned is reads.reads()  # one connection already (SQLite)


async def test_a_member_read_with_its_wallets_in_one_statement_gives_what_the_two_reads_give():
    for e in (member("M1", level="gold"), member("M2", referrer="M1")):
        await Replay().apply(e)
    await execute_many(connections.get("default"), "INSERT INTO balance (account, asset, amount_fen) VALUES (?, ?, ?)",
                       [("member:M1:CASH", "CNY", 1234), ("member:M2:POINTS", "POINTS", 50)])
    ids = ["M1", "M2", "M9"]
    profiles, wallets = await queries.members_with_wallets(ids)
    assert profiles == await queries.members(ids) and set(profiles) == {"M1", "M2"}
    assert wallets == await queries.wallets(ids)
    assert (wallets["M1"]["cash"], wallets["M2"]["points"], wallets["M9"]["cash"]) == (Decimal("12.34"), Decimal("0.50"), Decimal("0.00"))


async def test_a_sweep_sets_back_to_zero_the_gauges_another_worker_reported(redis: Redis):
    """In multiprocess mode a gauge shows the most recent write of any process: a queue that
    worker B reported pending must be set back to 0 by worker A's sweep once it is drained, even
    if A never saw it pending (REPORTED_KEY)."""
    from services import metrics

    await setup_queue()
    await report(1)
    metrics._seen.clear()
    assert await metrics.observe_inbox(redis=redis) == ["qr:MALL"]  # "worker B" sees it pending
    assert {m.decode() for m in await redis.smembers(metrics.REPORTED_KEY)} == {"qr:MALL"}
    assert metrics.PENDING.labels("qr:MALL")._value.get() == 1
    assert await settle_next("qr:MALL") == Settled(1, False)
    metrics.PENDING.labels("qr:MALL").set(7)  # stands for B's stale value
    metrics._seen.clear()  # "worker A": never reported the queue itself
    assert await metrics.observe_inbox(redis=redis) == []
    assert metrics.PENDING.labels("qr:MALL")._value.get() == 0
    assert await redis.smembers(metrics.REPORTED_KEY) == set()


class Arq(Jobs):
    """`Jobs` that is also the Redis client a worker's jobs get (`ctx["redis"]`): the enqueued jobs
    are recorded, every other call goes to the test Redis."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)


async def test_a_drain_job_that_starts_while_another_runs_in_its_process_hands_its_queue_over(redis):
    queues = await five_product_queues(40)
    arq = Arq(redis)
    await enqueue_drains(arq, queues)
    first, *others = await asyncio.gather(*(drain_queue({"redis": arq}, q) for q in queues))
    assert (first, others) == (40, [0, 0, 0, 0])  # one drain settled all five; the other jobs ended at once
    assert await pending_queues() == [] and await redis.smembers(READY) == set()
    assert await queries.is_zero_sum()


async def test_a_report_marks_a_held_queue_without_a_job_and_its_drain_takes_the_mark_as_it_lets_go(redis):
    locks, arq = QueueLocks(redis, 10), Arq(redis)
    assert await locks.take(["qr:A"]) == ["qr:A"]
    await enqueue_drains(arq, ["qr:A", "qr:B"])
    assert arq.jobs == [("drain_queue", "qr:B", "drain:qr:B")]  # A's drain sees the mark: no job for it
    assert await locks.finish(READY, ["qr:A"]) == (["qr:A"], 0)  # marked again: held on, its mark taken
    assert await redis.smembers(READY) == {b"qr:B"} and locks.held == {"qr:A"}
    assert await locks.finish(READY, ["qr:A"]) == ([], 0)  # nothing new: let go
    assert locks.held == set() and not await redis.exists(lock_key("qr:A"))
    await enqueue_drains(arq, ["qr:A"])
    assert arq.jobs[1:] == [("drain_queue", "qr:A", "drain:qr:A")]


async def test_the_sweeper_leaves_a_queue_whose_lock_a_drain_holds_to_that_drain(redis):
    queues = await five_product_queues(10)
    locks, arq = QueueLocks(redis, 10), Arq(redis)
    await locks.take(queues[:2])
    assert await sweep({"redis": arq}) == 5
    assert sorted(q for _, q, _ in arq.jobs) == queues[2:]


async def _drain_with_a_report_during_its_first_round(redis: Redis, monkeypatch: pytest.MonkeyPatch, linger: float) -> tuple[int, list[float]]:
    """One hot queue drained by one job while a report comes in during its first round (so the
    queue goes on); returns what the job settled and the times its rounds started and ended."""
    await setup_queue()
    tickets = await report(3)
    (queue,) = {q for t in tickets for q in t.queues}
    arq, times = Arq(redis), []
    real = workers_main.settle_group

    async def settle_group_and_report(queue_ids: list[str], *args: Any, **kwargs: Any) -> dict[str, Settled]:
        times.append(asyncio.get_running_loop().time())
        done = await real(queue_ids, *args, **kwargs)
        times.append(asyncio.get_running_loop().time())
        if len(times) == 2:  # a report while the round runs: it marks the queue, which goes on
            await enqueue_drains(arq, (await report(1, start=3))[0].queues)
        return done

    monkeypatch.setattr(workers_main, "settle_group", settle_group_and_report)
    await enqueue_drains(arq, [queue])
    settled = await drain_queue({"redis": arq, "linger": linger}, queue)
    assert await pending_queues() == [] and await queries.is_zero_sum()
    return settled, times


async def test_a_drain_pauses_after_a_small_round_of_a_queue_that_goes_on(redis, monkeypatch):
    settled, times = await _drain_with_a_report_during_its_first_round(redis, monkeypatch, linger=1.0)
    assert settled == 4 and len(times) == 4  # 3 in the first round, the late report in the second
    assert times[2] - times[1] >= 1.0
    await assert_settled_exactly(4)


@pytest.mark.parametrize("why", ["no linger", "a full round"])
async def test_a_drain_does_not_pause_without_a_linger_or_after_a_full_round(redis, monkeypatch, why):
    if why == "a full round":
        monkeypatch.setattr(workers_main, "LINGER_FILL", 3)  # the first round's 3 items fill it
    settled, times = await _drain_with_a_report_during_its_first_round(redis, monkeypatch, linger=0.0 if why == "no linger" else 1.0)
    assert settled == 4 and len(times) == 4
    assert times[2] - times[1] < 1.0


def test_the_linger_is_read_in_milliseconds_and_a_bad_value_refused():
    assert workers_main.settle_linger({}) == workers_main.LINGER_MS / 1000 == 0.02
    assert workers_main.settle_linger({"REBATE_SETTLE_LINGER_MS": "0"}) == 0.0
    assert workers_main.settle_linger({"REBATE_SETTLE_LINGER_MS": "1000"}) == 1.0
    for bad in ("1001", "-1", "0.5", "soon"):
        with pytest.raises(ValueError, match="REBATE_SETTLE_LINGER_MS must be milliseconds from 0 to 1000"):
            workers_main.settle_linger({"REBATE_SETTLE_LINGER_MS": bad})
