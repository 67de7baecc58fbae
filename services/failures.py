"""FAILED inbox items for ops: list them, count them, and put one back to PENDING after a fix."""

from __future__ import annotations

from typing import Any

from store import inbox


async def failed_items(after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """FAILED items after the item id `after` (id order): queue, event key and type, error, attempts, time."""
    return await inbox.failed_items(after, limit)


async def count_failed() -> int:
    return await inbox.count_failed()


async def retry_failed(item_id: int) -> str | None:
    """Back to PENDING (attempts reset): it is settled at its queue's next drain, before the
    items that came after it and are still pending. Returns its queue; None: no FAILED item `item_id`."""
    return await inbox.retry_failed(item_id)
