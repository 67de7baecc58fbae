"""Queries of the ledger area."""

from __future__ import annotations

import strawberry

from api.ledger.types import AssetCheck, LedgerCheck, Transfer
from api.pagination import Connection, PageInfo, int_cursor, page_size
from api.permissions import CanReadMember, IsAdmin
from services import queries


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanReadMember], description="A member's transfers (accounts member:<id>:…), oldest first.")
    async def ledger(self, member: strawberry.ID, after: str | None = None, first: int | None = None) -> Connection[Transfer]:
        size, prefix = page_size(first), f"member:{member}:"
        rows = await queries.ledger(prefix, after_id=int_cursor(after), limit=size + 1)
        # the service matches with LIKE: drop rows a "_" or "%" in an id let through
        items = [Transfer.of(r) for r in rows[:size] if r["source"].startswith(prefix) or r["target"].startswith(prefix)]
        end = str(rows[:size][-1]["id"]) if rows else None
        return Connection(items=items, page_info=PageInfo(end_cursor=end, has_next_page=len(rows) > size))

    @strawberry.field(permission_classes=[IsAdmin], description="C-5: every asset sums to zero over all accounts.")
    async def ledger_check(self) -> LedgerCheck:
        checks = await queries.ledger_check()
        assets = [AssetCheck(asset=a, total=total, drift=drift) for a, (total, drift) in sorted(checks.items())]
        return LedgerCheck(assets=assets, zero_sum=all(c.total == 0 and c.drift == 0 for c in assets))
