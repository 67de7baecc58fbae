"""Double-entry postings (SPEC C-5). Every movement of value is one `Posting` between accounts.

A posting moves `amount` of `asset` out of `source` into `target`; for every asset the sum of all
balances is zero at all times, so platform accounts go negative when they fund rewards.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Asset(str, Enum):
    CNY = "CNY"
    POINTS = "POINTS"
    LOVE_VALUE = "LOVE_VALUE"
    COUPON = "COUPON"
    ENTITLEMENT = "ENTITLEMENT"  # promised, not yet paid rebates (待返权益): liabilities, not money
    APPRECIATION_POINTS = "APPRECIATION_POINTS"  # 增值积分 of the consumption appreciation model (CA-7)


class Wallet(str, Enum):
    """A member's wallet accounts (M-6) and the asset each holds."""

    CASH = "CASH"
    POINTS = "POINTS"
    LOVE_VALUE_AVAILABLE = "LOVE_VALUE_AVAILABLE"
    LOVE_VALUE_FROZEN = "LOVE_VALUE_FROZEN"
    COUPON = "COUPON"
    RECEIVABLE = "RECEIVABLE"
    APPRECIATION_POINTS = "APPRECIATION_POINTS"

    @property
    def asset(self) -> Asset:
        return _WALLET_ASSET[self]


_WALLET_ASSET = {
    Wallet.CASH: Asset.CNY,
    Wallet.POINTS: Asset.POINTS,
    Wallet.LOVE_VALUE_AVAILABLE: Asset.LOVE_VALUE,
    Wallet.LOVE_VALUE_FROZEN: Asset.LOVE_VALUE,
    Wallet.COUPON: Asset.COUPON,
    Wallet.RECEIVABLE: Asset.CNY,
    Wallet.APPRECIATION_POINTS: Asset.APPRECIATION_POINTS,
}


def member_account(member_id: str, wallet: Wallet) -> str:
    return f"member:{member_id}:{wallet.value}"


def pool_account(queue_id: str) -> str:
    """The pool of one queue or model (e.g. the queue rebate's carried pool)."""
    return f"pool:{queue_id}"


def platform_account(name: str) -> str:
    """Platform income / expense accounts, e.g. `platform:income`, `platform:expense:queue_rebate`."""
    return f"platform:{name}"


PLATFORM_INCOME = platform_account("income")


@dataclass(frozen=True, slots=True)
class Posting:
    """One transfer: `amount` (> 0, 2 dp) of `asset` from `source` to `target`, with a unique key."""

    key: str
    source: str
    target: str
    asset: Asset
    amount: Decimal
    memo: str = ""

    def __post_init__(self) -> None:
        assert self.amount > 0, f"posting {self.key} must move a positive amount"
        assert self.source != self.target, f"posting {self.key} moves nothing"


def transfer(key: str, source: str, target: str, amount: Decimal, asset: Asset = Asset.CNY, memo: str = "") -> list[Posting]:
    """A posting list of one transfer, or none when the amount is zero."""
    return [Posting(key, source, target, asset, amount, memo)] if amount > 0 else []
