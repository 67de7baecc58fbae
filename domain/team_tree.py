"""太阳线 team tree of unlimited depth (SPEC M-1, PD-4, PD-8, PD-10, DR-2): the math of ADR 0005.

Each member keeps `depth` and one skew-binary *jump* pointer (Myers' jump pointers), set once
when it joins in O(1) from its referrer's: "the nearest ancestor whose team performance ≥ X"
(team performance never falls going up a chain) is then found in O(log depth) node reads.
Team totals are folded lazily: each order, refund or new member is one delta row; a batched
fold pushes a chunk of deltas up the union of their ancestor paths (`fold_up`, deepest first,
state per open parent), so a chunk writes each touched ancestor once, not once per order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import DomainError, ErrorCode
from domain.level_difference import FirstAtOrAbove, Rung
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
    """A member on the fold's path, deepest first: its own change (new member: size 1; order: its amount)."""

    member: str
    parent: str | None
    depth: int
    size: int = 0
    performance: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TeamChange:
    """What to add to one member's team totals (its descendants', itself excluded: PD-4, PD-8)."""

    member: str
    size: int
    performance: Decimal


def fold_up(path: Iterable[TeamDelta]) -> Iterator[TeamChange]:
    """Team-total changes of every member on the path; each member's ancestors must follow it.

    Fed deepest first (the union of the ancestor paths of a chunk of deltas), it keeps sums only
    for referrers not yet fed and yields a member's change as soon as it is fed.
    """
    open_: dict[str, tuple[int, int, Decimal]] = {}
    last_depth: int | None = None
    for d in path:
        if last_depth is not None and d.depth > last_depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"members must be fed deepest first: depth {d.depth} after {last_depth}", "depth")
        last_depth = d.depth
        depth, size, performance = open_.pop(d.member, (d.depth, 0, ZERO))
        if depth != d.depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"member {d.member} fed at depth {d.depth}, its referrals say {depth}", "depth")
        if size or performance:
            yield TeamChange(d.member, size, performance)
        if d.parent is not None:
            _, up_size, up_performance = open_.get(d.parent, (d.depth - 1, 0, ZERO))
            open_[d.parent] = (d.depth - 1, up_size + size + d.size, up_performance + performance + d.performance)
    if open_:
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrers never fed: {', '.join(sorted(open_)[:5])}", "parent")
