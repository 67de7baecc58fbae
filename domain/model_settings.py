"""Every model's settings class by model name: the one registry the services validate
`setSettings(model, values)` with and `settings.schema.json` is exported from.

A model's settings are one frozen pydantic dataclass (see domain/settings.py) with a classmethod
`parse(values, base=None)`; a new model (points_dividend, appreciation, distribution, compliance …)
adds its class to MODEL_SETTINGS, and, if products, stores or cashiers carry settings of their
own for it, that class to ENTITY_SETTINGS. Then run `PYTHONPATH=. python scripts/export_schema.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, Self

from pydantic.json_schema import models_json_schema

from domain.appreciation import AppreciationSettings
from domain.compliance import ComplianceSettings
from domain.distribution import DistributionSettings
from domain.member_levels import MemberLevelSettings
from domain.order_dividend import OrderDividendSettings
from domain.points_dividend_settings import PointsDividendSettings
from domain.queue_rebate_settings import EntitySettings, PluginSettings
from domain.union_queue import UnionQueueSettings
from domain.wallet import WalletSettings


class SettingsClass(Protocol):
    """What a model's settings class offers: `parse` over the stored values (C-8)."""

    @classmethod
    def parse(cls, values: Mapping[str, Any], base: Self | None = None) -> Self: ...


MODEL_SETTINGS: dict[str, type[SettingsClass]] = {
    "queue_rebate": PluginSettings,
    "order_dividend": OrderDividendSettings,
    "union_queue": UnionQueueSettings,
    "appreciation": AppreciationSettings,
    "member_levels": MemberLevelSettings,  # M-2: the configured member levels
    "wallet": WalletSettings,
    "distribution": DistributionSettings,
    "compliance": ComplianceSettings,
    "points_dividend": PointsDividendSettings,
}
"""Model name → its platform settings; a model is off until its settings enable it (C-11)."""

ENTITY_SETTINGS: dict[str, type[Any]] = {
    "queue_rebate": EntitySettings,
}
"""Model name → the settings a product, store or cashier carries for it (QR-20)."""

SCHEMA_ID = "settings.schema.json"


def json_schema() -> dict[str, Any]:
    """One JSON Schema (draft 2020-12) for the settings of every model: `models.<name>` is what
    `setSettings(model: <name>)` accepts, `entities.<name>` a product's / store's / cashier's."""
    classes = [*MODEL_SETTINGS.values(), *ENTITY_SETTINGS.values()]
    refs, schema = models_json_schema([(cls, "validation") for cls in classes], ref_template="#/$defs/{model}")

    def ref(cls: type[Any]) -> dict[str, Any]:
        return dict(refs[(cls, "validation")])

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Rebate engine settings",
        "description": "Generated from domain/model_settings.py; values are JSON as in event files and setSettings. Ratios are percentage strings.",
        "type": "object",
        "properties": {
            "models": {"type": "object", "properties": {name: ref(cls) for name, cls in MODEL_SETTINGS.items()}, "additionalProperties": False},
            "entities": {"type": "object", "properties": {name: ref(cls) for name, cls in ENTITY_SETTINGS.items()}, "additionalProperties": False},
        },
        "$defs": schema.get("$defs", {}),
    }


def json_schema_text() -> str:
    """The exported file's text (stable: the drift test compares it byte for byte)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
