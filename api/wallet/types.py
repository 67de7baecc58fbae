"""Withdrawal and member transfer types and inputs (M-6)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError, mirror
from api.scalars import Money
from domain.wallet import GiftAsset as DomainGiftAsset
from domain.wallet import WithdrawalStatus as DomainWithdrawalStatus
from services.wallet import GiftView, WithdrawalView

WithdrawalStatus = mirror(DomainWithdrawalStatus, "WithdrawalStatus", "M-6: REQUESTED → APPROVED → PAID, or REJECTED (the cash returned).")
GiftAsset = mirror(DomainGiftAsset, "GiftAsset", "What a member may give another: points, or available love value.")


@strawberry.type(description="提现 a cash withdrawal request with its audit: who did each step and when.")
class Withdrawal:
    id: strawberry.ID
    key: str
    member: strawberry.ID
    amount: Money
    fee: Money = strawberry.field(description="Kept by the platform when it is paid; the member receives amount - fee.")
    status: WithdrawalStatus  # type: ignore[valid-type]
    requested_at: datetime
    requested_by: str
    approved_at: datetime | None
    approved_by: str | None
    rejected_at: datetime | None
    rejected_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    reference: str | None = strawberry.field(description="The payment's reference, given when it was paid.")

    @classmethod
    def of(cls, w: WithdrawalView) -> Withdrawal:
        return cls(
            id=strawberry.ID(str(w.id)), key=w.key, member=strawberry.ID(w.member), amount=Money(str(w.amount)), fee=Money(str(w.fee)),
            status=WithdrawalStatus(w.status), requested_at=w.requested_at, requested_by=w.requested_by, approved_at=w.approved_at,
            approved_by=w.approved_by, rejected_at=w.rejected_at, rejected_by=w.rejected_by, paid_at=w.paid_at, paid_by=w.paid_by, reference=w.reference,
        )


@strawberry.type(description="转赠 points or love value given to another member, less its fee.")
class MemberTransfer:
    key: str
    member: strawberry.ID
    to: strawberry.ID
    asset: GiftAsset  # type: ignore[valid-type]
    amount: Money
    fee: Money
    created_at: datetime

    @classmethod
    def of(cls, g: GiftView) -> MemberTransfer:
        return cls(key=g.key, member=strawberry.ID(g.member), to=strawberry.ID(g.to), asset=GiftAsset(g.asset), amount=Money(str(g.amount)),
                   fee=Money(str(g.fee)), created_at=g.created_at)


@strawberry.input(description="M-6: a withdrawal of cash; `key` makes it idempotent. A member token requests for itself; staff name the member.")
class RequestWithdrawalInput:
    key: str
    amount: Money
    member: strawberry.ID | None = None


@strawberry.input(description="An admin's step on a withdrawal; with a `key`, the same step sent again returns it unchanged.")
class ReviewWithdrawalInput:
    withdrawal: str
    key: str | None = None


@strawberry.input(description="An admin marks an APPROVED withdrawal paid, with the payment's reference.")
class PayWithdrawalInput:
    withdrawal: str
    reference: str
    key: str | None = None


@strawberry.input(description="转赠: give points or available love value to another member. A member token gives its own; staff name the member.")
class TransferToMemberInput:
    key: str
    to: strawberry.ID
    asset: GiftAsset  # type: ignore[valid-type]
    amount: Money
    member: strawberry.ID | None = None


@strawberry.type
class WithdrawalPayload:
    withdrawal: Withdrawal | None
    errors: list[UserError]


@strawberry.type
class MemberTransferPayload:
    transfer: MemberTransfer | None
    errors: list[UserError]
