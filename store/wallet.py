"""钱包 tables: withdrawal requests with their audit (who, when), member-to-member transfers, and
the lock that serializes one member's wallet operations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.money import ZERO, from_fen, to_fen
from domain.wallet import Withdrawal, WithdrawalStatus
from store.db import Connection, default
from store.sql import execute, fetch

WITHDRAWAL_COLUMNS = ("id, key, digest, member_id, amount_fen, fee_fen, status, day, requested_at, requested_by, approved_at, approved_by, approve_key, "
                      "rejected_at, rejected_by, reject_key, paid_at, paid_by, pay_key, reference")


async def lock_account(conn: Connection, account: str, asset: str) -> Decimal:
    """Take the row lock of a balance (PostgreSQL; SQLite's writer lock already serializes) and
    return the balance as it stands once this transaction holds it (0 when nothing moved yet)."""
    await execute(conn, "UPDATE balance SET amount_fen = amount_fen WHERE account = ? AND asset = ?", (account, asset))
    rows = await fetch(conn, "SELECT amount_fen FROM balance WHERE account = ? AND asset = ?", (account, asset))
    return from_fen(int(rows[0]["amount_fen"])) if rows else ZERO


async def withdrawal_row(conn: Connection, key: str) -> dict[str, Any] | None:
    rows = await fetch(conn, f"SELECT {WITHDRAWAL_COLUMNS} FROM withdrawal WHERE key = ?", (key,))
    return rows[0] if rows else None


def withdrawal_of(row: dict[str, Any]) -> Withdrawal:
    return Withdrawal(row["key"], row["member_id"], from_fen(int(row["amount_fen"])), from_fen(int(row["fee_fen"])), WithdrawalStatus(row["status"]))


async def requested_on(conn: Connection, member: str, day: str) -> Decimal:
    """A member's requests of one local day, rejected ones left out (the daily limit)."""
    rows = await fetch(conn, "SELECT COALESCE(SUM(amount_fen), 0) AS total FROM withdrawal WHERE member_id = ? AND day = ? AND status <> 'REJECTED'", (member, day))
    return from_fen(int(rows[0]["total"]))


async def insert_withdrawal(conn: Connection, w: Withdrawal, digest: str, day: str, now: datetime, by: str) -> None:
    await execute(conn, "INSERT INTO withdrawal (key, digest, member_id, amount_fen, fee_fen, status, day, requested_at, requested_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (w.key, digest, w.member, to_fen(w.amount), to_fen(w.fee), w.status.value, day, now, by))


async def save_step(conn: Connection, w: Withdrawal, step: str, step_key: str, now: datetime, by: str, reference: str | None) -> None:
    """The new status and who did the step when, with its key (a replayed step finds it)."""
    column = {"approve": "approved", "reject": "rejected", "pay": "paid"}[step]
    await execute(conn, f"UPDATE withdrawal SET status = ?, {column}_at = ?, {column}_by = ?, {step}_key = ?, reference = COALESCE(?, reference) WHERE key = ?",
                  (w.status.value, now, by, step_key, reference, w.key))


async def withdrawals(member: str | None, status: str | None, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Withdrawals by member and / or status, oldest first, keyset-paginated on the id."""
    where, params = ["id > ?"], [after_id]
    for column, value in (("member_id", member), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return await fetch(default(), f"SELECT {WITHDRAWAL_COLUMNS} FROM withdrawal WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", [*params, limit])


async def gift_row(conn: Connection, key: str) -> dict[str, Any] | None:
    rows = await fetch(conn, "SELECT key, digest, giver_id, receiver_id, asset, amount_fen, fee_fen, created_at, created_by FROM member_transfer WHERE key = ?", (key,))
    return rows[0] if rows else None


async def insert_gift(conn: Connection, key: str, digest: str, giver: str, receiver: str, asset: str, amount: Decimal, fee: Decimal, now: datetime, by: str) -> None:
    await execute(conn, "INSERT INTO member_transfer (key, digest, giver_id, receiver_id, asset, amount_fen, fee_fen, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (key, digest, giver, receiver, asset, to_fen(amount), to_fen(fee), now, by))


async def withdrawing(member_ids: list[str]) -> dict[str, Decimal]:
    """Per member, the cash on its way out: requested or approved, not yet paid (M-6)."""
    out = {m: ZERO for m in member_ids}
    if not member_ids:
        return out
    accounts = {f"member:{m}:{kind}": m for m in member_ids for kind in ("WITHDRAWING", "WITHDRAWAL_APPROVED")}
    marks = ", ".join("?" for _ in accounts)
    for r in await fetch(default(), f"SELECT account, amount_fen FROM balance WHERE asset = 'CNY' AND account IN ({marks})", list(accounts)):
        out[accounts[r["account"]]] += from_fen(int(r["amount_fen"]))
    return out


async def lock_withdrawal(conn: Connection, key: str) -> None:
    """The withdrawal's row lock, so two reviews of one request run one after the other."""
    await execute(conn, "UPDATE withdrawal SET status = status WHERE key = ?", (key,))
