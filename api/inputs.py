"""Input types built by a plan made once (the hot mutations' inputs, e.g. `OrderPaidInput`).

Strawberry builds an input value field by field, resolving each field's annotation on every
request; for a payment callback that is a large part of the GraphQL layer's cost. `planned`
gives an input type a `from_input` hook (strawberry's hook for types that build their own
value) that resolves the fields once, at the first request, and then only copies values:
graphql-core has already coerced them (scalars parsed, enums as members, required fields
present), so leaves pass through, nested planned inputs and lists of them recurse, and any
other field type is converted by strawberry itself (`InputContext.convert`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any, TypeVar

from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

T = TypeVar("T")
Convert = Callable[[Any, InputContext], Any]


def planned(cls: type[T]) -> type[T]:
    """Decorate a `@strawberry.input` class (below the strawberry decorator)."""
    definition = get_object_definition(cls, strict=True)
    plan: list[tuple[str, str, Convert]] | None = None
    nulls = {f.python_name: None for f in definition.fields if f.default_value is MISSING and f.default_factory is MISSING}

    def build(target: type, value: Mapping[str, Any], ctx: InputContext) -> Any:
        nonlocal plan
        if plan is None:
            plan = [(ctx.config.name_converter.from_field(f), f.python_name, _converter(f.resolve_type(type_definition=definition), ctx))
                    for f in definition.fields]
        kwargs = dict(nulls)
        for graphql_name, python_name, convert in plan:
            if graphql_name in value:
                kwargs[python_name] = convert(value[graphql_name], ctx)
        return target(**kwargs)

    definition.from_input = build
    return cls


def _converter(type_: Any, ctx: InputContext) -> Convert:
    """How one field's coerced value becomes its Python value."""
    if isinstance(type_, StrawberryOptional):
        inner = _converter(type_.of_type, ctx)
        return lambda v, c: None if v is None else inner(v, c)
    if isinstance(type_, StrawberryList):
        item = _converter(type_.of_type, ctx)
        return lambda v, c: None if v is None else [item(x, c) for x in v]
    if _is_leaf(type_, ctx):
        return lambda v, c: v
    nested = get_object_definition(type_)
    if nested is not None and nested.from_input is not None:
        hook = nested.from_input
        return lambda v, c: None if v is None else hook(type_, v, c)
    return lambda v, c: c.convert(v, type_)


def _is_leaf(type_: Any, ctx: InputContext) -> bool:
    """Scalars (built-in or the schema's, but a relay GlobalID, which strawberry decodes) and
    enums: graphql-core's coerced value is final."""
    if type_ is GlobalID:
        return False
    return is_scalar(type_, ctx.scalar_registry) or isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_)


__all__ = ["planned"]
