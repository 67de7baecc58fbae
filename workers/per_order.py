"""What the per-order models (order dividend, union queue) load for a batch: the orders and the
orderers' referrers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.money import from_fen
from store.sql import fetch
from workers.batch import Batch


@dataclass(frozen=True, slots=True)
class OrderFacts:
    id: str
    member: str
    referrer: str | None
    amount: Decimal
    profit: Decimal | None


async def order_facts(batch: Batch) -> dict[str, OrderFacts]:
    ids = sorted({str(i.payload["order"]) for i in batch.items if "order" in i.payload})
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = await fetch(
        batch.conn,
        f'SELECT o.id AS id, o.member_id AS member_id, o.amount_fen AS amount_fen, o.profit_fen AS profit_fen, m.referrer_id AS referrer_id '
        f'FROM "order" o JOIN member m ON m.id = o.member_id WHERE o.id IN ({marks})',
        ids,
    )
    return {
        r["id"]: OrderFacts(r["id"], r["member_id"], r["referrer_id"], from_fen(int(r["amount_fen"])),
                            from_fen(int(r["profit_fen"])) if r["profit_fen"] is not None else None)
        for r in rows
    }
