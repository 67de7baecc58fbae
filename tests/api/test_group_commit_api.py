"""reportOrderPaid from concurrent callers through the API's group commit (services/group_commit.py):
they share transactions, and each payload is the one its caller would get alone (C-6, C-8)."""

from __future__ import annotations

import asyncio

import pytest

from services import queries
from services.replay import settle_all
from tests.api.scenario import ENTITLEMENTS, ORDER_PAID, paid_order, seed_qr1


async def test_c6_c8_concurrent_callers_share_groups_and_each_gets_its_own_answer(app, gql):
    await seed_qr1(gql)
    inputs = [paid_order(f"o{i}", "ABCD"[i % 4]) for i in range(8)] + [paid_order("o0", "A"), paid_order("oX", "nobody")]
    before = app.state.intake.groups
    bodies = await asyncio.gather(*(gql(ORDER_PAID, {"input": i}) for i in inputs))
    payloads = [b["data"]["reportOrderPaid"] for b in bodies]
    assert app.state.intake.groups - before < len(inputs)  # some callers shared a transaction
    tickets = [p["ticket"] for p in payloads[:8]]
    assert all(p["errors"] == [] for p in payloads[:9]) and [t["duplicate"] for t in tickets] == [False] * 8
    assert payloads[8]["ticket"]["duplicate"] is True and payloads[8]["ticket"]["id"] == tickets[0]["id"]
    assert payloads[9]["ticket"] is None and [e["code"] for e in payloads[9]["errors"]] == ["UNKNOWN_MEMBER"]
    await settle_all()
    items = (await gql.data(ENTITLEMENTS, {"queue": "qr:MALL", "first": 20}))["entitlements"]["items"]
    assert sorted(e["order"] for e in items) == [f"o{i}" for i in range(8)] and sorted(e["position"] for e in items) == list(range(1, 9))
    assert await queries.is_zero_sum()


async def test_the_group_commit_can_be_switched_off(env, monkeypatch: pytest.MonkeyPatch):
    from api.app import create_app

    monkeypatch.setenv("REBATE_GROUP_COMMIT", "off")
    app = create_app(migrate=True)
    async with app.router.lifespan_context(app):
        assert app.state.intake is None
