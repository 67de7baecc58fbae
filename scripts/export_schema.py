"""Write schema.graphql and settings.schema.json from the code: `PYTHONPATH=. python scripts/export_schema.py`
(the drift tests check both)."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema
from domain.model_settings import json_schema_text

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "schema.graphql"
SETTINGS_TARGET = ROOT / "settings.schema.json"


def main() -> None:
    TARGET.write_text(schema.as_str() + "\n", encoding="utf-8")
    SETTINGS_TARGET.write_text(json_schema_text(), encoding="utf-8")
    print(f"wrote {TARGET} and {SETTINGS_TARGET}")


if __name__ == "__main__":
    main()
