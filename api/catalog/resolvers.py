"""Mutations of the catalog area (staff only)."""

from __future__ import annotations

import strawberry

from api.catalog.types import (
    BulkEnableProductsPayload,
    Cashier,
    CashierInput,
    CashierPayload,
    Product,
    ProductInput,
    ProductPayload,
    Store,
    StoreInput,
    StorePayload,
)
from api.errors import UserError, check_lengths, user_error
from api.permissions import IsStaff
from api.queue_rebate.settings import EntityQueueRebateInput, settings_values
from domain.errors import DomainError
from services import catalog


def _error(exc: DomainError, settings: EntityQueueRebateInput | None) -> UserError:
    """The payload error; a QR-20 setting's field is named by its GraphQL input path."""
    error = user_error(exc)
    if settings is not None and exc.field is not None and exc.field.startswith("queue_rebate"):
        error.field = settings.field_path(exc.field)
    return error


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsStaff], description="M-3: create or update a store and its QR-20 settings (replaced whole).")
    async def upsert_store(self, input: StoreInput) -> StorePayload:
        try:
            check_lengths(name=(input.name, 128))
            row = await catalog.upsert_store(
                str(input.id), recruiter=input.recruiter, name=input.name, queue_rebate=settings_values(input.queue_rebate), region=input.region
            )
        except DomainError as exc:
            return StorePayload(store=None, errors=[_error(exc, input.queue_rebate)])
        return StorePayload(store=Store.of(row), errors=[])

    @strawberry.mutation(permission_classes=[IsStaff], description="M-3: create or update a cashier of a store and its QR-20 settings (replaced whole).")
    async def upsert_cashier(self, input: CashierInput) -> CashierPayload:
        try:
            row = await catalog.upsert_cashier(str(input.id), str(input.store), queue_rebate=settings_values(input.queue_rebate))
        except DomainError as exc:
            return CashierPayload(cashier=None, errors=[_error(exc, input.queue_rebate)])
        return CashierPayload(cashier=Cashier.of(row), errors=[])

    @strawberry.mutation(permission_classes=[IsStaff], description="M-4: create or update a product and its QR-20 settings (replaced whole).")
    async def upsert_product(self, input: ProductInput) -> ProductPayload:
        try:
            row = await catalog.upsert_product(
                str(input.id),
                input.source.value,
                store=input.store,
                listed=input.listed,
                queue_rebate=settings_values(input.queue_rebate),
            )
        except DomainError as exc:
            return ProductPayload(product=None, errors=[_error(exc, input.queue_rebate)])
        return ProductPayload(product=Product.of(row), errors=[])

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="QR-19 一键启用: switch the queue rebate on (or off) for every existing SELF_OPERATED / SUPPLIER / SUPPLY_CHAIN product "
        "(their other settings are kept; store products are left alone).",
    )
    async def bulk_enable_products(self, enabled: bool = True) -> BulkEnableProductsPayload:
        try:
            count = await catalog.bulk_enable_products(enabled)
        except DomainError as exc:
            return BulkEnableProductsPayload(count=0, errors=[user_error(exc)])
        return BulkEnableProductsPayload(count=count, errors=[])
