"""C-8 intake bounds: every amount and ratio is plain ASCII digits, bounded so fen fit int64."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.money import CENT, MAX_AMOUNT, MAX_RATIO, apply_ratio, check_deduction, from_fen, parse_amount, parse_ratio, to_fen

INT64_MAX = 2**63 - 1
REFUSED_TEXTS = ["1e20", "1E2", "NaN", "nan", "Infinity", "-Infinity", "sNaN", "１２.００", "١٢", "1_000.00", " 1.00", "1.00 ", "\t1", "+1.00", ".5", "1.", "12.345"]


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_c8_non_plain_amount_texts_are_invalid_amount(text):
    with pytest.raises(DomainError) as refused:
        parse_amount(text, "lines.0.paid")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_AMOUNT, "lines.0.paid")


@pytest.mark.parametrize("text", [*REFUSED_TEXTS[:-1], "1.00001"])
def test_c8_non_plain_ratio_texts_are_invalid_ratio(text):
    with pytest.raises(DomainError) as refused:
        parse_ratio(text, "extraction_ratio")
    assert refused.value.code is ErrorCode.INVALID_RATIO


@pytest.mark.parametrize("text", ["50000000000000000.00", "1000000000000.01", "99999999999999999999"])
def test_c8_amounts_above_the_maximum_are_refused(text):
    with pytest.raises(DomainError) as refused:
        parse_amount(text)
    assert refused.value.code is ErrorCode.INVALID_AMOUNT and "maximum" in refused.value.message


def test_c8_the_maximum_amount_and_ratio_are_accepted_and_fit_the_fen_columns():
    assert parse_amount(str(MAX_AMOUNT)) == MAX_AMOUNT
    assert parse_ratio(str(MAX_RATIO)) == MAX_RATIO
    assert to_fen(apply_ratio(MAX_AMOUNT, MAX_RATIO)) * 1000 < INT64_MAX


@pytest.mark.parametrize("text", ["1000.0001", "5000", "-1"])
def test_c8_ratios_above_1000_percent_or_negative_are_refused(text):
    with pytest.raises(DomainError) as refused:
        parse_ratio(text)
    assert refused.value.code is ErrorCode.INVALID_RATIO


def test_c8_a_huge_text_is_refused_without_being_echoed_whole():
    with pytest.raises(DomainError) as refused:
        parse_amount("9" * 100_000)
    assert refused.value.code is ErrorCode.INVALID_AMOUNT and len(refused.value.message) < 200


def test_c8_non_decimals_stay_malformed_and_decimal_values_are_bounded_too():
    with pytest.raises(DomainError) as refused:
        parse_amount("abc")
    assert refused.value.code is ErrorCode.MALFORMED_DECIMAL
    for value in (Decimal("NaN"), Decimal("Infinity"), Decimal("1e20"), 10**15):
        with pytest.raises(DomainError):
            parse_amount(value)
    assert parse_amount(Decimal("12.3")) == Decimal("12.30") and parse_amount(5) == Decimal("5.00")


def test_c8_a_deduction_larger_than_the_line_is_refused():
    check_deduction(Decimal("10.00"), Decimal("10.00"))
    with pytest.raises(DomainError) as refused:
        check_deduction(Decimal("10.00"), Decimal("10.01"), "lines.0.deduction")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_AMOUNT, "lines.0.deduction")


@given(st.text(max_size=30))
def test_c8_any_text_is_a_bounded_amount_or_a_typed_refusal(text):
    try:
        value = parse_amount(text)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_AMOUNT, ErrorCode.MALFORMED_DECIMAL, ErrorCode.NEGATIVE_AMOUNT)
    else:
        assert 0 <= value <= MAX_AMOUNT and to_fen(value) < INT64_MAX


@given(st.integers(min_value=-INT64_MAX - 1, max_value=INT64_MAX))
def test_from_fen_is_the_amount_on_a_cent_and_back(fen):
    amount = from_fen(fen)
    assert amount.as_tuple().exponent == -2 and str(amount) == str((Decimal(fen) / 100).quantize(CENT))
    assert to_fen(amount) == fen
