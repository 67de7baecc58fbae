"""Every model's settings parser, and the parsed settings as stored (a model is off until its
settings enable it, C-11)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from domain.model_settings import MODEL_SETTINGS
from store.catalog import settings_row
from store.db import Connection

# model name → settings parser (the pydantic classes of domain/model_settings.py)
SETTINGS_MODELS: dict[str, Callable[[Mapping[str, Any]], Any]] = {name: kind.parse for name, kind in MODEL_SETTINGS.items()}


_PARSED: dict[str, tuple[Any, Any]] = {}  # model → (the stored values, their parsed settings)


async def load_settings(model: str, conn: Connection | None = None) -> Any:
    """The parsed settings of a model (defaults: off) as of this transaction. The row is read each
    time; its parse (the settings classes are frozen) is kept per model across batches and calls,
    and made again whenever the stored values differ from those it was made of."""
    row = await settings_row(model, conn)
    values = row.values if row else {}
    cached = _PARSED.get(model)
    if cached is not None and cached[0] == values:
        return cached[1]
    parsed = SETTINGS_MODELS[model](values)
    _PARSED[model] = (copy.deepcopy(values), parsed)
    return parsed
