"""钱包 member wallet operations (SPEC M-6): cash withdrawals and member-to-member transfers.

A withdrawal (提现) moves cash to the member's WITHDRAWING account when it is requested; an
admin approves it (WITHDRAWING → WITHDRAWAL_APPROVED) or rejects it (back to CASH); a paid one
leaves the platform (to `external:withdrawals`, its fee to platform income). A transfer (转赠)
gives points or available love value to another member, its fee to platform income. Every step
is postings; the shell checks that no wallet goes below zero in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic.dataclasses import dataclass as settings_dataclass

from domain.errors import DomainError, ErrorCode
from domain.ledger import PLATFORM_INCOME, Asset, Posting, Wallet, member_account, transfer
from domain.money import ZERO, apply_ratio
from domain.settings import SETTINGS_CONFIG, Amount, Flag, Percent, parse_settings

MODEL = "wallet"
PAID_OUT = "external:withdrawals"  # cash that left the platform (the bank / payment channel)


def withdrawing_account(member: str) -> str:
    """Requested, not yet reviewed: still the member's, not spendable (提现中)."""
    return f"member:{member}:WITHDRAWING"


def approved_account(member: str) -> str:
    """Approved, awaiting the payment: still counted in the member's `withdrawing`."""
    return f"member:{member}:WITHDRAWAL_APPROVED"


@settings_dataclass(frozen=True, slots=True, config=SETTINGS_CONFIG)
class WalletSettings:
    """钱包 platform settings: withdrawal bounds and fee, transfers (each off / unbounded by default)."""

    withdrawal_minimum: Amount | None = None  # a request below it is refused
    withdrawal_daily_limit: Amount | None = None  # a member's requests of one platform-local day (C-9), rejected ones not counted
    withdrawal_fee_ratio: Percent = ZERO  # of the amount, kept by the platform when paid
    enabled: Flag = False  # the switch (C-11) of transfers: members may give points / available love value to each other; withdrawals are always offered
    transfer_minimum: Amount | None = None
    transfer_fee_ratio: Percent = ZERO  # of the amount given, in the same asset, to platform income

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: WalletSettings | None = None) -> WalletSettings:
        return parse_settings(cls, values, base=base)


class WithdrawalStatus(str, Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PAID = "PAID"


class Step(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"
    PAY = "pay"


_NEXT = {
    Step.APPROVE: ({WithdrawalStatus.REQUESTED}, WithdrawalStatus.APPROVED),
    Step.REJECT: ({WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED}, WithdrawalStatus.REJECTED),
    Step.PAY: ({WithdrawalStatus.APPROVED}, WithdrawalStatus.PAID),
}


@dataclass(frozen=True, slots=True)
class Withdrawal:
    key: str
    member: str
    amount: Decimal
    fee: Decimal
    status: WithdrawalStatus


def request_withdrawal(key: str, member: str, amount: Decimal, cash: Decimal, requested_today: Decimal, settings: WalletSettings) -> tuple[Withdrawal, list[Posting]]:
    """M-6: a request of `amount` (> 0, ≤ the available `cash`, within the minimum and the daily
    limit); its fee is fixed now. The cash moves to WITHDRAWING."""
    if amount <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"a withdrawal must be greater than 0: {amount}", "amount")
    if settings.withdrawal_minimum is not None and amount < settings.withdrawal_minimum:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"the minimum withdrawal is {settings.withdrawal_minimum}: {amount}", "amount")
    if settings.withdrawal_daily_limit is not None and requested_today + amount > settings.withdrawal_daily_limit:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"the daily withdrawal limit is {settings.withdrawal_daily_limit}; {requested_today} requested today", "amount")
    if amount > cash:
        raise DomainError(ErrorCode.INSUFFICIENT_BALANCE, f"member {member} has {cash} of cash; cannot withdraw {amount}", "amount")
    w = Withdrawal(key, member, amount, apply_ratio(amount, settings.withdrawal_fee_ratio), WithdrawalStatus.REQUESTED)
    return w, transfer(f"wd:{key}:request", member_account(member, Wallet.CASH), withdrawing_account(member), amount, memo="withdrawal request")


def advance(w: Withdrawal, step: Step) -> tuple[Withdrawal, list[Posting]]:
    """approve / reject / pay, each allowed from its states only (a second approval, paying a
    rejected one: INVALID_WITHDRAWAL_STATE)."""
    allowed, status = _NEXT[step]
    if w.status not in allowed:
        raise DomainError(ErrorCode.INVALID_WITHDRAWAL_STATE, f"withdrawal {w.key} is {w.status.value}; it cannot be {step.value}d" if step is not Step.PAY
                          else f"withdrawal {w.key} is {w.status.value}; only an APPROVED one may be paid", "withdrawal")
    held = withdrawing_account(w.member) if w.status is WithdrawalStatus.REQUESTED else approved_account(w.member)
    tag = f"wd:{w.key}:{step.value}"
    if step is Step.APPROVE:
        postings = transfer(tag, held, approved_account(w.member), w.amount, memo="withdrawal approved")
    elif step is Step.REJECT:
        postings = transfer(tag, held, member_account(w.member, Wallet.CASH), w.amount, memo="withdrawal rejected")
    else:
        postings = transfer(tag, held, PAID_OUT, w.amount - w.fee, memo="withdrawal paid")
        postings += transfer(f"{tag}:fee", held, PLATFORM_INCOME, w.fee, memo="withdrawal fee")
    return Withdrawal(w.key, w.member, w.amount, w.fee, status), postings


class GiftAsset(str, Enum):
    """What a member may give another (转赠)."""

    POINTS = "POINTS"
    LOVE_VALUE = "LOVE_VALUE"

    @property
    def wallet(self) -> Wallet:
        return Wallet.POINTS if self is GiftAsset.POINTS else Wallet.LOVE_VALUE_AVAILABLE


def give(key: str, giver: str, receiver: str, asset: GiftAsset, amount: Decimal, held: Decimal, settings: WalletSettings) -> tuple[Decimal, list[Posting]]:
    """A member gives `amount` of points / available love value to another; the receiver gets it
    less the fee (`transfer_fee_ratio`, C-3), the fee goes to platform income. Returns the fee."""
    if not settings.enabled:
        raise DomainError(ErrorCode.INVALID_INPUT, "transfers between members are not enabled in the wallet settings", "asset")
    if giver == receiver:
        raise DomainError(ErrorCode.INVALID_INPUT, "a member cannot give to itself", "to")
    if amount <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"a transfer must be greater than 0: {amount}", "amount")
    if settings.transfer_minimum is not None and amount < settings.transfer_minimum:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"the minimum transfer is {settings.transfer_minimum}: {amount}", "amount")
    if amount > held:
        raise DomainError(ErrorCode.INSUFFICIENT_BALANCE, f"member {giver} has {held} of {asset.value}; cannot give {amount}", "amount")
    fee = apply_ratio(amount, settings.transfer_fee_ratio)
    source, kind = member_account(giver, asset.wallet), Asset(asset.value)
    postings = transfer(f"gift:{key}", source, member_account(receiver, asset.wallet), amount - fee, kind, "transfer")
    postings += transfer(f"gift:{key}:fee", source, PLATFORM_INCOME, fee, kind, "transfer fee")
    return fee, postings
