"""Money, ratios and rounding (SPEC C-1..C-4). The only module that quantizes.

Amounts (CNY, points, love value, coupons) carry 2 decimal places; a ratio is a percentage with
up to 4 decimal places. In the database an amount is an integer number of fen.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from domain.errors import DomainError, ErrorCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RATIO_STEP = Decimal("0.0001")
HUNDRED = Decimal(100)


# Intake bounds (C-8). Amounts are stored as int64 fen: the largest amount times the largest ratio
# is 10^15 fen, 9 000 times below 2^63, so sums over many lines and ratios applied to them still fit.
MAX_AMOUNT = Decimal("1000000000000.00")
"""The largest amount accepted anywhere (10^12 CNY, points, love value or coupons)."""
MAX_RATIO = Decimal("1000")
"""The largest ratio accepted anywhere: 1000 %."""
_AMOUNT_TEXT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,2})?")
_RATIO_TEXT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,4})?")


def parse_amount(text: str | Decimal | int, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """An amount (C-1): plain ASCII digits with at most 2 decimal places, never a float, at most
    MAX_AMOUNT. Exponents, NaN, Infinity, non-ASCII digits, underscores and spaces are INVALID_AMOUNT."""
    value = _parse_decimal(text, field, _AMOUNT_TEXT, ErrorCode.INVALID_AMOUNT, "a decimal with at most 2 decimal places")
    if value != value.quantize(CENT):
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} has more than 2 decimal places: {text}", field)
    if value < 0 and not allow_negative:
        raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"{field} must not be negative: {text}", field)
    if abs(value) > MAX_AMOUNT:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} exceeds the maximum amount {MAX_AMOUNT}: {text}", field)
    return value.quantize(CENT)


def parse_ratio(text: str | Decimal | int, field: str = "ratio", maximum: Decimal | None = None) -> Decimal:
    """A percentage (C-2): 130 means 130 %, at most 4 decimal places, never negative, at most
    `maximum` and never above MAX_RATIO. Same text rules as amounts, refused as INVALID_RATIO."""
    value = _parse_decimal(text, field, _RATIO_TEXT, ErrorCode.INVALID_RATIO, "a percentage with at most 4 decimal places")
    if value != value.quantize(RATIO_STEP):
        raise DomainError(ErrorCode.INVALID_RATIO, f"{field} has more than 4 decimal places: {text}", field)
    bound = MAX_RATIO if maximum is None else min(maximum, MAX_RATIO)
    if value < 0 or value > bound:
        raise DomainError(ErrorCode.INVALID_RATIO, f"{field} must be within 0..{bound}: {text}", field)
    return value.quantize(RATIO_STEP)


def check_deduction(paid: Decimal, deduction: Decimal, field: str = "deduction") -> None:
    """A line's deduction cannot exceed what the line was paid (C-8)."""
    if deduction > paid:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} {deduction} exceeds the line's paid amount {paid}", field)


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else f"{shown[:37]}..."


def _parse_decimal(text: str | Decimal | int, field: str, grammar: re.Pattern[str], code: ErrorCode, form: str) -> Decimal:
    if isinstance(text, float) or isinstance(text, bool):
        raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} must be a decimal string, not {type(text).__name__}", field)
    if isinstance(text, str):
        if grammar.fullmatch(text):
            return Decimal(text)
        if not _is_decimal(text):
            raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} is not a decimal: {_shown(text)}", field)
        raise DomainError(code, f"{field} must be {form} in plain ASCII digits: {_shown(text)}", field)
    if isinstance(text, int):
        text = Decimal(text)
    if not isinstance(text, Decimal):
        raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} is not a decimal: {_shown(text)}", field)
    if not text.is_finite():
        raise DomainError(code, f"{field} is not a finite decimal: {text}", field)
    return text


def _is_decimal(text: str) -> bool:
    """Whether Python's Decimal reads it at all (then a stricter rule refuses it with a code of its own)."""
    if len(text) > 100:
        return True
    try:
        Decimal(text)
    except (InvalidOperation, ValueError):
        return False
    return True


def apply_ratio(amount: Decimal, ratio: Decimal) -> Decimal:
    """`amount × ratio %`, rounded half-up to 0.01 once (C-3): 168 × 130 % = 218.40."""
    return (amount * ratio / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def split_evenly(total: Decimal, recipients: int) -> tuple[Decimal, Decimal]:
    """Each of n gets floor(total / n, 0.01); the remainder is returned for the pool (C-4)."""
    if recipients <= 0:
        return ZERO, total
    share = (total / recipients).quantize(CENT, rounding=ROUND_DOWN)
    return share, total - share * recipients


def round_half_up(value: Decimal) -> Decimal:
    """Round a computed quantity (e.g. minted points) half-up to 0.01."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_exact(value: Fraction) -> Decimal:
    """An exact rational (points minted at a price, a sale's worth) rounded half-up to 0.01 (C-3)."""
    cents = value * 100
    whole = (abs(cents.numerator) * 2 + cents.denominator) // (2 * cents.denominator)
    return from_fen(whole if cents >= 0 else -whole)


def floor_exact(value: Fraction) -> Decimal:
    """An exact rational rounded down to 0.01: the most that stays within a bound."""
    cents = value * 100
    return from_fen(cents.numerator // cents.denominator)


def to_fen(amount: Decimal) -> int:
    """Integer minor units for storage; the amount must already be on a cent."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    """Minor units as an amount on a cent: the integer with its exponent moved two places (exact,
    the same value and form as dividing by 100 and quantizing to CENT, in fewer steps)."""
    return Decimal(fen).scaleb(-2)


def money_str(amount: Decimal) -> str:
    """The 2-dp wire form of an amount."""
    return str(amount.quantize(CENT))
