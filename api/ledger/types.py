"""Ledger types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from api.scalars import Money


def _when(value: Any) -> datetime | None:
    """Raw SQL gives a datetime on PostgreSQL and text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@strawberry.type(description="C-5: one double-entry posting of `amount` of `asset` from `source` to `target`.")
class Transfer:
    key: str
    source: str
    target: str
    asset: str
    amount: Money
    memo: str
    id: strawberry.ID | None = None
    event: strawberry.ID | None = strawberry.field(default=None, description="The ticket (event) that caused it.")
    queue: str | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Transfer:
        return cls(
            key=row["key"],
            source=row["source"],
            target=row["target"],
            asset=row["asset"],
            amount=row["amount"],
            memo=row["memo"],
            id=_opt_id(row.get("id")),
            event=_opt_id(row.get("event_id")),
            queue=row.get("queue_id"),
            created_at=_when(row.get("created_at")),
        )


def _opt_id(value: Any) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


@strawberry.type(description="Per asset: the sum of all balances and how far balances drifted from their transfers (both 0).")
class AssetCheck:
    asset: str
    total: Money
    drift: Money


@strawberry.type
class LedgerCheck:
    assets: list[AssetCheck]
    zero_sum: bool = strawberry.field(description="True when every asset sums to zero and no balance drifted.")
