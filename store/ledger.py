"""The ledger writer and reader (C-5): transfers and the balances kept beside them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain.ledger import Asset, Posting, Wallet
from domain.money import from_fen, to_fen
from store.sql import fetch, fetch_rows, insert_rows, upsert_rows

ASSET_VALUES = {a: a.value for a in Asset}
TRANSFER_COLUMNS = {  # name → PostgreSQL type (`insert_rows`)
    "key": "text", "source": "text", "target": "text", "asset": "text", "amount_fen": "bigint", "memo": "text", "event_id": "bigint", "queue_id": "text",
    "created_at": "timestamptz",
}
UPSERT_BALANCE = (
    "INSERT INTO balance (account, asset, amount_fen) VALUES (?, ?, ?) "
    "ON CONFLICT (account, asset) DO UPDATE SET amount_fen = balance.amount_fen + excluded.amount_fen"
)
UPSERT_BALANCES = (  # PostgreSQL: the same over arrays (unnest keeps their order: the accounts' sorted order)
    "INSERT INTO balance (account, asset, amount_fen) SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) "
    "ON CONFLICT (account, asset) DO UPDATE SET amount_fen = balance.amount_fen + excluded.amount_fen"
)


async def write_postings(
    conn: BaseDBAsyncClient, postings: Iterable[tuple[Posting, int | None]], queue_id: str | None, now: datetime
) -> int:
    """Insert transfers (unique keys: a replayed posting fails the whole transaction) and move
    balances, accounts in sorted order so that concurrent writers never deadlock."""
    return await write_transfers(conn, transfer_rows(postings, queue_id, now))


def transfer_rows(postings: Iterable[tuple[Posting, int | None]], queue_id: str | None, now: datetime) -> list[tuple[Any, ...]]:
    """The transfer rows of postings (each with its event), in TRANSFER_COLUMNS' order."""
    return [(p.key, p.source, p.target, ASSET_VALUES[p.asset], to_fen(p.amount), p.memo, event_id, queue_id, now) for p, event_id in postings]


async def write_transfers(conn: BaseDBAsyncClient, rows: list[tuple[Any, ...]]) -> int:
    """`write_postings` of transfer rows (`transfer_rows`), of one batch or of several settled in
    one transaction: one upsert moves every balance they touch, once per account."""
    deltas: defaultdict[tuple[str, str], int] = defaultdict(int)
    for _, source, target, asset, fen, *_ in rows:
        deltas[(source, asset)] -= fen
        deltas[(target, asset)] += fen
    await insert_rows(conn, "transfer", TRANSFER_COLUMNS, rows)  # on PostgreSQL one statement (COPY for a large batch: a daily settlement's chunk)
    await _move_balances(conn, [(a, s, d) for (a, s), d in sorted(deltas.items()) if d])
    await _count_days(conn, rows)
    return len(rows)


async def _move_balances(conn: BaseDBAsyncClient, changes: list[tuple[str, str, int]]) -> None:
    """One upsert per account, in the accounts' order; on PostgreSQL one statement over arrays (a
    daily settlement's chunk moves thousands of member balances)."""
    await upsert_rows(conn, UPSERT_BALANCE, UPSERT_BALANCES, changes)


TRACKED = ("liability:", "pool:")  # I-5: the accounts whose daily inflow and outflow are kept
_ADD_DAY = (
    "ON CONFLICT (account, asset, day) DO UPDATE SET "
    "inflow_fen = ledger_day.inflow_fen + excluded.inflow_fen, outflow_fen = ledger_day.outflow_fen + excluded.outflow_fen, inflows = ledger_day.inflows + excluded.inflows"
)
UPSERT_DAY = f"INSERT INTO ledger_day (account, asset, day, inflow_fen, outflow_fen, inflows) VALUES (?, ?, ?, ?, ?, ?) {_ADD_DAY}"
UPSERT_DAYS = (  # PostgreSQL: the same over arrays, in the days' sorted order (each key once)
    "INSERT INTO ledger_day (account, asset, day, inflow_fen, outflow_fen, inflows) "
    f"SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[]) {_ADD_DAY}"
)


