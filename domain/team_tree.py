"""太阳线 team tree of unlimited depth (SPEC M-1, PD-4, PD-8, PD-10, DR-2): the math of ADR 0006.

Each member keeps `depth` and one skew-binary *jump* pointer (Myers' jump pointers), set once
when it joins in O(1) from its referrer's: "the nearest ancestor whose team performance ≥ X"
(team performance never falls going up a chain) is then found in O(log depth) node reads.
Team totals are folded lazily: each order, refund or new member is one delta row; a batched
fold pushes a chunk of deltas up the union of their ancestor paths (`fold_up`, deepest first,
state per open parent), so a chunk writes each touched ancestor once, not once per order;
`walk_in_sequence` gives a chunk's orders the levels exactly as they stood before each (DR-2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import DomainError, ErrorCode
from domain.level_difference import Award, FirstAtOrAbove, Rung
from domain.money import ZERO


@dataclass(frozen=True, slots=True)
class TeamNode:
    """A member's place in the forest: referrer, depth (roots 0) and jump pointer (a root jumps to itself)."""

    member: str
    parent: str | None
    depth: int
    jump: str


NodeOf = Callable[[str], TeamNode]


def join(member: str, parent: TeamNode | None, node_of: NodeOf) -> TeamNode:
    """The node of a member joining under `parent` (None: a root); reads at most two ancestors."""
    if parent is None:
        return TeamNode(member, None, 0, member)
    jump = node_of(parent.jump)
    jump_jump = node_of(jump.jump)
    skip = parent.depth - jump.depth == jump.depth - jump_jump.depth
    return TeamNode(member, parent.member, parent.depth + 1, jump_jump.member if skip else parent.member)


def first_at_or_above(start: TeamNode | None, reached: Callable[[TeamNode], bool], node_of: NodeOf) -> TeamNode | None:
    """The nearest of `start` and its ancestors for which `reached` holds, or None.

    `reached` must be monotone up a chain (once true, true for every ancestor): e.g. team
    performance ≥ X, or team level ≥ k. O(log depth) calls of `node_of`.
    """
    node = start
    while node is not None and not reached(node):
        if node.parent is None:
            return None
        jump = node_of(node.jump)
        node = jump if jump.depth < node.depth - 1 and not reached(jump) else node_of(node.parent)
    return node


def level_lookup(source: TeamNode, level_of: Callable[[TeamNode], int], node_of: NodeOf) -> FirstAtOrAbove:
    """The `level_difference.walk` lookup for one source member's chain, by jump-pointer search."""
    found: dict[int, TeamNode] = {0: source}

    def first(level: int, after: int) -> Rung | None:
        beyond = found[after]
        start = node_of(beyond.parent) if beyond.parent is not None else None
        node = first_at_or_above(start, lambda n: level_of(n) >= level, node_of)
        if node is None:
            return None
        distance = source.depth - node.depth
        found[distance] = node
        return Rung(node.member, distance, level_of(node))

    return first


@dataclass(frozen=True, slots=True)
class TeamDelta:
    """A member on the fold's path, deepest first: its own change (new member: size 1; order: its amount,
    `points` the part of it paid with points, PD-8)."""

    member: str
    parent: str | None
    depth: int
    size: int = 0
    performance: Decimal = ZERO
    points: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TeamChange:
    """What to add to one member's team totals (its descendants', itself excluded: PD-4, PD-8)."""

    member: str
    size: int
    performance: Decimal
    points: Decimal = ZERO


def fold_up(path: Iterable[TeamDelta]) -> Iterator[TeamChange]:
    """Team-total changes of every member on the path; each member's ancestors must follow it.

    Fed deepest first (the union of the ancestor paths of a chunk of deltas), it keeps sums only
    for referrers not yet fed and yields a member's change as soon as it is fed.
    """
    open_: dict[str, tuple[int, int, Decimal, Decimal]] = {}
    last_depth: int | None = None
    for d in path:
        if last_depth is not None and d.depth > last_depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"members must be fed deepest first: depth {d.depth} after {last_depth}", "depth")
        last_depth = d.depth
        depth, size, performance, points = open_.pop(d.member, (d.depth, 0, ZERO, ZERO))
        if depth != d.depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"member {d.member} fed at depth {d.depth}, its referrals say {depth}", "depth")
        if size or performance or points:
            yield TeamChange(d.member, size, performance, points)
        if d.parent is not None:
            _, up_size, up_performance, up_points = open_.get(d.parent, (d.depth - 1, 0, ZERO, ZERO))
            open_[d.parent] = (d.depth - 1, up_size + size + d.size, up_performance + performance + d.performance, up_points + points + d.points)
    if open_:
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrers never fed: {', '.join(sorted(open_)[:5])}", "parent")


@dataclass(frozen=True, slots=True)
class OrderDelta:
    """A completed order (amount > 0) or a refund (amount < 0) of `member`, in the fold's sequence."""

    member: str
    amount: Decimal


Walk = Callable[[FirstAtOrAbove], list[Award]]


def walk_in_sequence(
    orders: Sequence[OrderDelta], nodes: Mapping[str, TeamNode], performance: Mapping[str, Decimal], level_of: Callable[[Decimal], int], walk: Walk
) -> tuple[list[list[Award]], dict[str, Decimal]]:
    """DR-2/DR-3 for a chunk of orders, each with the levels as they stood just before it, exactly.

    `nodes` holds the chunk's members and all their ancestors, `performance` their team
    performance before the chunk. A run of same-sign orders that moves no ancestor across a
    threshold is walked with the levels at its start; one that does is halved until the crossing
    order stands alone. Returns each order's awards (none for refunds) and the performance after.
    """
    current = dict(performance)
    awards: list[list[Award]] = [[] for _ in orders]

    def level(node: TeamNode) -> int:
        return level_of(current.get(node.member, ZERO))

    def settle(lo: int, hi: int) -> None:
        changes = {c.member: c.performance for c in fold_up(_paths(orders[lo:hi], nodes))}
        signs = {o.amount > 0 for o in orders[lo:hi] if o.amount}
        crossed = any(level_of(current.get(m, ZERO)) != level_of(current.get(m, ZERO) + d) for m, d in changes.items())
        if hi - lo > 1 and (len(signs) > 1 or crossed):
            mid = (lo + hi) // 2
            settle(lo, mid)
            settle(mid, hi)
            return
        for i in range(lo, hi):
            if orders[i].amount > 0:
                awards[i] = walk(level_lookup(nodes[orders[i].member], level, nodes.__getitem__))
        for m, d in changes.items():
            current[m] = current.get(m, ZERO) + d

    if orders:
        settle(0, len(orders))
    return awards, current


def _paths(orders: Sequence[OrderDelta], nodes: Mapping[str, TeamNode]) -> list[TeamDelta]:
    """The union of the orders' members and their ancestors, deepest first, with each member's own sum."""
    own: dict[str, Decimal] = {}
    for o in orders:
        own[o.member] = own.get(o.member, ZERO) + o.amount
    seen: set[str] = set()
    for member in own:
        node: TeamNode | None = nodes[member]
        while node is not None and node.member not in seen:
            seen.add(node.member)
            node = nodes[node.parent] if node.parent is not None else None
    return sorted((TeamDelta(m, nodes[m].parent, nodes[m].depth, 0, own.get(m, ZERO)) for m in seen), key=lambda d: -d.depth)
