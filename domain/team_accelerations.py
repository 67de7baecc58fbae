"""加速释放 the accelerations of one daily release (SPEC PD-3..PD-5, PD-9 step 2), summed exactly.

Each member's static release r walks up its referral chain: the first generations receive a share
of it (PD-3), ancestors above the tier % paid so far receive the level difference (PD-4) and the
first equal one the same-level ratio (PD-5). `naive_accelerations` walks every chain (the
reference, O(members × depth)). `AccelerationPass` gives the same exact sums in one pass from the
leaves up, O(members × levels): fed members deepest first, it carries to each parent, per walk
state (paid level, same-level still pending), the sum of the releases in that state, and per
generation the sum of releases still owed a share. It keeps state only for parents not yet fed.
Sums are exact (an inexact operation raises); PD-9 rounds each recipient's sum per kind once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, localcontext
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.level_difference import AwardKind, scan_lookup, walk
from domain.money import HUNDRED, ZERO

EXACT_PRECISION = 60


@dataclass(frozen=True, slots=True)
class AccelerationRules:
    """The parts of the settings the walk uses: share % per generation, team tier % per level, same-level %."""

    share_ratios: tuple[Decimal, ...]
    team_ratios: tuple[Decimal, ...]
    same_level_ratio: Decimal


@dataclass(frozen=True, slots=True)
class ReleaseSource:
    """One member of the forest on the day: its referrer, depth (roots 0), team level (0 = none) and static release."""

    member: str
    parent: str | None
    depth: int
    level: int
    release: Decimal


@dataclass(frozen=True, slots=True)
class Accelerations:
    """A recipient's exact (unrounded) accelerations of the day, per kind."""

    member: str
    share: Decimal = ZERO
    team: Decimal = ZERO
    same_level: Decimal = ZERO

    @property
    def is_zero(self) -> bool:
        return self.share == 0 and self.team == 0 and self.same_level == 0


def naive_accelerations(sources: Sequence[ReleaseSource], rules: AccelerationRules) -> dict[str, Accelerations]:
    """Reference: walk up every releasing member's whole chain. Recipients with nothing are left out."""
    by_member = {s.member: s for s in sources}
    sums: dict[str, list[Decimal]] = {}
    with localcontext() as context:
        context.prec, context.traps[Inexact] = EXACT_PRECISION, True
        for source in sources:
            if source.release <= 0:
                continue
            chain = _chain(source, by_member)
            for generation, ratio in enumerate(rules.share_ratios):
                if generation < len(chain) and ratio > 0:
                    _add(sums, chain[generation][0], 0, ratio * source.release / HUNDRED)
            for award in walk(rules.team_ratios, rules.same_level_ratio, scan_lookup(chain)):
                kind = 1 if award.kind is AwardKind.LEVEL_DIFFERENCE else 2
                _add(sums, award.member, kind, award.ratio * source.release / HUNDRED)
    return {member: Accelerations(member, *values) for member, values in sums.items() if any(values)}


def _chain(source: ReleaseSource, by_member: dict[str, ReleaseSource]) -> list[tuple[str, int]]:
    chain: list[tuple[str, int]] = []
    parent = source.parent
    while parent is not None:
        ancestor = by_member[parent]
        chain.append((ancestor.member, ancestor.level))
        parent = ancestor.parent
        assert len(chain) <= len(by_member), "referrer links form a cycle"
    return chain


def _add(sums: dict[str, list[Decimal]], member: str, kind: int, amount: Decimal) -> None:
    sums.setdefault(member, [ZERO, ZERO, ZERO])[kind] += amount


State = tuple[int, bool]  # (paid level, same-level bonus still pending)


@dataclass(slots=True)
class Carry:
    """What a subtree still owes upward: per generation and per walk state, the sum of releases."""

    depth: int
    generations: list[Decimal]
    states: dict[State, Decimal] = field(default_factory=dict)


