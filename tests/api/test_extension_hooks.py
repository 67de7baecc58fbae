"""api/extension_hooks.py: the cached hooks run exactly as strawberry's own (order, errors, plain functions)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from api.extension_hooks import HookRunner

calls: list[str] = []


class Generators(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        calls.append("operation:enter")
        yield
        calls.append("operation:exit")

    def on_parse(self) -> Iterator[None]:
        calls.append("parse")
        yield

    def on_validate(self) -> Iterator[None]:
        calls.append("validate")
        yield


class AsyncGenerator(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        calls.append("execute:enter")
        try:
            yield
        except Exception as exc:  # the stage's error reaches the hook as it does with strawberry's runner
            calls.append(f"execute:error {type(exc).__name__}")
            raise
        calls.append("execute:exit")


class PlainFunction(SchemaExtension):
    def on_operation(self) -> None:  # type: ignore[override]
        calls.append("plain")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class Cached(strawberry.Schema):
    def create_extensions_runner(self, execution_context: ExecutionContext, extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)


EXTENSIONS = [Generators, AsyncGenerator, PlainFunction]


async def run(schema_class: type[strawberry.Schema], query: str) -> tuple[list[str], object]:
    calls.clear()
    result = await schema_class(query=Query, extensions=EXTENSIONS).execute(query)
    return list(calls), result


@pytest.mark.parametrize("query", ["{ hello }", "{ nope }", "{"])
async def test_cached_hooks_run_as_strawberrys_own(query: str) -> None:
    theirs, their_result = await run(strawberry.Schema, query)
    ours, our_result = await run(Cached, query)
    assert ours == theirs
    assert getattr(our_result, "data", None) == getattr(their_result, "data", None)
    assert [e.message for e in getattr(our_result, "errors", None) or []] == [e.message for e in getattr(their_result, "errors", None) or []]


async def test_every_hook_ran_once_per_operation() -> None:
    for _ in range(2):  # the second operation uses the cached plans
        ours, result = await run(Cached, "{ hello }")
        assert ours == ["operation:enter", "plain", "parse", "validate", "execute:enter", "execute:exit", "operation:exit"]
        assert getattr(result, "data", None) == {"hello": "world"}
