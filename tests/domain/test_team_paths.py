"""Team performance on paths (ADR 0008): Fenwick suffix sums per path equal the naive team sums, and
the walk's lookup over them equals the linear scan, on random forests with joins, orders and refunds."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.level_difference import scan_lookup, walk
from domain.team_paths import (
    SIZE,
    Place,
    Segment,
    deepest_reaching,
    distance_of,
    joined,
    length,
    lookup,
    place_at,
    route_slots,
    segment_reaching,
    sum_indices,
    update_indices,
)

RATIOS = [D(10), D(20), D(26), D(50)]
THRESHOLDS = [5, 12, 30, 60]


@dataclass
class Forest:
    """The store's logic in memory: places, heirs, Fenwick rows per path; and the naive truth."""

    parent: dict[str, str | None] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    heirs: dict[str, str] = field(default_factory=dict)
    rows: dict[tuple[str, int], int] = field(default_factory=dict)
    own: dict[str, int] = field(default_factory=dict)

    def join(self, member: str, referrer: str | None) -> None:
        heir = referrer is not None and referrer not in self.heirs
        if heir:
            assert referrer is not None
            self.heirs[referrer] = member
        self.parent[member] = referrer
        self.places[member] = joined(member, self.places[referrer] if referrer else None, heir)
        self.own[member] = 0

    def move(self, member: str, referrer: str | None) -> None:
        """A leaf moves: its own spend leaves the old route and joins the new one."""
        assert member not in self.heirs and all(p != member for p in self.parent.values())
        spent = self.own[member]
        self.add(member, -spent)
        old = self.parent[member]
        if old is not None and self.heirs.get(old) == member:
            del self.heirs[old]
        self.join(member, referrer)
        self.own[member] = spent
        self.add(member, spent)

    def route(self, member: str) -> list[Segment]:
        place = self.places[member]
        out = [Segment(place.path, place.position - 1)]
        while (up := self.parent[place.path]) is not None:
            place = self.places[up]
            out.append(Segment(place.path, place.position))
        return out

    def add(self, member: str, fen: int) -> None:
        for path, slot in route_slots(self.route(member)):
            for i in update_indices(slot):
                self.rows[(path, i)] = self.rows.get((path, i), 0) + fen

    def order(self, member: str, fen: int) -> None:
        self.add(member, fen)
        self.own[member] += fen

    def team(self, member: str) -> int:
        place = self.places[member]
        return sum(self.rows.get((place.path, i), 0) for i in sum_indices(place.position))

    def naive_team(self, member: str) -> int:
        return sum(self.own[m] for m in self.parent if m != member and member in self.ancestors(m))

    def ancestors(self, member: str) -> list[str]:
        out, up = [], self.parent[member]
        while up is not None:
            out.append(up)
            up = self.parent[up]
        return out

    def reached(self, member: str) -> list[int | None]:
        route = self.route(member)
        totals = {s.path: self.rows.get((s.path, SIZE), 0) for s in route}
        out: list[int | None] = []
        for x in THRESHOLDS:
            i = segment_reaching(route, totals, x)
            out.append(None if i is None else distance_of(route, i, deepest_reaching(lambda idx, p=route[i].path: self.rows.get((p, idx), 0), x)))
        return out


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Steps: ("join", referrer index or -1), ("order", member, fen), ("refund", order index), ("move", member, referrer)."""
    steps: list[tuple[str, int, int]] = [("join", -1, 0)]
    members, orders = 1, 0
    for _ in range(draw(st.integers(1, 80))):
        kind = draw(st.sampled_from(["join", "join", "order", "order", "refund", "move"]))
        if kind == "join":
            steps.append(("join", draw(st.integers(-1, members - 1)), 0))
            members += 1
        elif kind == "order":
            steps.append(("order", draw(st.integers(0, members - 1)), draw(st.integers(1, 20))))
            orders += 1
        elif kind == "refund" and orders:
            steps.append(("refund", draw(st.integers(0, orders - 1)), 0))
        elif kind == "move":
            steps.append(("move", draw(st.integers(0, members - 1)), draw(st.integers(-1, members - 1))))
    return steps


def play(steps: list[tuple[str, int, int]]) -> Forest:
    forest, orders, refunded = Forest(), [], set()
    for kind, a, b in steps:
        if kind == "join":
            forest.join(f"m{len(forest.parent)}", None if a < 0 else f"m{a}")
        elif kind == "order":
            forest.order(f"m{a}", b)
            orders.append((f"m{a}", b))
        elif kind == "refund" and a not in refunded:
            refunded.add(a)
            forest.order(orders[a][0], -orders[a][1])
        elif kind == "move":
            member, referrer = f"m{a}", None if b < 0 else f"m{b}"
            leaf = all(p != member for p in forest.parent.values())
            if leaf and referrer != member and referrer != forest.parent[member]:
                forest.move(member, referrer)
    return forest


@given(histories())
@settings(max_examples=300, deadline=None)
def test_pd4_dr2_path_sums_equal_the_naive_team_performance(steps: list[tuple[str, int, int]]) -> None:
    forest = play(steps)
    for m in forest.parent:
        assert forest.team(m) == forest.naive_team(m), m
        assert length(forest.route(m)) == len(forest.ancestors(m))


@given(histories())
@settings(max_examples=300, deadline=None)
def test_dr2_dr3_the_path_lookup_walks_as_the_linear_scan(steps: list[tuple[str, int, int]]) -> None:
    forest = play(steps)

    def level(m: str) -> int:
        return sum(1 for x in THRESHOLDS if forest.naive_team(m) >= x)

    for m in forest.parent:
        route = forest.route(m)
        names = {d: next(k for k, p in forest.places.items() if (p.path, p.position) == place_at(route, d)) for d in range(1, length(route) + 1)}
        assert [names[d] for d in sorted(names)] == forest.ancestors(m)
        fast = walk(RATIOS, D(3), lookup(route, forest.reached(m), names.__getitem__))
        slow = walk(RATIOS, D(3), scan_lookup([(a, level(a)) for a in forest.ancestors(m)]))
        assert fast == slow


def test_dr2_a_10000_deep_chain_is_one_path_and_an_order_touches_o_log_rows() -> None:
    forest = Forest()
    forest.join("m0", None)
    for i in range(1, 10_000):
        forest.join(f"m{i}", f"m{i - 1}")
    assert {p.path for p in forest.places.values()} == {"m0"}
    assert forest.route("m9999") == [Segment("m0", 9999)]
    assert len(update_indices(9999)) <= 31 - 13 + 1 and len(sum_indices(5000)) <= 31
    forest.order("m9999", 700)
    forest.order("m5000", 300)
    assert [forest.team(m) for m in ("m0", "m4999", "m5000", "m9998", "m9999")] == [1000, 1000, 700, 700, 0]
    assert len(forest.rows) == len(set(update_indices(9999)) | set(update_indices(5000))) <= 2 * 19
    # the first ancestor of m9999 whose team reaches 1000 is m4999, at distance 5000
    assert deepest_reaching(lambda i: forest.rows.get(("m0", i), 0), 1000) == 5000  # position 5000 = m4999
    assert deepest_reaching(lambda i: forest.rows.get(("m0", i), 0), 1001) == 0


def test_a_referrer_with_an_heir_starts_a_path_for_its_next_referral() -> None:
    forest = Forest()
    for member, referrer in (("A", None), ("B", "A"), ("C", "A"), ("D", "C"), ("E", "B")):
        forest.join(member, referrer)
    assert {m: (p.path, p.position) for m, p in forest.places.items()} == {"A": ("A", 1), "B": ("A", 2), "C": ("C", 1), "D": ("C", 2), "E": ("A", 3)}
    assert forest.route("D") == [Segment("C", 1), Segment("A", 1)]
    assert route_slots(forest.route("C")) == [("A", 1)]  # a head's own spend: only on the path above
