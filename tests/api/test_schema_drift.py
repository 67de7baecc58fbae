"""I-1: schema.graphql at the repository root is the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_graphql_matches_the_code():
    exported = SCHEMA_FILE.read_text(encoding="utf-8")
    assert exported.rstrip("\n") == schema.as_str().rstrip("\n"), "schema.graphql is stale: run `PYTHONPATH=. python scripts/export_schema.py`"
