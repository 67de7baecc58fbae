"""Per-statement timing collected in the benchmark's own process (what pg_stat_statements would
show, without the server's configuration): every asyncpg `fetch` / `execute` / `executemany` is
timed by its SQL text, IN lists folded to one mark, so that a phase's statements can be compared
between two runs (a benchmark's `--profile`)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

_NUMBER = re.compile(r"\$\d+")
_LIST = re.compile(r"\$(?:, \$){2,}")
_ROWS = re.compile(r"(\([^()]*\))(?:, \1)+")


@lru_cache(maxsize=4096)
def shape(sql: str) -> str:
    """The statement with its IN lists and multi-row VALUES folded (`IN ($, …)`, `VALUES (…), …`)."""
    return _ROWS.sub(r"\1, …", _LIST.sub("$, …", _NUMBER.sub("$", sql)))


class Statements:
    """Seconds and calls (rows, for executemany) per statement shape."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.sample: dict[str, tuple[str, tuple[Any, ...]]] = {}

    def add(self, sql: str, args: tuple[Any, ...], seconds: float, calls: int = 1) -> None:
        key = shape(sql)
        self.seconds[key] += seconds
        self.calls[key] += calls
        self.sample.setdefault(key, (sql, args))

    def top(self, n: int = 12) -> list[tuple[str, float, int]]:
        return sorted(((k, s, self.calls[k]) for k, s in self.seconds.items()), key=lambda t: -t[1])[:n]


@contextmanager
def timed(into: Statements) -> Iterator[Statements]:
    """Time every asyncpg statement of this process into `into` while the block runs."""
    from asyncpg.connection import Connection

    originals = {name: getattr(Connection, name) for name in ("fetch", "execute", "executemany")}

    def wrap(name: str) -> Any:
        original = originals[name]

        async def run(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(self, query, *args, **kwargs)
            finally:
                rows = len(args[0]) if name == "executemany" and args else 1
                into.add(query, args[0][0] if name == "executemany" and args and args[0] else args, time.perf_counter() - t0, rows)

        return run

    for name in originals:
        setattr(Connection, name, wrap(name))
    try:
        yield into
    finally:
        for name, original in originals.items():
            setattr(Connection, name, original)
