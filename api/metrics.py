"""The GraphQL endpoint's metrics (defined with every other metric in services/metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import Gauge
from strawberry.extensions import SchemaExtension

from services.metrics import ERRORS, OPERATIONS

LIABILITY_OUTSTANDING = Gauge("rebate_liability_outstanding_entitlements", "I-5: entitlements still owed, per queue", ["queue"])
LIABILITY_UNPAID = Gauge("rebate_liability_unpaid", "I-5: what the outstanding entitlements are still owed, per queue", ["queue"])
LIABILITY_POOL = Gauge("rebate_liability_pool_balance", "I-5: the pool balance, per queue or pool", ["queue"])
LIABILITY_PAID_7D = Gauge("rebate_liability_paid_7d", "I-5: what left the liability in the trailing 7 days", ["queue"])
LIABILITY_WAIT = Gauge("rebate_liability_expected_wait_days", "I-5: the last WAITING entitlement's expected wait (-1: no payouts to go by)", ["queue"])


def set_liability_gauges(rows: list[Any]) -> None:
    """The liability report (services.liabilities.report) as gauges, refreshed on every scrape."""
    for row in rows:
        LIABILITY_OUTSTANDING.labels(row.queue).set(row.outstanding)
        LIABILITY_UNPAID.labels(row.queue).set(row.unpaid)  # prometheus_client takes Decimal
        LIABILITY_POOL.labels(row.queue).set(row.pool)  # prometheus_client takes Decimal
        LIABILITY_PAID_7D.labels(row.queue).set(row.last_7_days.paid)  # prometheus_client takes Decimal
        LIABILITY_WAIT.labels(row.queue).set(-1 if row.expected_wait_days is None else row.expected_wait_days)


class OperationMetrics(SchemaExtension):
    """Times every operation and counts those with errors, by operation type."""

    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        result = self.execution_context.result
        record_operation(_kind(self), time.perf_counter() - start, bool(result is not None and getattr(result, "errors", None)))


def record_operation(kind: str, seconds: float, failed: bool) -> None:
    """One operation's duration, and its error if it had one (also for prepared operations, api/prepared.py)."""
    OPERATIONS.labels(kind).observe(seconds)
    if failed:
        ERRORS.labels(kind).inc()


def _kind(extension: SchemaExtension) -> str:
    try:
        return extension.execution_context.operation_type.value
    except Exception:  # a document that did not parse has no operation type
        return "invalid"
