"""Queue rebate settlement, pure (QR-1..QR-4, QR-7, QR-8)."""

from decimal import Decimal as D

from domain.ledger import Asset
from domain.queue_rebate import Line, NeedMore, QueueState, RewardRule, Rules, Status, Surplus, cancel, settle_paid_line


def line(key: str, member: str, paid: str, extraction_ratio: str, reward_ratio: str) -> Line:
    p = D(paid)
    return Line(key, member, key.split(":")[0], 0, p, (p * D(extraction_ratio) / 100).quantize(D("0.01")), True, D(reward_ratio), "test")


def fresh_queue() -> QueueState:
    return QueueState("qr:MALL", pool=D("0.00"), head=1, tail=0)


def cash(postings, member):
    return sum((p.amount for p in postings if p.asset is Asset.CNY and p.target == f"member:{member}:CASH"), D(0))


def test_qr1_a_receives_10_from_each_of_b_c_d():
    q, rules, out = fresh_queue(), Rules(), []
    for key, member in [("oA:0", "A"), ("oB:0", "B"), ("oC:0", "C"), ("oD:0", "D")]:
        _, postings = settle_paid_line(q, line(key, member, "100", "10", "100"), rules)
        out += postings
    assert cash(out, "A") == D("30.00")
    a = q.touched["oA:0"]
    assert (a.received, a.status, q.head) == (D("30.00"), Status.WAITING, 1)


def test_qr1_a_completes_then_b_is_at_the_head():
    q, rules, out = fresh_queue(), Rules(), []
    for i in range(11):
        _, postings = settle_paid_line(q, line(f"o{i}:0", f"M{i}", "100", "10", "100"), rules)
        out += postings
    assert q.touched["o0:0"].status is Status.COMPLETED
    assert cash(out, "M0") == D("100.00")
    assert q.head == 2 and q.touched["o1:0"].received == D("0.00")
    _, postings = settle_paid_line(q, line("o11:0", "M11", "100", "10", "100"), rules)
    assert cash(postings, "M1") == D("10.00")


def test_qr2_168_at_130_percent_pays_109_20_twice():
    q, rules = fresh_queue(), Rules()
    first, _ = settle_paid_line(q, line("o1:0", "A", "168", "65", "130"), rules)
    assert first.total == D("218.40")
    _, p2 = settle_paid_line(q, line("o2:0", "B", "168", "65", "130"), rules)
    _, p3 = settle_paid_line(q, line("o3:0", "C", "168", "65", "130"), rules)
    assert cash(p2, "A") == D("109.20") and cash(p3, "A") == D("109.20")
    assert first.status is Status.COMPLETED
    assert cash(p3, "B") == D("0.00")  # C's 109.20 all went to A, who is ahead of B


def test_qr3_carry_keeps_surplus_in_pool():
    q, rules = fresh_queue(), Rules(surplus=Surplus.CARRY)
    settle_paid_line(q, line("o1:0", "A", "100", "10", "100"), rules)
    assert q.pool == D("10.00")  # nobody ahead of the first line
    settle_paid_line(q, line("o2:0", "B", "100", "10", "100"), rules)
    assert q.touched["o1:0"].received == D("20.00") and q.pool == D("0.00")


def test_qr7_completed_first_skips_uncompleted_but_keeps_position():
    q, rules = fresh_queue(), Rules(reward_rule=RewardRule.COMPLETED_FIRST)
    a, _ = settle_paid_line(q, line("oA:0", "A", "100", "10", "100"), rules)
    b, _ = settle_paid_line(q, line("oB:0", "B", "100", "10", "100"), rules)
    b.order_completed = True
    settle_paid_line(q, line("oC:0", "C", "100", "10", "100"), rules)
    assert (a.received, b.received, q.head) == (D("0.00"), D("10.00"), 1)


def test_need_more_when_window_ends_before_the_tail():
    q = QueueState("qr:MALL", pool=D("0.00"), head=1, tail=5, loaded_upto=0, db_tail=5)
    result = settle_paid_line(q, line("o9:0", "Z", "100", "10", "100"), Rules())
    assert isinstance(result, NeedMore) and q.tail == 5 and not q.touched


def test_qr8_cancel_forfeits_remainder_and_claws_back_up_to_cash():
    q, rules = fresh_queue(), Rules(clawback_on_refund=True)
    a, _ = settle_paid_line(q, line("oA:0", "A", "100", "10", "100"), rules)
    settle_paid_line(q, line("oB:0", "B", "100", "10", "100"), rules)
    postings = cancel(q, a, rules, member_cash=D("4.00"))
    by_key = {p.key.rsplit(":", 1)[-1]: p.amount for p in postings}
    assert by_key == {"cancel": D("90.00"), "clawback": D("4.00"), "receivable": D("6.00")}
    assert a.status is Status.CANCELLED and q.head == 2


def test_qr8_a_refunded_completed_entitlement_is_cancelled_and_keeps_its_payouts():
    """A 100 at 100 % / 10 %: ten later lines pay A 100.00 → COMPLETED; A's line is refunded:
    CANCELLED, nothing forfeited (its remainder is 0.00), the 100.00 stays without clawback."""
    q, rules, out = fresh_queue(), Rules(), []
    a, _ = settle_paid_line(q, line("oA:0", "A", "100", "10", "100"), rules)
    for i in range(10):
        out += settle_paid_line(q, line(f"o{i}:0", f"M{i}", "100", "10", "100"), rules)[1]
    assert a.status is Status.COMPLETED and cash(out, "A") == D("100.00")
    assert cancel(q, a, rules, member_cash=D("100.00")) == []
    assert (a.status, a.received, q.touched["oA:0"].status) == (Status.CANCELLED, D("100.00"), Status.CANCELLED)
    assert cancel(q, a, rules, member_cash=D("100.00")) == []  # a second refund changes nothing


def test_qr8_a_refunded_completed_entitlement_with_clawback_gives_back_its_100():
    q, out = fresh_queue(), []
    rules = Rules(clawback_on_refund=True)
    a, _ = settle_paid_line(q, line("oA:0", "A", "100", "10", "100"), rules)
    for i in range(10):
        out += settle_paid_line(q, line(f"o{i}:0", f"M{i}", "100", "10", "100"), rules)[1]
    postings = cancel(q, a, rules, member_cash=D("70.00"))
    by_key = {p.key.rsplit(":", 1)[-1]: p.amount for p in postings}
    assert by_key == {"clawback": D("70.00"), "receivable": D("30.00")} and a.status is Status.CANCELLED
