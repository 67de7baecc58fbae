"""Prometheus metrics of the GraphQL endpoint (served at /metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

OPERATIONS = Histogram("rebate_graphql_operation_seconds", "GraphQL operation duration", ["type"])
ERRORS = Counter("rebate_graphql_errors_total", "GraphQL operations that ended with top-level errors", ["type"])


class OperationMetrics(SchemaExtension):
    """Times every operation and counts those with errors, by operation type."""

    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        kind = _kind(self)
        OPERATIONS.labels(kind).observe(time.perf_counter() - start)
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            ERRORS.labels(kind).inc()


def _kind(extension: SchemaExtension) -> str:
    try:
        return extension.execution_context.operation_type.value
    except Exception:  # a document that did not parse has no operation type
        return "invalid"
