"""The settings classes (domain/model_settings.py) are the single source of the settings' fields:
settings.schema.json is their export, and the GraphQL settings types list the same fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.queue_rebate import settings as gql
from domain.model_settings import json_schema, json_schema_text

SETTINGS_SCHEMA_FILE = Path(__file__).resolve().parents[2] / "settings.schema.json"


def test_settings_schema_json_matches_the_code():
    exported = SETTINGS_SCHEMA_FILE.read_text(encoding="utf-8")
    assert exported == json_schema_text(), "settings.schema.json is stale: run `PYTHONPATH=. python scripts/export_schema.py`"


def _wire_names(graphql_type: type) -> set[str]:
    """The snake_case names a GraphQL type's fields stand for (a field renamed on the wire, like
    a lottery's `min`, by that name)."""
    return {f.graphql_name or f.python_name for f in graphql_type.__strawberry_definition__.fields}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("graphql_type", "settings_class"),
    [
        (gql.EntityQueueRebateInput, "EntitySettings"),
        (gql.EntityQueueRebate, "EntitySettings"),
        (gql.LotteryInput, "LotterySettings"),
        (gql.Lottery, "LotterySettings"),
        (gql.RewardPeriodInput, "Period"),
        (gql.RewardPeriod, "Period"),
        (gql.RandomReturnInput, "RandomReturnSettings"),
        (gql.RandomReturn, "RandomReturnSettings"),
        (gql.CumulativeTierInput, "Tier"),
        (gql.CumulativeTier, "Tier"),
        (gql.QueueRebateReset, "ResetSettings"),
        (gql.QueueRebateSettings, "PluginSettings"),
    ],
)
def test_graphql_settings_types_have_the_settings_class_fields(graphql_type, settings_class):
    fields = set(json_schema()["$defs"][settings_class]["properties"])
    extra = {"version"} if graphql_type is gql.QueueRebateSettings else set()
    assert _wire_names(graphql_type) == fields | extra
