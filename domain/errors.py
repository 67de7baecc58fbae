"""Typed domain errors (SPEC C-8): a code a client can switch on, a field and a message."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    MALFORMED_DECIMAL = "MALFORMED_DECIMAL"
    INVALID_RATIO = "INVALID_RATIO"
    INVALID_SETTINGS = "INVALID_SETTINGS"
    INVALID_INPUT = "INVALID_INPUT"
    UNKNOWN_MEMBER = "UNKNOWN_MEMBER"
    UNKNOWN_STORE = "UNKNOWN_STORE"
    UNKNOWN_CASHIER = "UNKNOWN_CASHIER"
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    UNKNOWN_ENTITLEMENT = "UNKNOWN_ENTITLEMENT"
    UNKNOWN_MODEL = "UNKNOWN_MODEL"
    UNKNOWN_MEMBER_LEVEL = "UNKNOWN_MEMBER_LEVEL"
    REFERRER_CYCLE = "REFERRER_CYCLE"
    REFERRER_LOCKED = "REFERRER_LOCKED"
    DUPLICATE_PHONE = "DUPLICATE_PHONE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INVALID_ORDER_STATE = "INVALID_ORDER_STATE"
    INVALID_ENTITLEMENT_STATE = "INVALID_ENTITLEMENT_STATE"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    UNKNOWN_WITHDRAWAL = "UNKNOWN_WITHDRAWAL"
    INVALID_WITHDRAWAL_STATE = "INVALID_WITHDRAWAL_STATE"
    COMPLIANCE_LIMIT = "COMPLIANCE_LIMIT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"


class DomainError(Exception):
    """A refused input or action; nothing is written when one is raised."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code.value}, {self.message!r}, field={self.field!r})"
