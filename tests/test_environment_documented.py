"""Every environment variable the code reads is documented in the README and in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["api", "cli", "services", "store", "workers", "bench", "tests/conftest.py", "tests/api/conftest.py"]
READS = re.compile(r"""(?:environ\.get|environ\.setdefault|getenv|environ\[|environ\.pop|whole_number|switch)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
SHELL = re.compile(r"\$\{([A-Z][A-Z0-9_]+):-")  # ${NAME:-default}: read from the environment
NOT_CONFIGURATION = {"PATH"}


def variables_read() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else path.rglob("*.py"):
            found |= set(READS.findall(file.read_text(encoding="utf-8")))
    for file in ("Procfile", "run"):
        found |= set(SHELL.findall((ROOT / file).read_text(encoding="utf-8")))
    return found - NOT_CONFIGURATION


def test_the_scan_finds_the_known_variables():
    assert {"DATABASE_URL", "REDIS_URL", "HOST", "PORT", "WEB_CONCURRENCY", "REBATE_WS_ORIGINS", "REBATE_ENV",
            "REBATE_SETTLE_LINGER_MS", "REBATE_MAX_BODY", "REBATE_GROUP_COMMIT"} <= variables_read()  # also through services.runtime's readers


def test_every_variable_read_is_in_the_readme_and_env_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    missing_readme = sorted(v for v in variables_read() if f"`{v}`" not in readme)
    missing_example = sorted(v for v in variables_read() if not re.search(rf"^#? ?{v}=", example, re.M))
    assert missing_readme == [] and missing_example == [], (missing_readme, missing_example)


def test_the_readme_keeps_two_set_up_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["./run", "./run test"]
