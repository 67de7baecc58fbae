"""api/inputs.py: a planned input type builds exactly the value strawberry's own conversion builds."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.arguments import convert_argument
from strawberry.types.base import get_object_definition

from api.orders.types import OrderChannel, OrderCompletedInput, OrderLineInput, OrderPaidInput, OrderRefundedInput
from api.schema import schema

PLANNED = [OrderPaidInput, OrderLineInput, OrderCompletedInput, OrderRefundedInput]
FULL = {"key": "o1:paid", "order": "o1", "member": "M1", "channel": OrderChannel.CASHIER, "store": "S1", "cashier": "K1", "profit": "3.00",
        "region": "p/c/d", "lines": [{"product": "P1", "quantity": 2, "paid": "10.00", "deduction": "1.00"},
                                     {"product": None, "quantity": 1, "paid": "5.00", "deduction": "0.00"}]}
MINIMAL = {"key": "o2:paid", "order": "o2", "member": "M2", "lines": [{"paid": "1.00"}]}


def built(cls: type, value: dict[str, Any], planned: bool) -> Any:
    hooks = {c: get_object_definition(c, strict=True).from_input for c in PLANNED}
    try:
        if not planned:
            for c in PLANNED:
                get_object_definition(c, strict=True).from_input = None
        return convert_argument(value, cls, schema.schema_converter.scalar_registry, schema.config)
    finally:
        for c, hook in hooks.items():
            get_object_definition(c, strict=True).from_input = hook


@pytest.mark.parametrize(("cls", "value"), [(OrderPaidInput, FULL), (OrderPaidInput, MINIMAL), (OrderCompletedInput, {"key": "k", "order": "o"}),
                                            (OrderRefundedInput, {"key": "k", "order": "o", "line": 1}), (OrderRefundedInput, {"key": "k", "order": "o"})])
def test_a_planned_input_equals_strawberrys_conversion(cls: type, value: dict[str, Any]):
    planned, default = built(cls, value, True), built(cls, value, False)
    assert type(planned) is cls and planned == default and planned.event() == default.event()


def test_every_planned_type_has_its_hook():
    assert all(get_object_definition(c, strict=True).from_input is not None for c in PLANNED)
    assert built(OrderPaidInput, FULL, True).lines[1] == OrderLineInput(product=None, quantity=1, paid="5.00", deduction="0.00")
