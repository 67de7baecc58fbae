"""The read models' queries (what `services.queries` offers the GraphQL API and the CLI): wallets,
entitlements, queues, ledger, tickets, members, settings, forecasts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from domain.ledger import Wallet, member_account
from domain.money import ZERO, from_fen
from store.ledger import zero_sum
from store.reads import reads
from store.sql import fetch, fetch_rows

WALLET_FIELDS = {
    Wallet.CASH: "cash", Wallet.POINTS: "points", Wallet.LOVE_VALUE_AVAILABLE: "love_value_available",
    Wallet.LOVE_VALUE_FROZEN: "love_value_frozen", Wallet.COUPON: "coupon", Wallet.RECEIVABLE: "receivable",
    Wallet.APPRECIATION_POINTS: "appreciation_points",
}


def _conn() -> Any:
    return reads()  # the request's pinned connection inside `read_scope`


async def wallets(member_ids: list[str]) -> dict[str, dict[str, Decimal]]:
    """M-6 balances of each member (zero where nothing moved yet)."""
    out = {m: {name: ZERO for name in WALLET_FIELDS.values()} for m in member_ids}
    if not member_ids:
        return out
    accounts = _wallet_accounts(member_ids)
    marks = ", ".join("?" for _ in accounts)
    for r in await fetch(_conn(), f"SELECT account, amount_fen FROM balance WHERE account IN ({marks})", list(accounts)):
        member, name = accounts[r["account"]]
        out[member][name] = from_fen(int(r["amount_fen"]))
    return out


def _wallet_accounts(member_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each member's wallet accounts: account → (member, wallet field)."""
    return {member_account(m, w): (m, name) for m in member_ids for w, name in WALLET_FIELDS.items()}


async def members_with_wallets(ids: list[str]) -> tuple[dict[str, MemberView], dict[str, dict[str, Decimal]]]:
    """`members` and `wallets` of these members in one statement (a member read with its wallets)."""
    profiles: dict[str, MemberView] = {}
    out = {m: dict(_ZERO_WALLETS) for m in ids}
    if not ids:
        return profiles, out
    accounts = _wallet_accounts(ids)
    for r in await fetch_rows(_conn(), _members_with_wallets_sql(len(ids), len(accounts)), [*ids, *accounts]):
        amount = r["amount_fen"]
        if amount is None:
            profiles[r["id"]] = MemberView(r["id"], r["phone"], r["nickname"], r["avatar"], r["level"], r["referrer_id"])
        else:
            member, name = accounts[r["id"]]
            out[member][name] = from_fen(int(amount))
    return profiles, out


_ZERO_WALLETS = {name: ZERO for name in WALLET_FIELDS.values()}


@lru_cache(maxsize=64)
def _members_with_wallets_sql(members: int, accounts: int) -> str:
    """The statement of `members_with_wallets` for so many members and wallet accounts, built once per count."""
    return (f"SELECT id, phone, nickname, avatar, level, referrer_id, NULL AS amount_fen FROM member WHERE id IN ({', '.join(['?'] * members)}) "
            f"UNION ALL SELECT account, NULL, NULL, NULL, NULL, NULL, amount_fen FROM balance WHERE account IN ({', '.join(['?'] * accounts)})")


@dataclass(slots=True)
class EntitlementView:
    key: str
    member: str
    model: str
    queue: str
    position: int
    total: Decimal
    received: Decimal
    status: str
    ratio: str
    ratio_source: str
    order: str

    @property
    def remaining(self) -> Decimal:
        return self.total - self.received if self.status == "WAITING" else ZERO


def _view(r: dict[str, Any]) -> EntitlementView:
    return EntitlementView(
        r["key"], r["member_id"], r["model"], r["queue_id"], int(r["position"]), from_fen(int(r["total_fen"])),
        from_fen(int(r["received_fen"])), r["status"], r["ratio"], r["ratio_source"], r["order_id"],
    )


