"""Every model's settings parser, and the parsed settings as stored (a model is off until its
settings enable it, C-11)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from domain.model_settings import MODEL_SETTINGS
from store.catalog import settings_values
from store.db import Connection

# model name → settings parser (the pydantic classes of domain/model_settings.py)
SETTINGS_MODELS: dict[str, Callable[[Mapping[str, Any]], Any]] = {name: kind.parse for name, kind in MODEL_SETTINGS.items()}


_PARSED: dict[str, tuple[Any, Any]] = {}  # model → (the stored values, their parsed settings)


async def load_settings(model: str, conn: Connection | None = None) -> Any:
    """The parsed settings of a model (defaults: off) as of this transaction. The row is read each
    time; its parse (the settings classes are frozen) is kept per model across batches and calls,
    and made again whenever the stored values differ from those it was made of."""
    once = _ONCE.get()
    if once is not None and once[0] is conn and model in once[1]:
        return once[1][model]
    stored = await settings_values(model, conn)
    values = stored if stored is not None else {}
    cached = _PARSED.get(model)
    if cached is not None and cached[0] == values:
        parsed = cached[1]
    else:
        parsed = SETTINGS_MODELS[model](values)
        _PARSED[model] = (copy.deepcopy(values), parsed)
    if once is not None and once[0] is conn:
        once[1][model] = parsed
    return parsed


_ONCE: ContextVar[tuple[Connection, dict[str, Any]] | None] = ContextVar("settings_read_once", default=None)


@contextmanager
def read_once(conn: Connection) -> Iterator[None]:
    """Within the block, `load_settings` on `conn` (one transaction settling several queues'
    batches) reads each model's settings row once: every batch of the transaction uses the same."""
    token = _ONCE.set((conn, {}))
    try:
        yield
    finally:
        _ONCE.reset(token)
