"""`store.intake.lookup_is_one_statement` answers what `lookup` does: one statement exactly when
its ids fit in one (group commit skips the REPEATABLE READ round trip on that answer)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.intake import CHUNK, _lookup_statements, lookup_is_one_statement

KINDS = ("keys", "members", "paid_orders", "products", "stores", "cashiers")
SIZES = st.sampled_from([0, 1, 2, CHUNK // 2 - 1, CHUNK // 2, CHUNK - 1, CHUNK, CHUNK + 1]) | st.integers(0, 3 * CHUNK)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({kind: SIZES for kind in KINDS}))
def test_one_statement_exactly_when_lookup_builds_one(sizes: dict[str, int]) -> None:
    ids = {kind: {f"{kind}-{i}" for i in range(n)} for kind, n in sizes.items()}
    assert lookup_is_one_statement(ids) == (len(_lookup_statements(ids, "scope")) == 1)


def test_the_boundary() -> None:
    assert lookup_is_one_statement({"keys": {str(i) for i in range(CHUNK - 1)}})
    assert not lookup_is_one_statement({"keys": {str(i) for i in range(CHUNK)}})  # the scope is a parameter too
    assert lookup_is_one_statement({"members": {str(i) for i in range(CHUNK)}})
    assert not lookup_is_one_statement({"members": {str(i) for i in range(CHUNK)}, "stores": {"s"}})
