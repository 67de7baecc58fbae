"""The level-difference walk (PD-4, PD-5, DR-2, DR-3) against the SPEC's literal ancestor-by-ancestor reading."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.level_difference import Award, AwardKind, Rung, monotone_lookup, scan_lookup, walk

SEED_RATIOS = tuple(D(r) for r in (10, 20, 26, 32, 38, 44, 50))
LD, SAME = AwardKind.LEVEL_DIFFERENCE, AwardKind.SAME_LEVEL


def literal(ratios: tuple[D, ...], same_level: D, chain: list[tuple[str, int]]) -> list[Award]:
    """PD-4 / PD-5 as written: visit every ancestor keeping `paid` and whether the same-level bonus went."""
    paid, same_done, awards = D(0), same_level <= 0, []
    for member, level in chain:
        t = ratios[level - 1] if level else D(0)
        if t > paid:
            awards.append(Award(member, LD, t - paid))
            paid = t
        elif t == paid > 0 and not same_done:
            awards.append(Award(member, SAME, same_level))
            same_done = True
    return awards


def test_pd4_seed_example_c_bronze_b_star_a_king() -> None:
    chain = [("C", 1), ("B", 6), ("A", 7)]
    assert walk(SEED_RATIOS, D(3), scan_lookup(chain)) == [Award("C", LD, D(10)), Award("B", LD, D(34)), Award("A", LD, D(6))]


def test_pd5_seed_example_a_and_b_bronze() -> None:
    assert walk(SEED_RATIOS, D(3), monotone_lookup([("B", 1), ("A", 1)])) == [Award("B", LD, D(10)), Award("A", SAME, D(3))]


def test_dr3_same_level_ratio_zero_pays_no_same_level() -> None:
    assert walk(SEED_RATIOS, D(0), scan_lookup([("B", 1), ("A", 1), ("R", 2)])) == [Award("B", LD, D(10)), Award("R", LD, D(10))]


def test_pd4_walk_stops_once_top_tier_and_same_level_are_paid_on_a_10000_deep_chain() -> None:
    chain = [(f"m{i}", min(7, i // 1000)) for i in range(10_000)]
    calls: list[tuple[int, int]] = []
    lookup = monotone_lookup(chain)

    def counted(level: int, after: int) -> Rung | None:
        calls.append((level, after))
        return lookup(level, after)

    awards = walk(SEED_RATIOS, D(3), counted)
    assert awards == literal(SEED_RATIOS, D(3), chain) and awards[1] == Award("m1001", SAME, D(3)) and awards[-1] == Award("m7000", LD, D(6))
    assert len(calls) <= 2 * len(SEED_RATIOS) + 1


levels_chain = st.lists(st.integers(0, 7), max_size=30).map(lambda ls: [(f"m{i}", lv) for i, lv in enumerate(ls)])


@given(levels_chain, st.sampled_from([D(0), D(3)]))
@settings(max_examples=300)
def test_pd4_lookup_walk_equals_the_literal_walk_on_any_chain(chain: list[tuple[str, int]], same_level: D) -> None:
    assert walk(SEED_RATIOS, same_level, scan_lookup(chain)) == literal(SEED_RATIOS, same_level, chain)


@given(levels_chain.map(lambda c: [(m, lv) for (m, _), lv in zip(c, sorted(lv for _, lv in c), strict=True)]), st.sampled_from([D(0), D(3)]))
@settings(max_examples=300)
def test_pd4_binary_search_lookup_equals_scan_when_tiers_never_fall_going_up(chain: list[tuple[str, int]], same_level: D) -> None:
    assert walk(SEED_RATIOS, same_level, monotone_lookup(chain)) == walk(SEED_RATIOS, same_level, scan_lookup(chain))
