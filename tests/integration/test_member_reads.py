"""Coalesced member reads (services/member_reads.py) on SQLite, PostgreSQL and MariaDB: the reads
asked for in one turn of the loop share one statement, and each is answered as its own read
would be; nothing is kept between statements; a failed statement fails each of its reads."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from services import member_reads, queries
from services.member_reads import MemberReads
from services.replay import Replay
from store import reads
from store.sql import execute, execute_many
from tests.integration.scenario import member

pytestmark = pytest.mark.usefixtures("db")


async def members_with_cash() -> None:
    for e in (member("M1", level="gold"), member("M2", referrer="M1")):
        await Replay().apply(e)
    await execute_many(connections.get("default"), "INSERT INTO balance (account, asset, amount_fen) VALUES (?, ?, ?)",
                       [("member:M1:CASH", "CNY", 1234), ("member:M2:POINTS", "POINTS", 50)])


async def test_the_reads_of_one_turn_share_a_statement_and_each_gets_what_its_own_read_gives():
    await members_with_cash()
    coalesced = MemberReads()
    got = await asyncio.gather(*(coalesced.read(i) for i in ("M1", "M2", "M9", "M1")))
    assert coalesced.statements == 1
    profiles, wallets = await queries.members_with_wallets(["M1", "M2"])
    assert got[0] == (profiles["M1"], wallets["M1"]) and got[1] == (profiles["M2"], wallets["M2"]) and got[2] is None
    assert got[3] == got[0] and got[3][1] is not got[0][1]  # the same member twice: equal answers, each its own wallets
    assert (got[0][1]["cash"], got[1][1]["points"], got[1][0].referrer_id) == (Decimal("12.34"), Decimal("0.50"), "M1")


async def test_a_read_sees_what_was_committed_before_it_was_asked_for():
    await members_with_cash()
    coalesced = MemberReads()
    first = await coalesced.read("M1")
    await execute(connections.get("default"), "UPDATE balance SET amount_fen = ? WHERE account = ?", (99, "member:M1:CASH"))
    second = await coalesced.read("M1")
    assert (first and first[1]["cash"], second and second[1]["cash"], coalesced.statements) == (Decimal("12.34"), Decimal("0.99"), 2)


async def test_a_statement_reads_at_most_max_batch_members():
    await members_with_cash()
    coalesced = MemberReads(max_batch=2)
    got = await asyncio.gather(*(coalesced.read(i) for i in ("M1", "M2", "M3", "M4", "M5")))
    assert coalesced.statements == 3 and [g is not None for g in got] == [True, True, False, False, False]
    with pytest.raises(ValueError):
        MemberReads(max_batch=0)


async def test_a_failed_statement_fails_each_of_its_reads_and_the_next_turn_reads_again(monkeypatch: pytest.MonkeyPatch):
    await members_with_cash()
    coalesced = MemberReads()

    async def failing(ids: list[str]) -> Any:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(member_reads.queries, "members_with_wallets", failing)
        got = await asyncio.gather(coalesced.read("M1"), coalesced.read("M2"), return_exceptions=True)
    assert [str(g) for g in got] == ["the database went away"] * 2
    assert (await coalesced.read("M1")) is not None


async def test_a_read_given_up_leaves_the_others_answered():
    await members_with_cash()
    coalesced = MemberReads()
    given_up = asyncio.ensure_future(coalesced.read("M1"))
    kept = asyncio.ensure_future(coalesced.read("M2"))
    await asyncio.sleep(0)  # both asked; the statement is sent in the next turn
    given_up.cancel()
    got = await kept
    assert given_up.cancelled() and got is not None and got[0].id == "M2"
    await coalesced.close()
    assert coalesced.statements == 1


async def test_the_statement_runs_outside_the_asking_requests_read_scope(monkeypatch: pytest.MonkeyPatch):
    await members_with_cash()
    coalesced = MemberReads()
    seen: list[Any] = []
    read = queries.members_with_wallets

    async def watched(ids: list[str]) -> Any:
        seen.append(reads.reads())
        return await read(ids)

    monkeypatch.setattr(member_reads.queries, "members_with_wallets", watched)
    async with queries.read_scope():
        assert await coalesced.read("M1") is not None
    assert len(seen) == 1 and seen[0] is connections.get("default")  # the process's connection, not the one a scope pins (PostgreSQL)
