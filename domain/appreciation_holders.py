"""增值积分 holders, kept in the order in which the forced exit reaches them (SPEC CA-4).

A holder qualifies once points × price ≥ exit_multiple × spend, i.e. once the price reaches its
exit price `exit_multiple × spend / points`. That is one platform-wide multiple times the holder's
own *cost per point* `spend / points`, so holders are ordered by cost per point: changing the
multiple re-keys nobody, and "exit price ≤ P" is "cost per point ≤ P / exit_multiple".

The domain asks a `HolderIndex` for the holders whose cost per point lies in a range it has not
asked for yet; the store answers from a B-tree on a cost-per-point column (O(log n + rows)),
`MemoryHolderIndex` (a sorted list) answers in memory, for tests and `rebate simulate`. Nothing
here or in `domain.appreciation` ever iterates all holders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from sortedcontainers import SortedKeyList

from domain.money import ZERO


@dataclass(frozen=True, slots=True)
class Holder:
    """One member's current participation (CA-4): its points, its spend since it began, and when.

    A member without points and without spend takes no part (`started_at` is None). Orders add
    spend and points; a forced exit, or a sale of every point, returns the holder to nothing, so
    its spend starts again from 0 and a later order begins a new participation (复投).
    """

    member: str
    points: Decimal = ZERO
    spend: Decimal = ZERO
    started_at: datetime | None = None
    participation: int = 0  # how many participations it began (a refund reaches only the one its order belonged to)

    @property
    def cost_per_point(self) -> Fraction | None:
        """`spend / points`, exact; None without points (such a holder can never exit)."""
        return Fraction(self.spend) / Fraction(self.points) if self.points > 0 else None

    def exit_price(self, exit_multiple: Decimal) -> Fraction | None:
        """The price at which this holder is forced out: exit_multiple × spend / points, exact."""
        cost = self.cost_per_point
        return None if cost is None else cost * Fraction(exit_multiple)

    @property
    def seniority(self) -> tuple[datetime, str]:
        """Oldest participation first, then member id (CA-4)."""
        assert self.started_at is not None, f"holder {self.member} holds points but never started"
        return self.started_at, self.member


@dataclass(frozen=True, slots=True)
class NeedHolders:
    """The index has not loaded the holders whose cost per point is in (lower, upper]: load them
    (`lower` None: from the lowest), then call `AppreciationPool.continue_exits()`."""

    lower: Fraction | None
    upper: Fraction


class HolderIndex(Protocol):
    """Holders of appreciation points as the store keeps them (the shell's side of CA-4).

    `get` answers for the members of the events being applied (a store-backed index loads them
    before the events run). `save` receives every changed holder; a holder without points leaves
    the exit order. `reaching(lower, upper)` returns every holder whose cost per point c satisfies
    lower < c ≤ upper (lower None: no lower bound), in any order; it may return more (rounded
    database keys, holders changed since loading): the domain checks each one exactly and skips
    members it already knows. An index that cannot answer without I/O returns `NeedHolders`.
    """

    def get(self, member: str) -> Holder | None: ...

    def save(self, holder: Holder) -> None: ...

    def reaching(self, lower: Fraction | None, upper: Fraction) -> Sequence[Holder] | NeedHolders: ...


def _kept(holder: Holder) -> bool:
    """A holder worth keeping: it takes part, or it took part (its participation count stays)."""
    return holder.points > 0 or holder.spend > 0 or holder.participation > 0


def _order_key(holder: Holder) -> tuple[Fraction, str]:
    cost = holder.cost_per_point
    assert cost is not None
    return cost, holder.member


class MemoryHolderIndex:
    """`HolderIndex` in memory: a sorted list by (cost per point, member); O(log n) per change."""

    def __init__(self, holders: Iterable[Holder] = ()) -> None:
        self._by_member: dict[str, Holder] = {}
        for h in holders:
            if _kept(h):
                self._by_member[h.member] = h
        self._by_cost: SortedKeyList[Holder, tuple[Fraction, str]] = SortedKeyList((h for h in self._by_member.values() if h.points > 0), key=_order_key)

    def __len__(self) -> int:
        return len(self._by_member)

    def __iter__(self) -> Iterator[Holder]:
        """Every holder that takes or took part (for reports and tests; the settlement never does this)."""
        return iter(self._by_member.values())

    def get(self, member: str) -> Holder | None:
        return self._by_member.get(member)

    def save(self, holder: Holder) -> None:
        old = self._by_member.pop(holder.member, None)
        if old is not None and old.points > 0:
            self._by_cost.remove(old)
        if _kept(holder):
            self._by_member[holder.member] = holder
        if holder.points > 0:
            self._by_cost.add(holder)

    def reaching(self, lower: Fraction | None, upper: Fraction) -> list[Holder]:
        start = None if lower is None else (lower, "")
        found: list[Holder] = []
        for h in self._by_cost.irange_key(min_key=start):
            cost, _ = _order_key(h)
            if cost > upper:
                break
            if lower is None or cost > lower:
                found.append(h)
        return found
