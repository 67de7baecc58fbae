"""Field permissions (I-3). No caller → UNAUTHENTICATED; a caller out of scope → FORBIDDEN.

Member-scoped fields read the `id` / `member` argument, queue-scoped ones `queue` / `store`.
"""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import StrawberryGraphQLError
from strawberry.permission import BasePermission

from api.auth import Principal, Role
from api.context import Context, Info
from domain.errors import ErrorCode


def _caller(context: Context) -> Principal:
    principal = context.principal
    if principal is None or principal.expired(context.now().timestamp()):
        raise StrawberryGraphQLError("authentication required: send Authorization: Bearer <token>", extensions={"code": ErrorCode.UNAUTHENTICATED.value})
    return principal


class _Scoped(BasePermission):
    message = "not allowed for this caller"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return self.allows(_caller(info.context), kwargs)

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        raise NotImplementedError


def require(permission: type[_Scoped], info: Info | Context, **args: Any) -> None:
    """A field's permission checked in its resolver, with the errors `permission_classes` gives
    (UNAUTHENTICATED, FORBIDDEN), for a hot field: strawberry's permission extension runs every
    resolution of its field through an extension chain (partials built per call, an await more).
    Takes the resolver's info or, for a prepared operation (api/prepared.py), the context."""
    check = permission()
    if not check.allows(_caller(info if isinstance(info, Context) else info.context), args):
        check.on_unauthorized()


class IsStaff(_Scoped):
    """ADMIN or INTEGRATION API keys: config changes, order reports, platform-wide reads."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff


class IsAdmin(_Scoped):
    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.role is Role.ADMIN


class CanReadMember(_Scoped):
    """Staff, or the member itself (wallets, entitlements, ledger)."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff or caller.is_member(args.get("id", args.get("member")))


class CanReadQueue(_Scoped):
    """Staff, or the merchant whose store the queue belongs to."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff or caller.owns_queue(args.get("queue"))


class CanReadEntitlements(_Scoped):
    """Staff; a member for its own entitlements; a merchant for its store's queues."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff or caller.is_member(args.get("member")) or caller.owns_queue(args.get("queue"))


class CanWatchPayouts(_Scoped):
    """Staff; a member for its own payouts; a merchant for its store or its store's queues."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        if caller.is_staff:
            return True
        member, queue, store = args.get("member"), args.get("queue"), args.get("store")
        if caller.role is Role.MEMBER:
            return queue is None and store is None and caller.is_member(member)
        return member is None and (caller.owns_store(store) or caller.owns_queue(queue))


class IsStaffOrMerchant(_Scoped):
    """Staff, or a merchant (the resolver keeps to its own store)."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff or caller.role is Role.MERCHANT


class IsAuthenticated(_Scoped):
    """Any authenticated caller (e.g. settings a member front end needs: display names, QR-18 flags)."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return True


class IsStaffOrMember(_Scoped):
    """Staff (acting for anyone), or a member (the resolver acts as that member only)."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        return caller.is_staff or caller.role is Role.MEMBER


QUEUE_REBATE_QUEUE_PREFIX = "qr:"


class CanReadQueueProgress(_Scoped):
    """Staff; the merchant whose store the queue belongs to; any member for a queue rebate queue
    (the resolver nulls what the QR-18 display settings hide from members)."""

    def allows(self, caller: Principal, args: dict[str, Any]) -> bool:
        queue = args.get("queue")
        if caller.is_staff or caller.owns_queue(queue):
            return True
        return caller.role is Role.MEMBER and isinstance(queue, str) and queue.startswith(QUEUE_REBATE_QUEUE_PREFIX)
