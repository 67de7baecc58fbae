"""太阳线 team performance on paths (ADR 0008; SPEC PD-4, DR-2, DR-8): O(log) per order, any depth.

The team tree is cut into paths as members join: a member extends its referrer's path when the
referrer has no heir yet (the first child that joins), else it heads a path of its own. Joins only
add leaves and a member with a team never moves (REFERRER_LOCKED), so a path only grows at its
tail. A path's positions run 1 (its head) … down; the head's referrer is where it hangs on its
parent path.

Each path keeps "amount at slot s" in a Fenwick tree (binary indexed tree) read as suffix sums:
the team performance of the member at position r is Σ amount[s ≥ r]. An order of member v adds its
amount at one slot per path on v's way up — on v's own path at v's position − 1 (v's own spend is
its ancestors' team, not its own), on every path above at the position of the member it hangs
from — so an order costs one Fenwick update per path on the way up and a member's team
performance is one suffix sum. Slots are stored reversed (index = SIZE + 1 − slot), so a suffix
sum is a Fenwick prefix sum over indices ≤ SIZE and an update touches the indices above its own:
O(log slot) rows each, and "the deepest member whose team reaches X" on a path is the standard
Fenwick descent (one row per bit, no matter the path's length).

A member's ancestors, nearest first, are its *route*: segments (path, top) meaning the positions
top, top − 1, …, 1 of that path. Team performance never falls going up a route, so the walk's
"first ancestor whose level ≥ k" is: the first segment whose head reaches tier k's threshold, then
the descent on that segment's path (`reached`, `lookup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from domain.level_difference import FirstAtOrAbove, Rung

BITS = 31
SIZE = 1 << BITS  # Fenwick capacity: slots 1 … SIZE (positions of a path)


@dataclass(frozen=True, slots=True)
class Place:
    """A member's place: the path it is on (named after the path's head) and its position (head: 1)."""

    member: str
    path: str
    position: int


def joined(member: str, referrer: Place | None, heir: bool) -> Place:
    """The place of a member joining under `referrer` (None: a root); `heir`: it became the
    referrer's heir (the referrer had none), so it extends the referrer's path."""
    if referrer is None or not heir:
        return Place(member, member, 1)
    return Place(member, referrer.path, referrer.position + 1)


def index(slot: int) -> int:
    """The Fenwick index of a slot (reversed, so that suffix sums are prefix sums)."""
    assert 1 <= slot <= SIZE, f"slot {slot} out of 1..{SIZE}"
    return SIZE + 1 - slot


def update_indices(slot: int) -> list[int]:
    """The Fenwick rows an amount added at `slot` changes: O(log slot) of them."""
    out, i = [], index(slot)
    while i <= SIZE:
        out.append(i)
        i += i & -i
    return out


def sum_indices(position: int) -> list[int]:
    """The Fenwick rows whose sum is Σ amount[slot ≥ position] (the team of that position)."""
    out, i = [], index(position)
    while i > 0:
        out.append(i)
        i -= i & -i
    return out


def deepest_reaching(row: Callable[[int], int], x: int) -> int:
    """The largest position whose suffix sum is ≥ x (0: none), amounts never negative; reads one
    row per bit (the descent `store.team_paths.deepest` runs in SQL)."""
    pos, acc, step = 0, 0, SIZE
    while step:
        value = row(pos + step)
        if acc + value < x:
            pos, acc = pos + step, acc + value
        step >>= 1
    return max(SIZE - pos, 0)  # pos past SIZE: not even the head reaches x


@dataclass(frozen=True, slots=True)
class Segment:
    """Ancestors on `path` at positions `top`, `top` − 1, …, 1 (nearest first); top 0: none."""

    path: str
    top: int


def route_slots(route: Sequence[Segment]) -> list[tuple[str, int]]:
    """Where a member's amount is added: each segment's top slot (its own path's only if it has an
    ancestor there)."""
    return [(s.path, s.top) for s in route if s.top >= 1]


def length(route: Sequence[Segment]) -> int:
    """How many ancestors the route has."""
    return sum(s.top for s in route)


def _offsets(route: Sequence[Segment]) -> Iterator[tuple[int, Segment]]:
    offset = 0
    for s in route:
        yield offset, s
        offset += s.top


def place_at(route: Sequence[Segment], distance: int) -> tuple[str, int]:
    """(path, position) of the ancestor at `distance` (1: the referrer)."""
    for offset, s in _offsets(route):
        if distance <= offset + s.top:
            return s.path, s.top - (distance - offset) + 1
    raise ValueError(f"no ancestor at distance {distance} (the route has {length(route)})")


def segment_reaching(route: Sequence[Segment], totals: Mapping[str, int], x: int) -> int | None:
    """The first segment (index) whose head's team reaches x, or None: a head's team is its path's
    total (`totals`), and no member below it on the route has more."""
    return next((i for i, s in enumerate(route) if s.top >= 1 and totals.get(s.path, 0) >= x), None)


def distance_of(route: Sequence[Segment], segment: int, deepest: int) -> int:
    """Distance of the first ancestor of `route[segment]` whose team reaches a threshold, given the
    deepest position of that path whose team reaches it (positions below `top` are not ancestors)."""
    offset = sum(s.top for s in route[:segment])
    top = route[segment].top
    return offset + top - min(deepest, top) + 1


def lookup(route: Sequence[Segment], reached: Sequence[int | None], name: Callable[[int], str]) -> FirstAtOrAbove:
    """The level-difference walk's lookup: `reached[k − 1]` is the distance of the first ancestor
    whose level is ≥ k (None: nobody's), not falling with k; `name` maps a distance to its member."""
    total = length(route)

    def level(distance: int) -> int:
        return sum(1 for d in reached if d is not None and d <= distance)

    def first(wanted: int, after: int) -> Rung | None:
        found = reached[wanted - 1] if wanted <= len(reached) else None
        if found is None or after >= total:
            return None
        distance = max(found, after + 1)
        return Rung(name(distance), distance, level(distance))

    return first
