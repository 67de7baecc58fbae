"""Random mints, sales, subsidies, refunds and the exits they set off keep the appreciation model's invariants
(CA-2..CA-7, hypothesis state machine): the pool never goes below 0, circulating is the sum of the
holdings, the price never falls, no holder is left qualifying after an event, and the postings sum
to zero per asset with the pool and issuer accounts mirroring the state."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.appreciation import ISSUED, POOL, AppreciationPool, AppreciationSettings, Outcome, PoolState, clawback
from domain.appreciation_holders import MemoryHolderIndex
from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset

MEMBERS = [f"M{i}" for i in range(6)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
amounts = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2)
MALFORMED = ["0", "0.00", "-1.00", "x", "0.001", "NaN"]


def ratio(low: str, high: str) -> st.SearchStrategy[D]:
    return st.decimals(min_value=D(low), max_value=D(high), places=2)


class AppreciationMachine(RuleBasedStateMachine):
    @initialize(
        contribution_ratio=ratio("0.01", "100"),
        mint_ratio=ratio("0.01", "100"),
        retention_ratio=ratio("0", "99.99"),
        exit_multiple=ratio("1.01", "4"),
        initial_price=ratio("0.01", "10"),
    )
    def start(self, contribution_ratio: D, mint_ratio: D, retention_ratio: D, exit_multiple: D, initial_price: D) -> None:
        self.settings = AppreciationSettings(
            enabled=True,
            contribution_ratio=contribution_ratio,
            mint_ratio=mint_ratio,
            retention_ratio=retention_ratio,
            exit_multiple=exit_multiple,
            initial_price=initial_price,
        )
        self.index = MemoryHolderIndex()
        self.pool = AppreciationPool(self.settings, PoolState(), self.index)
        self.balances: dict[tuple[Asset, str], D] = defaultdict(D)
        self.keys: set[str] = set()
        self.n = 0
        self.price = self.pool.state.price(self.settings)
        self.orders: list[list[Any]] = []  # member, amount, minted points, participation

    def now(self) -> datetime:
        self.n += 1
        return T0 + timedelta(minutes=self.n // 2)  # pairs share a minute: member ids break the tie

    def book(self, out: Outcome) -> None:
        assert out.need is None
        for p in out.postings:
            assert p.key not in self.keys
            self.keys.add(p.key)
            self.balances[(p.asset, p.target)] += p.amount
            self.balances[(p.asset, p.source)] -= p.amount
        shown = [r.price for r in out.history]
        assert shown == sorted(shown), "the displayed price fell within an event"
        now = self.pool.state.price(self.settings)
        assert now >= self.price, "the price fell"
        self.price = now

    @rule(member=st.sampled_from(MEMBERS), amount=amounts)
    def order(self, member: str, amount: D) -> None:
        h = self.pool.holder(member)
        participation = h.participation + (0 if h.started_at is not None else 1)
        out = self.pool.complete_order(f"o{self.n}", member, amount, None, self.now())
        self.book(out)
        if out.postings:
            self.orders.append([member, amount, out.minted, participation])

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """A refund (whole or in part) claws back the order's points up to what is held, within its participation."""
        open_orders = [o for o in self.orders if o[1] > 0]
        if not open_orders:
            return
        o = data.draw(st.sampled_from(open_orders))
        member, amount, points, participation = o
        part = data.draw(st.sampled_from([amount, (amount / 2).quantize(D("0.01"))]))
        back = clawback(points, amount, part)
        before = self.pool.holder(member)
        self.book(self.pool.refund_order(f"r{self.n}", member, part, back, participation, self.now()))
        if before.started_at is None or before.participation != participation:
            assert self.pool.holder(member) == before, "a refund after the order's participation ended changes nothing"
        o[1], o[2] = amount - part, points - back

    @rule(data=st.data())
    def sell(self, data: st.DataObject) -> None:
        holders = sorted(h.member for h in self.index if h.points > 0)
        if not holders:
            return
        member = data.draw(st.sampled_from(holders))
        cents = data.draw(st.integers(min_value=1, max_value=int(self.pool.holder(member).points * 100)))
        self.book(self.pool.sell(f"s{self.n}", member, str(D(cents) / 100), self.now()))

    @rule(member=st.sampled_from(MEMBERS), text=st.sampled_from([*MALFORMED, "more"]))
    def refused_sale(self, member: str, text: str) -> None:
        expected = ErrorCode.INVALID_AMOUNT if text in MALFORMED else ErrorCode.INSUFFICIENT_POINTS
        if text == "more":
            text = str(self.pool.holder(member).points + D("0.01"))
        before = (self.pool.state.pool, self.pool.state.circulating, self.pool.holder(member))
        try:
            self.pool.sell(f"s{self.n}", member, text, self.now())
        except DomainError as e:
            assert e.code is expected
            assert (self.pool.state.pool, self.pool.state.circulating, self.pool.holder(member)) == before
        else:
            raise AssertionError(f"selling {text} was not refused")

    @rule(amount=st.one_of(amounts, st.decimals(min_value=D("5000"), max_value=D("100000"), places=2)))
    def subsidize(self, amount: D) -> None:
        self.book(self.pool.subsidize(f"f{self.n}", str(amount), self.now()))

    @invariant()
    def pool_and_circulation(self) -> None:
        if not hasattr(self, "pool"):
            return
        s = self.pool.state
        assert s.pool >= 0 and s.circulating >= 0
        assert s.circulating == sum((h.points for h in self.index), D(0))

    @invariant()
    def ledger_mirrors_the_state(self) -> None:
        if not hasattr(self, "pool"):
            return
        for asset in Asset:
            assert sum((v for (a, _), v in self.balances.items() if a is asset), D(0)) == 0
        assert self.balances[(Asset.CNY, POOL)] == self.pool.state.pool
        assert -self.balances[(Asset.APPRECIATION_POINTS, ISSUED)] == self.pool.state.circulating
        for h in self.index:
            assert self.balances[(Asset.APPRECIATION_POINTS, f"member:{h.member}:APPRECIATION_POINTS")] == h.points

    @invariant()
    def nobody_left_qualifying(self) -> None:
        if not hasattr(self, "pool") or self.pool.state.circulating == 0:
            return
        price = self.pool.state.price(self.settings)
        for h in self.index:
            exit_price = h.exit_price(self.settings.exit_multiple)
            assert exit_price is None or exit_price > price, f"{h.member} should have exited"


TestAppreciationMachine = AppreciationMachine.TestCase
TestAppreciationMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
