"""Wire scalars (C-1, C-2): money and ratios travel as decimal strings, never as floats.

Parsing only checks that a JSON string came in; the digits are validated by the domain, which
answers with a typed payload error naming the field (MALFORMED_DECIMAL, INVALID_AMOUNT, …).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode

from domain.money import money_str

Money = NewType("Money", str)
Ratio = NewType("Ratio", str)


def _refuse(scalar: str, code: str, got: str) -> GraphQLError:
    return GraphQLError(f'{scalar} must be a decimal string such as "12.30", not {got}', extensions={"code": code})


def _parsers(scalar: str, code: str) -> tuple[Callable[[Any], str], Callable[..., str]]:
    """(parse_value, parse_literal) accepting strings only."""

    def parse_value(value: Any) -> str:
        if not isinstance(value, str):
            raise _refuse(scalar, code, type(value).__name__)
        return value

    def parse_literal(node: ValueNode, _variables: Any = None) -> str:
        if not isinstance(node, StringValueNode):
            raise _refuse(scalar, code, f"an unquoted {node.kind.removesuffix('_value')}")
        return node.value

    return parse_value, parse_literal


def serialize_money(value: Decimal | str) -> str:
    """A 2-dp decimal string (30 → "30.00")."""
    return money_str(value if isinstance(value, Decimal) else Decimal(value))


def serialize_ratio(value: Decimal | str) -> str:
    """A percentage without trailing zeros ("130.0000" → "130")."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation:
        return str(value)
    return format(number.normalize(), "f")


_money_value, _money_literal = _parsers("Money", "MALFORMED_DECIMAL")
_ratio_value, _ratio_literal = _parsers("Ratio", "INVALID_RATIO")

SCALARS = {
    Money: strawberry.scalar(
        name="Money",
        description='An amount with 2 decimal places as a string, e.g. "218.40" (CNY, points, love value, coupons).',
        serialize=serialize_money,
        parse_value=_money_value,
        parse_literal=_money_literal,
    ),
    Ratio: strawberry.scalar(
        name="Ratio",
        description='A percentage with up to 4 decimal places as a string: "130" means 130 %.',
        serialize=serialize_ratio,
        parse_value=_ratio_value,
        parse_literal=_ratio_literal,
    ),
}
