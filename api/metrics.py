"""The GraphQL endpoint's metrics (defined with every other metric in services/metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from services.metrics import ERRORS, OPERATIONS


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
