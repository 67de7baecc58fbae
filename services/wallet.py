"""钱包 wallet operations (M-6): withdrawals (request → approve → pay, or reject) and transfers of
points / love value between members.

Each operation is one transaction that first takes the row lock of the wallet it debits (or of
the withdrawal it moves), so one member's operations run one after another and a balance read
after the lock is the one the postings apply to: concurrent requests can never overdraw. Every
step is ledger postings; a key makes it idempotent (the same key with the same content returns
the first result, other content is IDEMPOTENCY_CONFLICT); refusals write nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.ledger import Asset, Wallet, member_account
from domain.money import from_fen, parse_amount
from domain.wallet import GiftAsset, Step, WalletSettings, advance, give, request_withdrawal
from services.intake import digest
from services.model_settings import load_settings
from services.runtime import platform_zone
from store import db
from store import wallet as store
from store.catalog import member_exists
from store.ledger import balances, write_postings

REQUEST, APPROVE, REJECT, PAY, TRANSFER = "withdrawal.request", "withdrawal.approve", "withdrawal.reject", "withdrawal.pay", "wallet.transfer"
EVENTS = (REQUEST, APPROVE, REJECT, PAY, TRANSFER)
_STEPS = {APPROVE: Step.APPROVE, REJECT: Step.REJECT, PAY: Step.PAY}


@dataclass(frozen=True, slots=True)
class WithdrawalView:
    """A withdrawal request with its audit trail (who and when for each step)."""

    id: int
    key: str
    member: str
    amount: Decimal
    fee: Decimal
    status: str
    requested_at: datetime
    requested_by: str
    approved_at: datetime | None
    approved_by: str | None
    rejected_at: datetime | None
    rejected_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    reference: str | None


def _when(value: Any) -> Any:
    """A stored time as an aware UTC datetime (raw SQL gives text on SQLite)."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _view(row: dict[str, Any]) -> WithdrawalView:
    return WithdrawalView(
        int(row["id"]), row["key"], row["member_id"], from_fen(int(row["amount_fen"])), from_fen(int(row["fee_fen"])), row["status"],
        _when(row["requested_at"]), row["requested_by"], _when(row["approved_at"]), row["approved_by"], _when(row["rejected_at"]), row["rejected_by"],
        _when(row["paid_at"]), row["paid_by"], row["reference"],
    )


def _text(value: Any, name: str, longest: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must be a non-empty string of at most {longest} characters", name)
    return value


async def _member(member: Any, name: str = "member") -> str:
    member = _text(member, name, 64)
    if not await member_exists(member):
        raise DomainError(ErrorCode.UNKNOWN_MEMBER, f"member {member} does not exist", name)
    return member


async def _nonnegative(conn: db.Connection, accounts: list[tuple[str, Asset]]) -> None:
    """The invariant the locks keep: no member wallet below zero after the postings."""
    found = await balances(conn, [a for a, _ in accounts])
    for account, asset in accounts:
        assert found.get((account, asset.value), Decimal(0)) >= 0, f"{account} went below zero"


async def _in_turn(work: Callable[[db.Connection], Awaitable[dict[str, Any] | None]]) -> dict[str, Any] | None:
    """One writing transaction; run again on a fresh one (at most 5 times) when it lost a race: a
    twin with the same key committed first (then the prior is found), a deadlock, SQLite busy."""
    for attempt in range(5):
        try:
            async with db.writing() as conn:
                return await work(conn)
        except DomainError:
            raise
        except Exception as exc:
            if attempt == 4 or not (db.is_race(exc) or db.is_busy(exc)):
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


async def withdraw(key: Any, member: Any, amount: Any, now: datetime, by: str) -> WithdrawalView:
    """M-6 request: `amount` (≤ available cash, the wallet settings' minimum and daily limit)
    moves from CASH to WITHDRAWING."""
    key, member = _text(key, "key"), await _member(member)
    value = parse_amount(amount if isinstance(amount, str | Decimal) else str(amount), "amount")
    content = digest({"member": member, "amount": str(value)})
    day = now.astimezone(platform_zone()).date().isoformat()

    async def work(conn: db.Connection) -> dict[str, Any] | None:
        cash = await store.lock_account(conn, member_account(member, Wallet.CASH), Asset.CNY.value)
        prior = await store.withdrawal_row(conn, key)
        if prior is not None:
            if prior["digest"] != content:
                raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"withdrawal key {key} was already used with different content", "key")
            return prior
        settings: WalletSettings = await load_settings("wallet", conn)
        w, postings = request_withdrawal(key, member, value, cash, await store.requested_on(conn, member, day), settings)
        await store.insert_withdrawal(conn, w, content, day, now, by)
        await write_postings(conn, [(p, None) for p in postings], None, now)
        await _nonnegative(conn, [(member_account(member, Wallet.CASH), Asset.CNY)])
        return await store.withdrawal_row(conn, key)

    row = await _in_turn(work)
    assert row is not None
    return _view(row)


