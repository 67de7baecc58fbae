"""Shared helpers for validating a model's settings: typed errors, unknown fields refused."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from domain.errors import DomainError, ErrorCode
from domain.money import parse_amount, parse_ratio

E = TypeVar("E", bound=Enum)


class Reader:
    """Reads typed fields out of a settings mapping, remembering which ones it consumed."""

    def __init__(self, values: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(values, Mapping):
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{prefix or 'settings'} must be an object")
        self.values = values
        self.prefix = prefix
        self.seen: set[str] = set()

    def _get(self, name: str) -> Any:
        self.seen.add(name)
        return self.values.get(name)

    def field(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def flag(self, name: str, default: bool | None) -> bool | None:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{self.field(name)} must be true or false", self.field(name))
        return value

    def ratio(self, name: str, default: Decimal | None, maximum: Decimal | None = None) -> Decimal | None:
        value = self._get(name)
        return default if value is None else parse_ratio(value, self.field(name), maximum)

    def amount(self, name: str, default: Decimal | None) -> Decimal | None:
        value = self._get(name)
        return default if value is None else parse_amount(value, self.field(name))

    def integer(self, name: str, default: int | None, minimum: int = 0) -> int | None:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{self.field(name)} must be an integer >= {minimum}", self.field(name))
        return value

    def choice(self, name: str, enum: type[E], default: E) -> E:
        value = self._get(name)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(m.value for m in enum)
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{self.field(name)} must be one of {options}: {value!r}", self.field(name)) from None

    def text(self, name: str, default: str | None) -> str | None:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{self.field(name)} must be a string", self.field(name))
        return value

    def names(self, name: str, default: frozenset[str]) -> frozenset[str]:
        """A list of ids (e.g. products that opt out of a model)."""
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"{self.field(name)} must be a list of ids", self.field(name))
        return frozenset(value)

    def raw(self, name: str) -> Any:
        return self._get(name)

    def finish(self) -> None:
        """Refuse fields nobody read: a typo in a setting must not pass silently."""
        unknown = sorted(set(self.values) - self.seen)
        if unknown:
            raise DomainError(ErrorCode.INVALID_SETTINGS, f"unknown setting(s): {', '.join(self.prefix + u for u in unknown)}", self.field(unknown[0]))
