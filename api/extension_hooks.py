"""Schema extension hooks resolved once per extension class instead of once per request.

Strawberry builds every extension's hooks for each stage of each operation: it inspects the hook
function and wraps it in a new `contextmanager` (a `functools.wraps` copy) per request, for the
eight extensions of our schema and the four stages whether an extension has the hook or not. On
a payment callback that is a noticeable share of the GraphQL layer's cost. `HookRunner` keeps
strawberry's semantics (the same generator runs around the stage, exceptions reach it the same
way) and only caches what does not change: which class has which hook, and its context manager
factory. A hook that is a plain function (not a generator) goes through strawberry's own path.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any, Literal

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

Plan = tuple[Callable[..., Any], bool] | Literal[False] | None


@functools.cache
def _plan(cls: type[SchemaExtension], stage: str) -> Plan:
    """None: the class has no hook for the stage; False: strawberry's own handling; else the
    context manager factory (called with the extension) and whether it is async."""
    hook = getattr(cls, stage)
    if hook is getattr(SchemaExtension, stage):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    return False


class _CachedHooks(ExtensionContextManagerBase):
    __slots__ = ()

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        plan = _plan(type(extension), self.HOOK_NAME)
        if plan is None:
            return None
        if plan is False:
            return super().get_hook(extension)
        factory, is_async = plan
        return WrappedHook(extension=extension, hook=types.MethodType(factory, extension), is_async=is_async)


class _Operation(_CachedHooks, OperationContextManager):
    pass


class _Validation(_CachedHooks, ValidationContextManager):
    pass


class _Parsing(_CachedHooks, ParsingContextManager):
    pass


class _Executing(_CachedHooks, ExecutingContextManager):
    pass


class HookRunner(SchemaExtensionsRunner):
    """The schema's extensions runner (`RebateSchema.create_extensions_runner`)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
