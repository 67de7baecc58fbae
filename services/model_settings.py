"""Every model's settings parser, and the parsed settings as stored (a model is off until its
settings enable it, C-11)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.model_settings import MODEL_SETTINGS
from store.catalog import settings_row
from store.db import Connection

# model name → settings parser (the pydantic classes of domain/model_settings.py)
SETTINGS_MODELS: dict[str, Callable[[Mapping[str, Any]], Any]] = {name: kind.parse for name, kind in MODEL_SETTINGS.items()}


async def load_settings(model: str, conn: Connection | None = None) -> Any:
    """The parsed settings of a model (defaults: off) as of this transaction."""
    row = await settings_row(model, conn)
    return SETTINGS_MODELS[model](row.values if row else {})