async def _count_days(conn: BaseDBAsyncClient, rows: list[tuple[Any, ...]]) -> None:
    """Per tracked account and UTC day (of each transfer's time): the amounts in, out, and how many transfers came in."""
    days: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for _key, source, target, asset, fen, _memo, _event, _queue, now in rows:
        day = now.astimezone(UTC).date().isoformat()
        if target.startswith(TRACKED):
            entry = days[(target, asset, day)]
            entry[0], entry[2] = entry[0] + fen, entry[2] + 1
        if source.startswith(TRACKED):
            days[(source, asset, day)][1] += fen
    await upsert_rows(conn, UPSERT_DAY, UPSERT_DAYS, [(a, s, day, *v) for (a, s, day), v in sorted(days.items())])


async def balances(conn: BaseDBAsyncClient, accounts: list[str]) -> dict[tuple[str, str], Decimal]:
    if not accounts:
        return {}
    marks = ", ".join("?" for _ in accounts)
    rows = await fetch(conn, f"SELECT account, asset, amount_fen FROM balance WHERE account IN ({marks})", accounts)
    return {(r["account"], r["asset"]): from_fen(int(r["amount_fen"])) for r in rows}


async def zero_sum(conn: BaseDBAsyncClient) -> dict[str, tuple[Decimal, Decimal]]:
    """Per asset: the sum of all balances and the sum over all transfers' net effect (both 0)."""
    by_balance = await fetch(conn, "SELECT asset, SUM(amount_fen) AS total FROM balance GROUP BY asset")
    out: dict[str, tuple[Decimal, Decimal]] = {r["asset"]: (from_fen(int(r["total"])), Decimal("0.00")) for r in by_balance}
    # Recompute every account from the transfers themselves, so a balance that drifted from its
    # transfers shows up as a difference even when the balances still sum to zero.
    drift = await fetch(
        conn,
        "SELECT b.asset AS asset, SUM(ABS(b.amount_fen - COALESCE(t.net, 0))) AS drift FROM balance b LEFT JOIN ("
        " SELECT account, asset, SUM(delta) AS net FROM ("
        "  SELECT target AS account, asset, amount_fen AS delta FROM transfer"
        "  UNION ALL SELECT source AS account, asset, -amount_fen AS delta FROM transfer) m"
        " GROUP BY account, asset) t ON t.account = b.account AND t.asset = b.asset GROUP BY b.asset",
    )
    for r in drift:
        total = out.get(r["asset"], (Decimal("0.00"), Decimal("0.00")))[0]
        out[r["asset"]] = (total, from_fen(int(r["drift"] or 0)))
    return out


@dataclass(frozen=True, slots=True)
class MemberAccount:
    """A member's wallet account named by a column of the rows (`post_rows`)."""

    column: str
    wallet: Wallet


Account = str | MemberAccount


@dataclass(frozen=True, slots=True)
class Leg:
    """One transfer for each row of a query (`post_rows`): its key is `key_prefix` + the row's `key`,
    its amount the row's `fen`, from `source` to `target` (a fixed account or a member's). A `whole`
    leg (fixed accounts only) is one transfer of the rows' sum instead, keyed `key_prefix` alone."""

    key_prefix: str
    source: Account
    target: Account
    asset: Asset
    memo: str
    whole: bool = False

    def __post_init__(self) -> None:
        if self.whole and not (isinstance(self.source, str) and isinstance(self.target, str)):
            raise ValueError("a whole leg moves between fixed accounts")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _account_sql(account: Account) -> str:
    if isinstance(account, MemberAccount):
        return f"'member:' || r.{account.column} || {_literal(':' + account.wallet.value)}"
    return _literal(account)


def _moves(account: Account, asset: Asset, sign: str) -> str:
    """The balance changes of `account` over the rows: one sum for a fixed account, one per row for a member's."""
    if isinstance(account, MemberAccount):
        return f"SELECT {_account_sql(account)}, {_literal(asset.value)}, {sign}r.fen FROM rows r"
    return f"SELECT {_literal(account)}, {_literal(asset.value)}, {sign}SUM(r.fen) FROM rows r"


