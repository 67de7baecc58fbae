"""Typed errors (C-8): mutations return `errors: [UserError!]!`, queries raise coded GraphQL errors."""

from __future__ import annotations

import re
from enum import Enum

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode


def mirror(source: type[Enum], name: str, description: str) -> type[Enum]:
    """A GraphQL enum with the members of a domain enum (the domain class stays untouched)."""
    copy = Enum(name, [(m.name, m.value) for m in source], type=str)  # type: ignore[misc]
    return strawberry.enum(copy, description=description)


ErrorCode = mirror(DomainErrorCode, "ErrorCode", "Why an input or action was refused (mirrors the domain's error codes).")

_CAMEL = re.compile(r"_([a-z0-9])")


@strawberry.type(description="A refused input: a code to switch on, the offending field (a dotted path) and a message.")
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    field: str | None
    message: str


def camel_path(path: str) -> str:
    """`queue_rebate.extraction_ratio` → `queueRebate.extractionRatio` (the GraphQL input names)."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), path)


def user_error(exc: DomainError, camel: bool = True, prefix: str | None = None) -> UserError:
    """The payload form of a domain error; `prefix` roots the field in a JSON argument."""
    field = exc.field
    if field is not None and camel:
        field = camel_path(field)
    if prefix is not None:
        field = f"{prefix}.{field}" if field else prefix
    return UserError(code=ErrorCode(exc.code.value), field=field, message=exc.message)


def coded(code: DomainErrorCode, message: str) -> GraphQLError:
    """A top-level error for queries, with `extensions.code` (never masked)."""
    return GraphQLError(message, extensions={"code": code.value})


def check_lengths(**fields: tuple[str | None, int]) -> None:
    """Text fields within their column widths: `nickname=(value, 128)`; the first too long is INVALID_INPUT."""
    for name, (value, longest) in fields.items():
        if value is not None and len(value) > longest:
            raise DomainError(DomainErrorCode.INVALID_INPUT, f"{name} must be at most {longest} characters", name)
