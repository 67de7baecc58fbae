"""Keep the planner's statistics of the project's tables current (PostgreSQL; see store/statistics.py).

The worker runs `keep_statistics` every few seconds (workers/main.py): one catalog read, then an
ANALYZE of each table that changed by 50 rows + 10 % since its last one (autovacuum's rule), so a
server without autovacuum plans the intake and settlement lookups on a grown table as well as on a
small one. REBATE_KEEP_STATISTICS=off leaves it to the server (autovacuum, or the operator's own
schedule).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from services import metrics
from services.runtime import switch
from store import statistics as store

log = logging.getLogger("rebate.statistics")


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """REBATE_KEEP_STATISTICS: `on` (the default) or `off`."""
    return switch("REBATE_KEEP_STATISTICS", environ)


async def keep_statistics() -> list[str]:
    """ANALYZE the project's stale tables, most changed first; returns them (none elsewhere than on PostgreSQL)."""
    stale = await store.stale_tables(store.project_tables())
    for table in stale:
        started = time.perf_counter()
        await store.analyze(table)
        metrics.ANALYZED.labels(table).inc()
        log.info("analyzed %s in %.0f ms (planner statistics)", table, (time.perf_counter() - started) * 1000)
    return stale
