"""Reads the API needs that `services.queries` does not offer yet; kept here, in one place, so
they can move to the service layer unchanged (see the API notes in the report)."""

from __future__ import annotations

from typing import Any

from store.models import Member, ModelSettings


async def members(ids: list[str]) -> dict[str, Member]:
    """Member rows (M-1 profile fields) by id."""
    return {m.id: m for m in await Member.filter(id__in=ids)}


async def stored_settings(model: str) -> tuple[dict[str, Any], int]:
    """A model's stored settings values and version ({} and 0 when never set)."""
    row = await ModelSettings.get_or_none(model=model)
    return (dict(row.values), row.version) if row else ({}, 0)
