"""The settings query and mutation; values use the snake_case names of SPEC I-6."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError, coded, user_error
from api.permissions import IsStaff
from domain.errors import DomainError, ErrorCode
from services import catalog, queries


@strawberry.type(description="A model's stored settings; `version` grows with every accepted change.")
class Settings:
    model: str
    version: int
    values: JSON


@strawberry.type
class SettingsPayload:
    settings: Settings | None
    errors: list[UserError]


def _check_model(model: str) -> None:
    if model not in catalog.SETTINGS_MODELS:
        raise coded(ErrorCode.UNKNOWN_MODEL, f"unknown model {model!r}; one of {', '.join(catalog.SETTINGS_MODELS)}")


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsStaff], description="The stored settings values of a model, e.g. queue_rebate ({} when never set).")
    async def settings(self, model: str) -> JSON:
        _check_model(model)
        values, _ = await queries.stored_settings(model)
        return values


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="A partial update of a model's settings (snake_case keys, decimals as strings), validated over the stored ones or refused whole.",
    )
    async def set_settings(self, model: str, values: JSON) -> SettingsPayload:
        try:
            row: Any = await catalog.set_settings(model, values)  # type: ignore[arg-type]
        except DomainError as exc:
            prefix = None if exc.field in ("model", "values") else "values"  # a setting's field is rooted in `values`
            return SettingsPayload(settings=None, errors=[user_error(exc, camel=False, prefix=prefix)])
        return SettingsPayload(settings=Settings(model=row.model, version=row.version, values=dict(row.values)), errors=[])
