"""Catalog types and inputs."""

from __future__ import annotations

from typing import Any

import strawberry

from api.errors import UserError, mirror
from api.queue_rebate.settings import EntityQueueRebate, EntityQueueRebateInput
from domain.queue_rebate_settings import Source

ProductSource = mirror(Source, "ProductSource", "M-4: 自营 SELF_OPERATED, 供应商 SUPPLIER, 聚合供应链 SUPPLY_CHAIN, 门店商品 STORE.")


@strawberry.type(description="M-3: a store (门店), with the member who recruited it.")
class Store:
    id: strawberry.ID
    name: str | None
    recruiter: strawberry.ID | None
    queue_rebate: EntityQueueRebate
    region: str | None

    @classmethod
    def of(cls, row: Any) -> Store:
        return cls(id=row.id, name=row.name, recruiter=row.recruiter_id, queue_rebate=EntityQueueRebate.of(row.queue_rebate), region=row.region)


@strawberry.type(description="M-3: a cashier (收银台) of a store.")
class Cashier:
    id: strawberry.ID
    store: strawberry.ID
    queue_rebate: EntityQueueRebate

    @classmethod
    def of(cls, row: Any) -> Cashier:
        return cls(id=row.id, store=row.store_id, queue_rebate=EntityQueueRebate.of(row.queue_rebate))


@strawberry.type(description="M-4: a product, its source and its own queue rebate settings.")
class Product:
    id: strawberry.ID
    source: ProductSource  # type: ignore[valid-type]
    store: strawberry.ID | None
    listed: bool
    queue_rebate: EntityQueueRebate

    @classmethod
    def of(cls, row: Any) -> Product:
        return cls(
            id=row.id,
            source=ProductSource(row.source),
            store=row.store_id,
            listed=row.listed,
            queue_rebate=EntityQueueRebate.of(row.queue_rebate),
        )


@strawberry.input
class StoreInput:
    id: strawberry.ID
    name: str | None = None
    recruiter: strawberry.ID | None = None
    queue_rebate: EntityQueueRebateInput | None = None
    region: str | None = None  # "province/city/district" (DR-5)


@strawberry.input
class CashierInput:
    id: strawberry.ID
    store: strawberry.ID
    queue_rebate: EntityQueueRebateInput | None = None


@strawberry.input(description="M-4: a STORE product names its store, and its queueRebate is the store-product level of QR-10; other sources have no store.")
class ProductInput:
    id: strawberry.ID
    source: ProductSource  # type: ignore[valid-type]
    store: strawberry.ID | None = None
    listed: bool = True
    queue_rebate: EntityQueueRebateInput | None = None


@strawberry.type
class StorePayload:
    store: Store | None
    errors: list[UserError]


@strawberry.type
class CashierPayload:
    cashier: Cashier | None
    errors: list[UserError]


@strawberry.type
class ProductPayload:
    product: Product | None
    errors: list[UserError]


@strawberry.type
class BulkEnableProductsPayload:
    count: int = strawberry.field(description="How many mall products were switched.")
    errors: list[UserError]
