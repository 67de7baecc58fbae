"""Every model's settings parser, and the parsed settings as stored (a model is off until its
settings enable it, C-11)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.order_dividend import OrderDividendSettings
from domain.queue_rebate_settings import PluginSettings
from domain.union_queue import UnionQueueSettings
from store.catalog import settings_row
from store.db import Connection

# model name → settings parser
SETTINGS_MODELS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "queue_rebate": PluginSettings.parse,
    "order_dividend": OrderDividendSettings.parse,
    "union_queue": UnionQueueSettings.parse,
}


async def load_settings(model: str, conn: Connection | None = None) -> Any:
    """The parsed settings of a model (defaults: off) as of this transaction."""
    row = await settings_row(model, conn)
    return SETTINGS_MODELS[model](row.values if row else {})
