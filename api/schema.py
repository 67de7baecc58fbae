"""The schema: each business area contributes its Query / Mutation / Subscription fields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from starlette.websockets import WebSocket
from strawberry.extensions import AddValidationRules, MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, SchemaExtension, ValidationCache
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from api.appreciation import resolvers as appreciation
from api.catalog import resolvers as catalog
from api.distribution import resolvers as distribution
from api.extension_hooks import HookRunner
from api.ledger import resolvers as ledger
from api.liabilities import resolvers as liabilities
from api.limits import TextLiteralRule
from api.members import resolvers as members
from api.metrics import OperationMetrics
from api.operations import resolvers as operations
from api.orders import resolvers as orders
from api.payouts import resolvers as payouts
from api.points_dividend import resolvers as points_dividend
from api.queue_rebate import resolvers as queue_rebate
from api.scalars import SCALARS
from api.settings import resolvers as settings
from api.tickets import resolvers as tickets
from api.union_queue import resolvers as union_queue
from api.wallet import resolvers as wallet
from services import queries

Query = merge_types("Query", (members.Query, queue_rebate.Query, orders.Query, ledger.Query, settings.Query, union_queue.Query, wallet.Query, liabilities.Query,
                              distribution.Query, operations.Query, points_dividend.Query, appreciation.Query))
Mutation = merge_types("Mutation", (members.Mutation, catalog.Mutation, settings.Mutation, orders.Mutation, queue_rebate.Mutation, union_queue.Mutation, wallet.Mutation,
                                    distribution.Mutation, operations.Mutation, points_dividend.Mutation, appreciation.Mutation))
Subscription = merge_types("Subscription", (payouts.Subscription, tickets.Subscription))


def is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by a bug (any non-GraphQL exception); keep validation, auth and coded errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class SubscriptionsOverWebSocket(SchemaExtension):
    """A subscription sent over HTTP is refused (400) instead of running as a one-shot query."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.operation_type is OperationType.SUBSCRIPTION and not isinstance(getattr(ctx.context, "request", None), WebSocket):
            raise InvalidOperationTypeError(OperationType.SUBSCRIPTION)
        yield


class QueryReads(SchemaExtension):
    """A query's reads share one database connection (`queries.read_scope`), taken at its first
    read and given back once when the operation ends (mutations write in their own transactions)."""

    async def on_execute(self) -> AsyncIterator[None]:
        if self.execution_context.operation_type is not OperationType.QUERY:
            yield
            return
        async with queries.read_scope():
            yield


MUTATION_NEUTRAL = (SubscriptionsOverWebSocket, QueryReads)
"""Extensions that do nothing to a mutation over HTTP (for api/prepared.py)."""

# The depth and alias limiters are validation rules, and the rules are part of ValidationCache's
# key: a limiter built per request brings new rule classes and never hits the cache. So the rules
# are built once here and every request's extension adds the same ones.
LIMIT_RULES = [*QueryDepthLimiter(max_depth=10).validation_rules, *MaxAliasesLimiter(max_alias_count=30).validation_rules, TextLiteralRule]
PRODUCTION_RULES = [*LIMIT_RULES, NoSchemaIntrospectionCustomRule]


def _extensions(rules: list[type[ASTValidationRule]]) -> list[Any]:
    return [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaskErrors(should_mask_error=is_unexpected),
        SubscriptionsOverWebSocket,
        QueryReads,
        OperationMetrics,
    ]


class RebateSchema(strawberry.Schema):
    """Logs only unexpected errors: refused inputs and denied access are answers, not incidents.
    Its extensions' hooks are looked up once per extension class (api/extension_hooks.py)."""

    def create_extensions_runner(self, execution_context: ExecutionContext, extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        super().process_errors([e for e in errors if is_unexpected(e)], execution_context)  # type: ignore[arg-type]


def build_schema(production: bool = False) -> RebateSchema:
    """The schema; in production without introspection and without "did you mean" suggestions."""
    return RebateSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=_extensions(PRODUCTION_RULES if production else LIMIT_RULES),
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=production),
    )


schema = build_schema()
