"""Team tree math of ADR 0006: jump-pointer search for the first ancestor at or above a tier, lazy folding of team totals."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.level_difference import Award, FirstAtOrAbove, scan_lookup, walk
from domain.team_tree import OrderDelta, TeamDelta, TeamNode, first_at_or_above, fold_up, join, level_lookup, walk_in_sequence

RATIOS = tuple(D(r) for r in (10, 20, 26, 32, 38, 44, 50))


def build(parents: list[int | None]) -> dict[str, TeamNode]:
    nodes: dict[str, TeamNode] = {}
    for i, p in enumerate(parents):
        nodes[f"m{i}"] = join(f"m{i}", None if p is None else nodes[f"m{p}"], nodes.__getitem__)
    return nodes


def chain_of(nodes: dict[str, TeamNode], member: str) -> list[str]:
    out, parent = [], nodes[member].parent
    while parent is not None:
        out.append(parent)
        parent = nodes[parent].parent
    return out


forest = st.integers(1, 60).flatmap(lambda n: st.tuples(*[st.none() if i == 0 else st.none() | st.integers(0, i - 1) for i in range(n)]).map(list))


def team_performance(parents: list[int | None], spend: list[int]) -> list[int]:
    team = [0] * len(parents)
    for i in reversed(range(len(parents))):
        p = parents[i]
        if p is not None:
            team[p] += team[i] + spend[i]
    return team


@st.composite
def scored_forests(draw: st.DrawFn) -> tuple[list[int | None], list[int], dict[str, TeamNode]]:
    """A random forest with each member's team performance (its descendants' spend)."""
    parents = draw(forest)
    spend = draw(st.lists(st.integers(0, 9), min_size=len(parents), max_size=len(parents)))
    return parents, team_performance(parents, spend), build(parents)


@given(st.data())
@settings(max_examples=300)
def test_pd4_jump_search_finds_the_first_ancestor_whose_team_performance_reaches_x(data: st.DataObject) -> None:
    parents, team, nodes = data.draw(scored_forests())
    x = data.draw(st.integers(0, max(team) + 1))
    for i in range(len(parents)):
        naive = next((m for m in [f"m{i}", *chain_of(nodes, f"m{i}")] if team[int(m[1:])] >= x), None)
        found = first_at_or_above(nodes[f"m{i}"], lambda n: team[int(n.member[1:])] >= x, nodes.__getitem__)
        assert (found.member if found else None) == naive


def test_pd4_jump_search_on_a_10000_deep_chain_reads_o_log_depth_nodes() -> None:
    nodes = build([None, *range(9_999)])
    reads: list[str] = []

    def node_of(member: str) -> TeamNode:
        reads.append(member)
        return nodes[member]

    for target in (9_998, 5_000, 1, 0):
        reads.clear()
        found = first_at_or_above(nodes["m9999"], lambda n, t=target: int(n.member[1:]) <= t, node_of)
        assert found is not None and found.member == f"m{target}" and len(reads) <= 4 * 14, len(reads)


@given(st.data())
@settings(max_examples=200)
def test_pd4_walk_with_jump_lookup_equals_walk_over_the_explicit_chain(data: st.DataObject) -> None:
    _, team, nodes = data.draw(scored_forests())

    def level(node: TeamNode) -> int:
        return min(7, team[int(node.member[1:])] // 4)

    for member, node in nodes.items():
        chain = [(m, level(nodes[m])) for m in chain_of(nodes, member)]
        assert walk(RATIOS, D(3), level_lookup(node, level, nodes.__getitem__)) == walk(RATIOS, D(3), scan_lookup(chain))


@given(st.data())
@settings(max_examples=200)
def test_pd8_fold_up_adds_every_delta_to_each_ancestor_once(data: st.DataObject) -> None:
    parents = data.draw(forest)
    nodes = build(parents)
    own = {m: (data.draw(st.integers(0, 1)), D(data.draw(st.integers(-500, 5000))) / 100, D(data.draw(st.integers(0, 99))) / 100) for m in nodes}
    path = sorted((TeamDelta(m, n.parent, n.depth, *own[m]) for m, n in nodes.items()), key=lambda d: -d.depth)
    folded = {c.member: (c.size, c.performance, c.points) for c in fold_up(path)}
    expected: dict[str, tuple[int, D, D]] = {}
    for m in nodes:
        for a in chain_of(nodes, m):
            size, performance, points = expected.get(a, (0, D(0), D(0)))
            expected[a] = (size + own[m][0], performance + own[m][1], points + own[m][2])
    assert folded == {a: v for a, v in expected.items() if v != (0, 0, 0)}


THRESHOLDS = (D(5), D(12), D(20), D(40))


def level_of(performance: D) -> int:
    return sum(1 for t in THRESHOLDS if t <= performance)


def seed_walk(lookup: FirstAtOrAbove) -> list[Award]:
    return walk(RATIOS[:4], D(3), lookup)


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_dr2_orders_of_a_chunk_see_the_levels_as_they_stood_just_before_each(data: st.DataObject) -> None:
    _, team, nodes = data.draw(scored_forests())
    members = list(nodes)
    orders: list[OrderDelta] = []
    for _ in range(data.draw(st.integers(0, 25))):
        refundable = [o for o in orders if o.amount > 0 and OrderDelta(o.member, -o.amount) not in orders]
        if refundable and data.draw(st.booleans()):
            refunded = data.draw(st.sampled_from(refundable))
            orders.append(OrderDelta(refunded.member, -refunded.amount))
        else:
            orders.append(OrderDelta(data.draw(st.sampled_from(members)), D(data.draw(st.integers(1, 15)))))
    start = {m: D(team[int(m[1:])]) for m in members}
    got, after = walk_in_sequence(orders, nodes, start, level_of, seed_walk)
    current = dict(start)
    for i, o in enumerate(orders):
        chain = chain_of(nodes, o.member)
        expected = seed_walk(scan_lookup([(m, level_of(current[m])) for m in chain])) if o.amount > 0 else []
        assert got[i] == expected, i
        for m in chain:
            current[m] += o.amount
    assert after == current