def _day_moves(legs: Sequence[Leg]) -> str:
    """Per tracked (fixed) account of the legs: the inflow, the outflow and the count of transfers in."""
    parts = [f"SELECT {_literal(leg.target)}, {_literal(leg.asset.value)}, SUM(r.fen), 0, {'LEAST(COUNT(*), 1)' if leg.whole else 'COUNT(*)'} FROM rows r"
             for leg in legs if isinstance(leg.target, str) and leg.target.startswith(TRACKED)]
    parts += [f"SELECT {_literal(leg.source)}, {_literal(leg.asset.value)}, 0, SUM(r.fen), 0 FROM rows r"
              for leg in legs if isinstance(leg.source, str) and leg.source.startswith(TRACKED)]
    return " UNION ALL ".join(parts)


async def post_rows(conn: BaseDBAsyncClient, rows_sql: str, params: Sequence[Any], legs: Sequence[Leg], event_id: int | None, queue_id: str | None,
                    now: datetime, returning: str) -> Sequence[Mapping[str, Any]]:
    """PostgreSQL: `write_postings` for transfers generated in SQL, in one statement. `rows_sql`
    (a query or an UPDATE … RETURNING, with `?` placeholders for `params`) yields rows with a `key`
    and a positive `fen`; every leg makes one transfer per row (a `whole` leg one for them all). The transfers are inserted (a key
    already there fails the statement), the balances move by their sums per account (in the
    accounts' byte order, as `write_postings` sorts them) and the tracked accounts' day by their
    inflows and outflows (when no row comes, nothing moves). Returns `returning` (columns of the
    rows `r`) for every row."""
    transfers = " UNION ALL ".join(
        f"SELECT ?::text, {_account_sql(leg.source)}, {_account_sql(leg.target)}, {_literal(leg.asset.value)}, SUM(r.fen), {_literal(leg.memo)}, "
        "?::bigint, ?::text, ?::timestamptz FROM rows r HAVING COUNT(*) > 0" if leg.whole else
        f"SELECT ?::text || r.key, {_account_sql(leg.source)}, {_account_sql(leg.target)}, {_literal(leg.asset.value)}, r.fen, {_literal(leg.memo)}, "
        "?::bigint, ?::text, ?::timestamptz FROM rows r" for leg in legs
    )
    moves = " UNION ALL ".join(_moves(leg.target, leg.asset, "") + " UNION ALL " + _moves(leg.source, leg.asset, "-") for leg in legs)
    order = 'ORDER BY account COLLATE "C", asset COLLATE "C"'
    sql = (
        f"WITH rows AS ({rows_sql}), t AS (INSERT INTO transfer ({', '.join(TRANSFER_COLUMNS)}) {transfers}), "
        f"b AS (INSERT INTO balance (account, asset, amount_fen) SELECT account, asset, SUM(delta) FROM ({moves}) m (account, asset, delta) "
        f"GROUP BY account, asset HAVING SUM(delta) <> 0 {order} "
        "ON CONFLICT (account, asset) DO UPDATE SET amount_fen = balance.amount_fen + excluded.amount_fen)"
    )
    if days := _day_moves(legs):
        sql += (
            ", d AS (INSERT INTO ledger_day (account, asset, day, inflow_fen, outflow_fen, inflows) SELECT account, asset, ?::text, SUM(i), SUM(o), SUM(n) "
            f"FROM ({days}) m (account, asset, i, o, n) WHERE EXISTS (SELECT 1 FROM rows) GROUP BY account, asset {order} "
            "ON CONFLICT (account, asset, day) DO UPDATE SET inflow_fen = ledger_day.inflow_fen + excluded.inflow_fen, "
            "outflow_fen = ledger_day.outflow_fen + excluded.outflow_fen, inflows = ledger_day.inflows + excluded.inflows)"
        )
    sql += f" SELECT {returning} FROM rows r"
    day = [now.astimezone(UTC).date().isoformat()] if days else []
    keyed = [value for leg in legs for value in (leg.key_prefix, event_id, queue_id, now)]
    return await fetch_rows(conn, sql, [*params, *keyed, *day])