OUTSTANDING = ("WAITING", "ACTIVE")
FROM_HEAD = "position >= COALESCE((SELECT head FROM queue WHERE id = ?), 0)"  # no entitlement before a queue's head waits
ENTITLEMENT_SELECT = "SELECT key, member_id, model, queue_id, position, total_fen, received_fen, status, ratio, ratio_source, order_id FROM entitlement"


async def entitlements(member: str | None = None, queue: str | None = None, status: str | None = None,
                       after_position: int = 0, limit: int = 1000, after_queue: str = "") -> list[EntitlementView]:
    """Entitlements by member and/or queue, in (queue, position) order, keyset-paginated on that
    pair: pass the last row's queue and position as `after_queue` / `after_position`."""
    after_queue = after_queue or queue or ""
    where, params = ["(queue_id > ? OR (queue_id = ? AND position > ?))"], [after_queue, after_queue, after_position]
    for column, value in (("member_id", member), ("queue_id", queue), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if queue is not None and status in OUTSTANDING:
        where.append(FROM_HEAD)  # what no longer waits is not in an index: the scan starts at the head
        params.append(queue)
    rows = await fetch(_conn(), f"{ENTITLEMENT_SELECT} WHERE {' AND '.join(where)} ORDER BY queue_id, position LIMIT ?", [*params, limit])
    return [_view(r) for r in rows]


async def entitlement(key: str, model: str = "queue_rebate") -> EntitlementView | None:
    rows = await fetch(_conn(), f"{ENTITLEMENT_SELECT} WHERE model = ? AND key = ?", (model, key))
    return _view(rows[0]) if rows else None


async def pools() -> dict[str, Decimal]:
    """Every queue's / model's pool balance (CNY), named by queue id; zero when it holds nothing."""
    out = {r["id"]: ZERO for r in await fetch(_conn(), "SELECT id FROM queue ORDER BY id")}
    rows = await fetch(_conn(), "SELECT account, amount_fen FROM balance WHERE account LIKE 'pool:%' AND asset = 'CNY' ORDER BY account")
    out.update({r["account"].split(":", 1)[1]: from_fen(int(r["amount_fen"])) for r in rows})
    return out


async def queues() -> list[dict[str, Any]]:
    rows = await fetch(_conn(), "SELECT id, model, head, tail, pool_fen, version FROM queue ORDER BY id")
    return [{**r, "pool": from_fen(int(r["pool_fen"]))} for r in rows]


async def queue_page(after: str, limit: int, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Queues in id order after the id `after` (keyset), of the ids `only` when given, with each one's
    outstanding count (kept by the triggers), unpaid liability and, for a product's own queue, whether
    the product is listed."""
    where, params = "WHERE id > ?", [after]
    if only is not None:
        if not only:
            return []
        where += f" AND id IN ({', '.join('?' for _ in only)})"
        params += only
    rows = await fetch(_conn(), f"SELECT id, model, head, tail, pool_fen, version FROM queue {where} ORDER BY id LIMIT ?", (*params, limit))
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    counts = {r["queue_id"]: int(r["outstanding"]) for r in await fetch(_conn(), f"SELECT queue_id, outstanding FROM liability_count WHERE queue_id IN ({marks})", ids)}
    unpaid = {r["account"]: int(r["amount_fen"]) for r in await fetch(
        _conn(), f"SELECT account, amount_fen FROM balance WHERE asset = 'ENTITLEMENT' AND account IN ({marks})", [f"liability:{i}" for i in ids])}
    products = {i.split(":", 2)[2]: i for i in ids if i.startswith("qr:PRODUCT:")}
    listed: dict[str, bool] = {}
    if products:
        found = await fetch(_conn(), f"SELECT id, listed FROM product WHERE id IN ({', '.join('?' for _ in products)})", list(products))
        listed = {products[r["id"]]: bool(r["listed"]) for r in found}
    return [{**r, "pool": from_fen(int(r["pool_fen"])), "outstanding": counts.get(r["id"], 0), "unpaid": from_fen(unpaid.get(f"liability:{r['id']}", 0)),
             "listed": listed.get(r["id"]) if r["id"].startswith("qr:PRODUCT:") else None} for r in rows]


async def ledger_check() -> dict[str, tuple[Decimal, Decimal]]:
    """Per asset: (sum of all balances, total drift of balances from their transfers)."""
    return await zero_sum(_conn())


async def is_zero_sum() -> bool:
    return all(total == 0 and drift == 0 for total, drift in (await ledger_check()).values())


async def ledger(account_prefix: str, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Transfers touching accounts that start with `account_prefix`, oldest first, keyset-paginated."""
    like = account_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await fetch(
        _conn(),
        "SELECT id, key, source, target, asset, amount_fen, memo, event_id, queue_id, created_at FROM transfer "
        "WHERE id > ? AND (source LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\') ORDER BY id LIMIT ?",
        (after_id, like, like, limit),
    )
    return [{**r, "amount": from_fen(int(r["amount_fen"]))} for r in rows]


async def ticket(event_id: int) -> dict[str, Any] | None:
    """I-2: an event's settlement status (PENDING until every queue settled it) and its transfers."""
    events = await fetch(_conn(), "SELECT id, key, type, occurred_at FROM event WHERE id = ?", (event_id,))
    if not events:
        return None
    items = await fetch(_conn(), "SELECT queue_id, status, error FROM inbox_item WHERE event_id = ? ORDER BY id", (event_id,))
    statuses = {i["status"] for i in items}
    status = "PENDING" if "PENDING" in statuses else "FAILED" if "FAILED" in statuses else "DONE"
    transfers = await fetch(_conn(), "SELECT key, source, target, asset, amount_fen, memo FROM transfer WHERE event_id = ? ORDER BY id", (event_id,))
    return {
        **events[0], "status": status, "errors": [i["error"] for i in items if i["error"]],
        "transfers": [{**t, "amount": from_fen(int(t["amount_fen"]))} for t in transfers],
    }


async def ticket_owner(event_id: int) -> tuple[str | None, str | None] | None:
    """I-2 / I-3: the member and the store an event (ticket) concerns, from its payload or else its
    order; None when there is no such event."""
    rows = await fetch(_conn(), "SELECT payload FROM event WHERE id = ?", (event_id,))
    if not rows:
        return None
    raw = rows[0]["payload"]
    payload: dict[str, Any] = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw or {})
    member, store = payload.get("member"), payload.get("store")
    order = payload.get("order")
    if order is not None and (member is None or store is None):
        found = await fetch(_conn(), 'SELECT member_id, store_id FROM "order" WHERE id = ?', (str(order),))
        if found:
            member, store = member or found[0]["member_id"], store or found[0]["store_id"]
    return (str(member) if member is not None else None, str(store) if store is not None else None)


@dataclass(frozen=True, slots=True)
class MemberView:
    id: str
    phone: str | None
    nickname: str | None
    avatar: str | None
    level: str | None
    referrer_id: str | None


async def members(ids: list[str]) -> dict[str, MemberView]:
    """Member profiles (M-1) by id, for the API's per-request loaders."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = await fetch(_conn(), f"SELECT id, phone, nickname, avatar, level, referrer_id FROM member WHERE id IN ({marks})", ids)
    return {r["id"]: MemberView(**r) for r in rows}


async def stored_settings(model: str) -> tuple[dict[str, Any], int]:
    """A model's stored settings values and their version (0: never set, all defaults)."""
    rows = await fetch(_conn(), "SELECT \"values\" AS v, version FROM model_settings WHERE model = ?", (model,))
    if not rows:
        return {}, 0
    value = rows[0]["v"]
    return (json.loads(value) if isinstance(value, (str, bytes)) else dict(value)), int(rows[0]["version"])


async def queue(queue_id: str) -> dict[str, Any] | None:
    rows = await fetch(_conn(), "SELECT id, model, head, tail, pool_fen, version FROM queue WHERE id = ?", (queue_id,))
    return {**rows[0], "pool": from_fen(int(rows[0]["pool_fen"]))} if rows else None


FORECAST_DAYS = 7  # UQ-5: the trailing window of daily pool inflows


async def union_queue_inflow(now: datetime, days: int = FORECAST_DAYS) -> Decimal:
    """UQ-5: the trailing average daily inflow of the union pool (contributions), floored to 0.01."""
    from domain.union_queue import POOL, average_daily_inflow

    rows = await fetch(_conn(), "SELECT COALESCE(SUM(amount_fen), 0) AS total FROM transfer WHERE target = ? AND memo = 'pool contribution' AND created_at >= ?",
                       (POOL, now - timedelta(days=days)))
    total = from_fen(int(rows[0]["total"]))
    return average_daily_inflow([total] + [ZERO] * (days - 1))


async def union_queue_forecast(member: str, now: datetime) -> list[tuple[EntitlementView, Decimal, int | None]]:
    """UQ-5 for each of a member's WAITING union-queue entitlements: what is still owed up to and
    including it (its place in line, in money) and the forecast days to its payout."""
    from domain.union_queue import forecast_days

    inflow = await union_queue_inflow(now)
    pool = (await pools()).get("uq", ZERO)
    out = []
    for e in await entitlements(member=member, queue="uq", status="WAITING"):
        rows = await fetch(_conn(), "SELECT COALESCE(SUM(total_fen - received_fen - boost_fen), 0) AS ahead FROM entitlement "
                           f"WHERE queue_id = 'uq' AND status = 'WAITING' AND {FROM_HEAD} AND position <= ?", ("uq", e.position))
        ahead = from_fen(int(rows[0]["ahead"]))
        out.append((e, ahead, forecast_days(max(ahead - pool, ZERO), inflow) if ahead > pool else 0))
    return out


@dataclass(frozen=True, slots=True)
class EntitlementDecisions:
    """What was decided on a queue rebate entitlement besides its payouts (QR-12, QR-14, QR-15,
    C-10): the lottery it may draw from ("" when none), the ratio drawn and when, and what its
    remainder was exchanged / converted to and how much of it."""

    lottery_source: str
    drawn_ratio: str | None
    drawn_at: datetime | None
    exchanged_to: str | None
    exchanged: Decimal | None


def _aware_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    from datetime import UTC

    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


async def entitlement_decisions(keys: list[tuple[str, str]]) -> dict[tuple[str, str], EntitlementDecisions]:
    """EntitlementDecisions by (model, key), for a page of entitlements (missing keys are left out)."""
    wanted = set(keys)
    out: dict[tuple[str, str], EntitlementDecisions] = {}
    names = sorted({key for _, key in wanted})
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = await fetch(_conn(), f"SELECT model, key, lottery_source, drawn_ratio, drawn_at, exchanged_to, exchanged_fen FROM entitlement WHERE key IN ({marks})", chunk)
        for r in rows:
            if (r["model"], r["key"]) in wanted:
                out[(r["model"], r["key"])] = EntitlementDecisions(
                    r["lottery_source"] or "", str(r["drawn_ratio"]) if r["drawn_ratio"] is not None else None, _aware_utc(r["drawn_at"]),
                    r["exchanged_to"], from_fen(int(r["exchanged_fen"])) if r["exchanged_fen"] is not None else None,
                )
    return out


async def waiting_summary(queue_id: str) -> tuple[int, Decimal]:
    """A queue's WAITING entitlements: how many, and their unpaid remainders in all (QR-18)."""
    rows = await fetch(_conn(), "SELECT COUNT(*) AS n, COALESCE(SUM(total_fen - received_fen), 0) AS remaining FROM entitlement "
                       f"WHERE queue_id = ? AND status = 'WAITING' AND {FROM_HEAD}", (queue_id, queue_id))
    return int(rows[0]["n"]), from_fen(int(rows[0]["remaining"]))


async def member_ids() -> list[str]:
    """Every member's id, in order."""
    return [r["id"] for r in await fetch(_conn(), "SELECT id FROM member ORDER BY id")]


async def entitlement_audit() -> list[dict[str, Any]]:
    """The entitlements on which a lottery or an exchange decided something (C-10)."""
    return await fetch(_conn(), "SELECT model, key, drawn_ratio, drawn_at, exchanged_to, exchanged_fen FROM entitlement "
                       "WHERE drawn_ratio IS NOT NULL OR exchanged_to IS NOT NULL")
