"""Random event sequences keep the queue rebate's invariants (hypothesis state machine):
postings sum to zero per asset, received ≤ total, the head never moves back, and an
entitlement is only paid while WAITING."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.ledger import Posting
from domain.queue_rebate import (
    Line,
    NeedMore,
    QueueState,
    RewardRule,
    Rules,
    SettleOn,
    Status,
    Surplus,
    cancel,
    extract,
    mark_order_completed,
    settle_paid_line,
)

amounts = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)
ratios = st.decimals(min_value=D("0"), max_value=D("100"), places=2)


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = QueueState("qr:T", pool=D("0.00"), head=1, tail=0)
        self.balances: dict[tuple[str, str], D] = defaultdict(D)
        self.keys: set[str] = set()
        self.lines: dict[str, Line] = {}
        self.extracted: set[str] = set()
        self.last_head = 1
        self.n = 0

    @rule(paid=amounts, extraction=ratios, reward=st.decimals(min_value=D("0"), max_value=D("300"), places=2),
          carry=st.booleans(), on_pay=st.booleans(), completed_first=st.booleans())
    def pay(self, paid: D, extraction: D, reward: D, carry: bool, on_pay: bool, completed_first: bool) -> None:
        self.n += 1
        key = f"o{self.n}:0"
        line = Line(key, f"M{self.n % 5}", f"o{self.n}", 0, paid, (paid * extraction / 100).quantize(D("0.01")), True, reward, "t")
        self.rules = Rules(Surplus.CARRY if carry else Surplus.PLATFORM, SettleOn.ON_PAY if on_pay else SettleOn.ON_COMPLETE,
                           RewardRule.COMPLETED_FIRST if completed_first else RewardRule.QUEUE_ORDER)
        result = settle_paid_line(self.state, line, self.rules)
        assert not isinstance(result, NeedMore), "the whole queue is in memory here"
        _, postings = result
        self.lines[key] = line
        if on_pay:
            self.extracted.add(key)
        self.book(postings)

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        if not self.lines:
            return
        key = data.draw(st.sampled_from(sorted(self.lines)))
        e = self.state.touched.get(key)
        if e is not None and e.status is Status.WAITING:
            mark_order_completed(self.state, e)
        if key not in self.extracted:
            self.extracted.add(key)
            self.book(extract(self.state, self.lines[key], getattr(self, "rules", Rules())))  # type: ignore[arg-type]

    @rule(data=st.data(), clawback=st.booleans())
    def refund(self, data: st.DataObject, clawback: bool) -> None:
        waiting = sorted(k for k, e in self.state.touched.items() if e.status is Status.WAITING)
        if not waiting:
            return
        e = self.state.touched[data.draw(st.sampled_from(waiting))]
        self.extracted.add(e.key)  # a refunded line's extraction never runs
        cash = self.balances[(f"member:{e.member}:CASH", "CNY")]
        self.book(cancel(self.state, e, Rules(clawback_on_refund=clawback), cash))

    def book(self, postings: list[Posting]) -> None:
        for p in postings:
            assert p.key not in self.keys, f"posting {p.key} written twice"
            self.keys.add(p.key)
            self.balances[(p.source, p.asset.value)] -= p.amount
            self.balances[(p.target, p.asset.value)] += p.amount

    @invariant()
    def zero_sum_per_asset(self) -> None:
        totals: dict[str, D] = defaultdict(D)
        for (_, asset), amount in self.balances.items():
            totals[asset] += amount
        assert all(t == 0 for t in totals.values())

    @invariant()
    def received_never_exceeds_total(self) -> None:
        for e in self.state.touched.values():
            assert D(0) <= e.received <= e.total
            if e.status is Status.COMPLETED:
                assert e.received == e.total
            if e.status is Status.WAITING:
                assert e.received < e.total

    @invariant()
    def head_is_monotonic_and_first_waiting(self) -> None:
        assert self.state.head >= self.last_head
        self.last_head = self.state.head
        waiting = [e.position for e in self.state.touched.values() if e.status is Status.WAITING]
        assert self.state.head == (min(waiting) if waiting else self.state.tail + 1)

    @invariant()
    def outstanding_liability_is_what_waiting_entitlements_still_miss(self) -> None:
        outstanding = sum((e.remaining for e in self.state.touched.values() if e.status is Status.WAITING), D(0))
        assert self.balances[("liability:qr:T", "ENTITLEMENT")] == outstanding


QueueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestQueueInvariants = QueueMachine.TestCase
