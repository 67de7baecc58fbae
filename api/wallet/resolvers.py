"""Queries and mutations of the wallets area: withdrawals (M-6) and member transfers."""

from __future__ import annotations

import strawberry

from api.auth import Principal, Role
from api.context import Info
from api.errors import user_error
from api.pagination import Connection, int_cursor, page, page_size
from api.permissions import CanReadMember, IsAdmin, IsStaffOrMember
from api.wallet.types import (
    MemberTransfer,
    MemberTransferPayload,
    PayWithdrawalInput,
    RequestWithdrawalInput,
    ReviewWithdrawalInput,
    TransferToMemberInput,
    Withdrawal,
    WithdrawalPayload,
    WithdrawalStatus,
)
from domain.errors import DomainError, ErrorCode
from domain.wallet import Step
from services import wallet


def _caller(info: Info) -> Principal:
    caller = info.context.principal
    assert caller is not None  # the permission classes ran first
    return caller


def _who(info: Info) -> str:
    """The audit's "who": the member, or the staff key's role."""
    caller = _caller(info)
    return caller.subject if caller.role is Role.MEMBER and caller.subject else caller.role.value


def _acting(info: Info, member: strawberry.ID | None) -> str:
    """A member token acts as its own member (naming another is FORBIDDEN); staff must name one."""
    caller = _caller(info)
    if caller.role is Role.MEMBER:
        if member is not None and str(member) != caller.subject:
            raise DomainError(ErrorCode.FORBIDDEN, "a member may act only for itself", "member")
        return str(caller.subject)
    if member is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "member is required with a staff key", "member")
    return str(member)


async def _review(info: Info, withdrawal: str, step: Step, key: str | None, reference: str | None = None) -> WithdrawalPayload:
    try:
        done = await wallet.review(withdrawal, step, info.context.now(), _who(info), key, reference)
    except DomainError as exc:
        return WithdrawalPayload(withdrawal=None, errors=[user_error(exc)])
    return WithdrawalPayload(withdrawal=Withdrawal.of(done), errors=[])


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanReadMember], description="M-6: a member's withdrawal requests, oldest first (staff, or the member itself).")
    async def withdrawals(self, member: strawberry.ID, first: int | None = None, after: str | None = None) -> Connection[Withdrawal]:
        size = page_size(first)
        rows = await wallet.withdrawals(member=str(member), after_id=int_cursor(after), limit=size + 1)
        return page([Withdrawal.of(w) for w in rows], size, lambda w: str(w.id))

    @strawberry.field(permission_classes=[IsAdmin], description="M-6: the admin's queue: withdrawals awaiting review (REQUESTED) or payment (APPROVED).")
    async def pending_withdrawals(self, status: WithdrawalStatus = WithdrawalStatus("REQUESTED"), first: int | None = None,  # type: ignore[valid-type]
                                  after: str | None = None) -> Connection[Withdrawal]:
        size = page_size(first)
        rows = await wallet.withdrawals(status=status.value, after_id=int_cursor(after), limit=size + 1)
        return page([Withdrawal.of(w) for w in rows], size, lambda w: str(w.id))


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaffOrMember], description="M-6 提现: request a withdrawal of available cash (it moves to WITHDRAWING).")
    async def request_withdrawal(self, info: Info, input: RequestWithdrawalInput) -> WithdrawalPayload:
        try:
            done = await wallet.withdraw(input.key, _acting(info, input.member), str(input.amount), info.context.now(), _who(info))
        except DomainError as exc:
            return WithdrawalPayload(withdrawal=None, errors=[user_error(exc)])
        return WithdrawalPayload(withdrawal=Withdrawal.of(done), errors=[])

    @strawberry.mutation(permission_classes=[IsAdmin], description="M-6: approve a REQUESTED withdrawal.")
    async def approve_withdrawal(self, info: Info, input: ReviewWithdrawalInput) -> WithdrawalPayload:
        return await _review(info, input.withdrawal, Step.APPROVE, input.key)

    @strawberry.mutation(permission_classes=[IsAdmin], description="M-6: reject a REQUESTED or APPROVED withdrawal; its cash returns to the member.")
    async def reject_withdrawal(self, info: Info, input: ReviewWithdrawalInput) -> WithdrawalPayload:
        return await _review(info, input.withdrawal, Step.REJECT, input.key)

    @strawberry.mutation(permission_classes=[IsAdmin], description="M-6: mark an APPROVED withdrawal paid; the cash leaves the platform, less its fee.")
    async def pay_withdrawal(self, info: Info, input: PayWithdrawalInput) -> WithdrawalPayload:
        return await _review(info, input.withdrawal, Step.PAY, input.key, input.reference)

    @strawberry.mutation(permission_classes=[IsStaffOrMember], description="转赠: give points or available love value to another member (wallet settings).")
    async def transfer_to_member(self, info: Info, input: TransferToMemberInput) -> MemberTransferPayload:
        try:
            done = await wallet.transfer(input.key, _acting(info, input.member), str(input.to), input.asset.value, str(input.amount), info.context.now(), _who(info))
        except DomainError as exc:
            return MemberTransferPayload(transfer=None, errors=[user_error(exc)])
        return MemberTransferPayload(transfer=MemberTransfer.of(done), errors=[])
