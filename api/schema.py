"""The schema: each business area contributes its Query / Mutation / Subscription fields."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.catalog import resolvers as catalog
from api.ledger import resolvers as ledger
from api.members import resolvers as members
from api.metrics import OperationMetrics
from api.orders import resolvers as orders
from api.payouts import resolvers as payouts
from api.queue_rebate import resolvers as queue_rebate
from api.scalars import SCALARS
from api.settings import resolvers as settings

Query = merge_types("Query", (members.Query, queue_rebate.Query, orders.Query, ledger.Query, settings.Query))
Mutation = merge_types("Mutation", (members.Mutation, catalog.Mutation, settings.Mutation, orders.Mutation))


def is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by a bug (any non-GraphQL exception); keep validation, auth and coded errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def extensions() -> list[object]:
    return [
        QueryDepthLimiter(max_depth=10),
        MaxAliasesLimiter(max_alias_count=30),
        MaxTokensLimiter(max_token_count=2000),
        ParserCache(maxsize=512),
        ValidationCache(maxsize=512),
        MaskErrors(should_mask_error=is_unexpected),
        OperationMetrics(),
    ]


schema = strawberry.Schema(
    query=Query, mutation=Mutation, subscription=payouts.Subscription, extensions=extensions(), config=StrawberryConfig(scalar_map=SCALARS),
)