async def review(withdrawal: Any, step: Step, now: datetime, by: str, key: Any = None, reference: Any = None) -> WithdrawalView:
    """approve / reject / pay a withdrawal (admin). With the `key` of a step already done on it,
    returns it as it is (idempotent); a step its status does not allow is refused, nothing written."""
    withdrawal = _text(withdrawal, "withdrawal")
    step_key = _text(key, "key") if key is not None else None
    if step is Step.PAY and reference is not None:
        _text(reference, "reference", 128)

    async def work(conn: db.Connection) -> dict[str, Any] | None:
        await store.lock_withdrawal(conn, withdrawal)
        row = await store.withdrawal_row(conn, withdrawal)
        if row is None:
            raise DomainError(ErrorCode.UNKNOWN_WITHDRAWAL, f"withdrawal {withdrawal} does not exist", "withdrawal")
        if step_key is not None and row[f"{step.value}_key"] == step_key:
            return row
        w, postings = advance(store.withdrawal_of(row), step)
        await store.save_step(conn, w, step.value, step_key or f"{withdrawal}:{step.value}", now, by, reference)
        await write_postings(conn, [(p, None) for p in postings], None, now)
        return await store.withdrawal_row(conn, withdrawal)

    row = await _in_turn(work)
    assert row is not None
    return _view(row)


@dataclass(frozen=True, slots=True)
class GiftView:
    key: str
    member: str
    to: str
    asset: str
    amount: Decimal
    fee: Decimal
    created_at: datetime


async def transfer(key: Any, member: Any, to: Any, asset: Any, amount: Any, now: datetime, by: str) -> GiftView:
    """转赠: `member` gives `amount` of points or available love value to `to` (the wallet
    settings' switch, minimum and fee)."""
    key, member, to = _text(key, "key"), await _member(member), await _member(to, "to")
    try:
        kind = GiftAsset(asset)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, f"asset must be one of POINTS, LOVE_VALUE: {asset!r}", "asset") from None
    value = parse_amount(amount if isinstance(amount, str | Decimal) else str(amount), "amount")
    content = digest({"member": member, "to": to, "asset": kind.value, "amount": str(value)})
    source, target = member_account(member, kind.wallet), member_account(to, kind.wallet)

    async def work(conn: db.Connection) -> dict[str, Any] | None:
        locked = {a: await store.lock_account(conn, a, kind.value) for a in sorted({source, target})}  # in account order, as the ledger writer
        held = locked[source]
        prior = await store.gift_row(conn, key)
        if prior is None:
            settings: WalletSettings = await load_settings("wallet", conn)
            fee, postings = give(key, member, to, kind, value, held, settings)
            await store.insert_gift(conn, key, content, member, to, kind.value, value, fee, now, by)
            await write_postings(conn, [(p, None) for p in postings], None, now)
            await _nonnegative(conn, [(source, Asset(kind.value))])
            return await store.gift_row(conn, key)
        if prior["digest"] != content:
            raise DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, f"transfer key {key} was already used with different content", "key")
        return prior

    prior = await _in_turn(work)
    assert prior is not None
    return GiftView(prior["key"], prior["giver_id"], prior["receiver_id"], prior["asset"], from_fen(int(prior["amount_fen"])),
                    from_fen(int(prior["fee_fen"])), _when(prior["created_at"]))


async def apply_event(event: dict[str, Any], now: datetime, by: str = "replay") -> None:
    """The event-file form of these operations (SPEC I-7)."""
    kind = event.get("type")
    if kind == REQUEST:
        await withdraw(event.get("key"), event.get("member"), event.get("amount"), now, by)
    elif kind == TRANSFER:
        await transfer(event.get("key"), event.get("member"), event.get("to"), event.get("asset"), event.get("amount"), now, by)
    else:
        await review(event.get("withdrawal"), _STEPS[str(kind)], now, by, event.get("key"), event.get("reference"))


async def withdrawals(member: str | None = None, status: str | None = None, after_id: int = 0, limit: int = 50) -> list[WithdrawalView]:
    """A member's requests, or the admin's queue (status REQUESTED / APPROVED), oldest first."""
    return [_view(r) for r in await store.withdrawals(member, status, after_id, limit)]


async def withdrawing(member_ids: list[str]) -> dict[str, Decimal]:
    return await store.withdrawing(member_ids)


