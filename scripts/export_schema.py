"""Write schema.graphql from the code: `PYTHONPATH=. python scripts/export_schema.py` (the drift test checks it)."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema

TARGET = Path(__file__).resolve().parent.parent / "schema.graphql"


def main() -> None:
    TARGET.write_text(schema.as_str() + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