class AccelerationPass:
    """The one-pass aggregation: `add` members deepest first (any order within a depth), then `finish`.

    `add` returns the member's accelerations at once: every release that can reach it comes from
    deeper members, already fed. State is kept only for parents that have not been fed yet.
    """

    def __init__(self, rules: AccelerationRules) -> None:
        self.rules = rules
        self.top = len(rules.team_ratios)
        self.open: dict[str, Carry] = {}
        self.depth: int | None = None

    def add(self, source: ReleaseSource) -> Accelerations:
        self._advance(source)
        carry = self.open.pop(source.member, None)
        if carry is not None and carry.depth != source.depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"member {source.member} fed at depth {source.depth}, its referrals say {carry.depth}", "depth")
        with localcontext() as context:
            context.prec, context.traps[Inexact] = EXACT_PRECISION, True
            received = self._receive(source, carry) if carry is not None else Accelerations(source.member)
            if source.parent is not None:
                self._pass_up(source, carry)
        return received

    def snapshot(self) -> dict[str, Any]:
        """The pass's state between two chunks, JSON-able (decimals as exact strings): a run that
        stops after a chunk resumes from it exactly (PD-9)."""
        return {
            "depth": self.depth,
            "open": {m: [c.depth, [str(g) for g in c.generations], [[lv, p, str(a)] for (lv, p), a in c.states.items()]] for m, c in self.open.items()},
        }

    @classmethod
    def restore(cls, rules: AccelerationRules, data: Mapping[str, Any] | None) -> AccelerationPass:
        """A pass continuing where `snapshot` left it (a new pass for None)."""
        run = cls(rules)
        if data:
            run.depth = data.get("depth")
            for m, (depth, generations, states) in data.get("open", {}).items():
                run.open[m] = Carry(int(depth), [Decimal(g) for g in generations], {(int(lv), bool(p)): Decimal(a) for lv, p, a in states})
        return run

    def finish(self) -> None:
        """Every referrer named by a member must have been fed (a truncated stream would lose releases)."""
        if self.open:
            missing = sorted(self.open)[:5]
            raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrers never fed: {', '.join(missing)}", "parent")

    def _advance(self, source: ReleaseSource) -> None:
        if source.depth < 0 or (source.parent is None) != (source.depth == 0):
            raise DomainError(ErrorCode.INVALID_INPUT, f"member {source.member}: depth {source.depth} does not match its referrer", "depth")
        if not 0 <= source.level <= self.top or source.release < 0:
            raise DomainError(ErrorCode.INVALID_INPUT, f"member {source.member}: level {source.level} or release {source.release} out of range", "level")
        if self.depth is not None and source.depth > self.depth:
            raise DomainError(ErrorCode.INVALID_INPUT, f"members must be fed deepest first: depth {source.depth} after {self.depth}", "depth")
        if self.depth is not None and source.depth < self.depth:
            stale = [m for m, c in self.open.items() if c.depth > source.depth]
            if stale:
                raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"referrers never fed: {', '.join(sorted(stale)[:5])}", "parent")
        self.depth = source.depth

    def _receive(self, source: ReleaseSource, carry: Carry) -> Accelerations:
        share = sum((r * amount for r, amount in zip(self.rules.share_ratios, carry.generations, strict=False)), ZERO) / HUNDRED
        level, team, same = source.level, ZERO, ZERO
        ratio = self._ratio(level)
        for (paid_level, pending), amount in carry.states.items():
            if level > paid_level:
                team += (ratio - self._ratio(paid_level)) * amount
            elif level == paid_level > 0 and pending:
                same += self.rules.same_level_ratio * amount
        return Accelerations(source.member, share, team / HUNDRED, same / HUNDRED)

    def _pass_up(self, source: ReleaseSource, carry: Carry | None) -> None:
        assert source.parent is not None
        target = self.open.get(source.parent)
        if target is None:
            target = self.open[source.parent] = Carry(source.depth - 1, [ZERO] * len(self.rules.share_ratios))
        if target.generations:
            target.generations[0] += source.release
            if carry is not None:
                for g in range(1, len(target.generations)):
                    target.generations[g] += carry.generations[g - 1]
        if carry is not None:
            for state, amount in carry.states.items():
                self._merge(target, self._step(state, source.level), amount)
        self._merge(target, (0, self.rules.same_level_ratio > 0), source.release)

    def _step(self, state: State, level: int) -> State:
        """The walk state after passing an ancestor of `level` (PD-4, PD-5)."""
        paid_level, pending = state
        if level > paid_level:
            return level, pending
        if level == paid_level > 0 and pending:
            return paid_level, False
        return state

    def _merge(self, target: Carry, state: State, amount: Decimal) -> None:
        if amount == 0 or state == (self.top, False):
            return  # nothing can be owed any more
        target.states[state] = target.states.get(state, ZERO) + amount

    def _ratio(self, level: int) -> Decimal:
        return self.rules.team_ratios[level - 1] if level > 0 else ZERO


def aggregate_accelerations(sources: Iterable[ReleaseSource], rules: AccelerationRules) -> Iterator[Accelerations]:
    """`AccelerationPass` over a stream ordered deepest first; yields every recipient with a non-zero sum."""
    run = AccelerationPass(rules)
    for source in sources:
        received = run.add(source)
        if not received.is_zero:
            yield received
    run.finish()
