"""What the per-order models (order dividend, union queue) load for a batch: the orders and the
orderers' referrers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.money import from_fen
from services.batch import Batch
from store.orders import line_amounts, orders_with_referrers


@dataclass(frozen=True, slots=True)
class OrderFacts:
    id: str
    member: str
    referrer: str | None
    amount: Decimal
    profit: Decimal | None
    lines: tuple[tuple[str | None, Decimal], ...] = ()

    def taking_part(self, excluded: frozenset[str]) -> OrderFacts | None:
        """The order as a model sees it when some products opt out: the amount of the other lines
        (profit in proportion); None when no line takes part."""
        if not excluded:
            return self
        kept = sum((paid for product, paid in self.lines if product not in excluded), Decimal("0.00"))
        if kept <= 0:
            return None
        if kept == self.amount:
            return self
        from domain.money import round_half_up

        profit = round_half_up(self.profit * kept / self.amount) if self.profit is not None and self.amount > 0 else self.profit
        return OrderFacts(self.id, self.member, self.referrer, kept, profit, self.lines)


async def order_facts(batch: Batch) -> dict[str, OrderFacts]:
    ids = sorted({str(i.payload["order"]) for i in batch.items if "order" in i.payload})
    if not ids:
        return {}
    rows = await orders_with_referrers(batch.conn, ids)
    lines = await line_amounts(batch.conn, ids)
    return {
        r["id"]: OrderFacts(r["id"], r["member_id"], r["referrer_id"], from_fen(int(r["amount_fen"])),
                            from_fen(int(r["profit_fen"])) if r["profit_fen"] is not None else None, tuple(lines.get(r["id"], ())))
        for r in rows
    }
