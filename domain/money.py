"""Money, ratios and rounding (SPEC C-1..C-4). The only module that quantizes.

Amounts (CNY, points, love value, coupons) carry 2 decimal places; a ratio is a percentage with
up to 4 decimal places. In the database an amount is an integer number of fen.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from domain.errors import DomainError, ErrorCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RATIO_STEP = Decimal("0.0001")
HUNDRED = Decimal(100)


def parse_amount(text: str | Decimal | int, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """A decimal string with at most 2 decimal places (C-1); never a float."""
    value = _parse_decimal(text, field)
    if value != value.quantize(CENT):
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} has more than 2 decimal places: {text}", field)
    if value < 0 and not allow_negative:
        raise DomainError(ErrorCode.NEGATIVE_AMOUNT, f"{field} must not be negative: {text}", field)
    return value.quantize(CENT)


def parse_ratio(text: str | Decimal | int, field: str = "ratio", maximum: Decimal | None = None) -> Decimal:
    """A percentage (C-2): 130 means 130 %, at most 4 decimal places, never negative."""
    value = _parse_decimal(text, field)
    if value != value.quantize(RATIO_STEP):
        raise DomainError(ErrorCode.INVALID_RATIO, f"{field} has more than 4 decimal places: {text}", field)
    if value < 0 or (maximum is not None and value > maximum):
        bound = f"0..{maximum}" if maximum is not None else ">= 0"
        raise DomainError(ErrorCode.INVALID_RATIO, f"{field} must be within {bound}: {text}", field)
    return value.quantize(RATIO_STEP)


def _parse_decimal(text: str | Decimal | int, field: str) -> Decimal:
    if isinstance(text, float) or isinstance(text, bool):
        raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} must be a decimal string, not {type(text).__name__}", field)
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} is not a decimal: {text!r}", field) from None
    if not value.is_finite():
        raise DomainError(ErrorCode.MALFORMED_DECIMAL, f"{field} is not a finite decimal: {text!r}", field)
    return value


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
    return (Decimal(fen) / 100).quantize(CENT)


def money_str(amount: Decimal) -> str:
    """The 2-dp wire form of an amount."""
    return str(amount.quantize(CENT))
