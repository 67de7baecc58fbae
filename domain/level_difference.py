"""级差 / 平级 the level-difference walk of one amount up one referral chain (SPEC PD-4, PD-5, DR-2, DR-3).

Walking up from the source's referrer with `paid` (the highest tier % reached so far, 0 at the
start): an ancestor whose tier % exceeds `paid` receives the difference and raises `paid`; the first
ancestor (once `paid` > 0) whose tier equals `paid` receives the same-level ratio, once per walk.
Only ancestors at or above `paid` can receive, so the walk asks a lookup for "the nearest ancestor
beyond distance d whose level is at least k" and makes at most 2 × levels + 1 lookups; team
performance never falls going up a chain, so the store can answer each in O(log depth).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from itertools import pairwise

from domain.money import ZERO


class AwardKind(str, Enum):
    LEVEL_DIFFERENCE = "LEVEL_DIFFERENCE"  # 级差 (PD-4, DR-2)
    SAME_LEVEL = "SAME_LEVEL"  # 平级 (PD-5, DR-3)


@dataclass(frozen=True, slots=True)
class Rung:
    """An ancestor found by a lookup: `distance` 1 is the referrer; `level` 1..n indexes the tiers (0 = none)."""

    member: str
    distance: int
    level: int


@dataclass(frozen=True, slots=True)
class Award:
    """`member` receives `ratio` % of the walked amount (t − paid for a level difference)."""

    member: str
    kind: AwardKind
    ratio: Decimal


FirstAtOrAbove = Callable[[int, int], "Rung | None"]
"""(level k ≥ 1, distance d) → the nearest ancestor farther than d whose level is ≥ k, or None."""


def walk(ratios: Sequence[Decimal], same_level_ratio: Decimal, first_at_or_above: FirstAtOrAbove) -> list[Award]:
    """The awards of one walk; `ratios[k - 1]` is the tier % of level k, strictly ascending.

    Stops when the chain ends or once the top level and the same-level bonus are both paid.
    """
    top = len(ratios)
    paid_level, paid, distance = 0, ZERO, 0
    same_pending = same_level_ratio > 0
    awards: list[Award] = []
    while paid_level < top or same_pending:
        wanted = paid_level if same_pending and paid_level > 0 else paid_level + 1
        if wanted > top:
            break
        rung = first_at_or_above(wanted, distance)
        if rung is None:
            break
        assert rung.distance > distance and rung.level >= wanted, f"lookup returned {rung} for level {wanted} beyond {distance}"
        distance = rung.distance
        if rung.level == paid_level:
            awards.append(Award(rung.member, AwardKind.SAME_LEVEL, same_level_ratio))
            same_pending = False
        else:
            ratio = ratios[rung.level - 1]
            awards.append(Award(rung.member, AwardKind.LEVEL_DIFFERENCE, ratio - paid))
            paid_level, paid = rung.level, ratio
    return awards


def scan_lookup(chain: Sequence[tuple[str, int]]) -> FirstAtOrAbove:
    """A lookup over an explicit chain [(referrer, level), (its referrer, level), …] by linear scan.

    Exact for any levels (the reference for small trees and tests).
    """

    def first(level: int, after: int) -> Rung | None:
        for index in range(after, len(chain)):
            member, found = chain[index]
            if found >= level:
                return Rung(member, index + 1, found)
        return None

    return first


def monotone_lookup(chain: Sequence[tuple[str, int]]) -> FirstAtOrAbove:
    """A lookup by binary search, O(log depth), for a chain whose levels never fall going up."""
    levels = [level for _, level in chain]
    assert all(a <= b for a, b in pairwise(levels)), "levels fall going up the chain"

    def first(level: int, after: int) -> Rung | None:
        index = bisect_left(levels, level, lo=after)
        return Rung(chain[index][0], index + 1, levels[index]) if index < len(levels) else None

    return first
